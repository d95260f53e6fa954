"""Who caused a change, recorded on every ledger entry and redemption."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who caused a change: an API key, a staff member, a customer, or the system itself."""

    type: str
    id: str | None = None
    role: str | None = None
    member_id: str | None = None  # set for customer tokens
    token_id: str | None = None  # set for staff and customer tokens, so logout can revoke

    @property
    def scope(self) -> str:
        return f"{self.type}:{self.id}"


SYSTEM = Actor("system")
