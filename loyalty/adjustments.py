"""Manual corrections of a member's points by staff or admins."""
from sqlalchemy import Row

from loyalty import ledger
from loyalty.actors import Actor
from loyalty.members import get_member


def adjust(member_id: str, points: int, reason: str, actor: Actor, location: str | None = None) -> Row:
    """Post an `adjustment` entry. A manual debit may not take the balance below zero."""
    get_member(member_id)
    return ledger.post_entry(member_id, "adjustment", points, actor, note=reason,
                             location=location, require_funds=points < 0)
