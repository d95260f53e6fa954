"""Stripe events parked until the member they wait for exists (filled in by the Stripe work)."""


def member_changed(member) -> None:
    """Apply, in this transaction, every parked event waiting for this member."""
