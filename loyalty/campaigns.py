"""Campaigns (filled in by the campaigns work)."""
from decimal import Decimal


def multiplier_for(member, moment) -> Decimal:
    """The largest multiplier of the campaigns treating the member at `moment` (1 if none)."""
    return Decimal(1)
