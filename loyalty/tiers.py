"""Tier rules (filled in by the tiers work)."""
from decimal import Decimal


def start_history(member) -> None:
    """Write the member's first tier-history row (reason `enrolled`)."""


def multiplier_at(member, moment) -> Decimal:
    return Decimal(1)


def after_purchase(member, purchase) -> None:
    """Upgrade (or evaluate) the member after a purchase."""


def after_refund(member, purchase) -> None:
    """Evaluate the member after a refund."""


def progress(member) -> dict:
    return {"qualifying_points": 0, "next_tier": None, "points_to_next_tier": None, "held_until": None}


def history(member_id) -> list[dict]:
    return []
