"""Repurchase rate by tier (API.md, Rules: Repurchase rate by tier).

For each member with a qualifying purchase in the period, p1 is the first one; the member
counts under the tier held just before p1 counted, as `immature` until p1 + window_days has
passed, and as a repurchaser when another qualifying purchase falls in [p1, p1 + window_days].
"""
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select

from loyalty import clock
from loyalty.models import Purchase
from loyalty.reports import source
from loyalty.reports.by_tier import Group, tier_rows, with_tier_held
from loyalty.reports.period import Period, check_window_days, median_days, rate
from loyalty.reports.sql import DAY_US, epoch_us, purchase_order, qualifying

COLUMNS = ["tier", "buyers", "repurchasers", "repurchase_rate", "median_days_to_repurchase", "immature"]


def report(period: Period, window_days: int = 90, now: datetime | None = None) -> list[dict]:
    """One row per tier by rank, then `none` (if it counts anyone), then `all`."""
    check_window_days(window_days)
    now = now or clock.now()
    members = with_tier_held(_first_purchases(period), "member_id", "occurred_at",
                             caused_by_purchase="purchase_id").subquery("members")
    return tier_rows(_tally_by_tier(members, window_days, now), _row)


def _first_purchases(period: Period):
    """Per member: p1 (first qualifying purchase in the period) and the next qualifying one after it.

    Purchases before the period cannot be p1 or come after it, so the scan starts at `from`.
    """
    ordering = purchase_order()
    ordered = (
        select(
            Purchase.member_id, Purchase.id.label("purchase_id"), Purchase.occurred_at,
            func.lead(Purchase.occurred_at).over(partition_by=Purchase.member_id, order_by=ordering)
            .label("next_at"),
            func.row_number().over(partition_by=Purchase.member_id, order_by=ordering).label("position"),
        )
        .where(qualifying(), Purchase.occurred_at >= period.start)
        .subquery("ordered")
    )
    return (select(ordered.c.member_id, ordered.c.purchase_id, ordered.c.occurred_at, ordered.c.next_at)
            .where(ordered.c.position == 1, ordered.c.occurred_at < period.end)
            .subquery("firsts"))


def _is_mature(members, window_days: int, now: datetime):
    return members.c.occurred_at <= now - timedelta(days=window_days)


def _repurchased(members, window_days: int, now: datetime):
    within_window = epoch_us(members.c.next_at) - epoch_us(members.c.occurred_at) <= window_days * DAY_US
    return and_(_is_mature(members, window_days, now), members.c.next_at.is_not(None), within_window)


def _tally_by_tier(members, window_days: int, now: datetime) -> dict[str | None, Group]:
    """tier_id -> buyers, repurchasers, immature and the repurchasers' gaps.

    One pass over one row per member (not per purchase), so the costly subquery runs once.
    """
    mature = case((_is_mature(members, window_days, now), 1), else_=0)
    gap = case((_repurchased(members, window_days, now),
                epoch_us(members.c.next_at) - epoch_us(members.c.occurred_at)), else_=None)
    groups: dict = {}
    for tier_id, is_mature, gap_us in source.execute(select(members.c.tier_id, mature, gap)):
        group = groups.setdefault(tier_id, Group(samples={"gaps": []}))
        group.counts.update(buyers=is_mature, repurchasers=int(gap_us is not None), immature=1 - is_mature)
        if gap_us is not None:
            group.samples["gaps"].append(int(gap_us))
    return groups


def _row(label: str, group: Group) -> dict:
    buyers, repurchasers = group.counts["buyers"], group.counts["repurchasers"]
    return {"tier": label, "buyers": buyers, "repurchasers": repurchasers,
            "repurchase_rate": rate(repurchasers, buyers),
            "median_days_to_repurchase": median_days(group.samples.get("gaps", [])),
            "immature": group.counts["immature"]}
