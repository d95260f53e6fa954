"""Repurchase rate by tier (API.md, Rules: Repurchase rate by tier).

For each member with a qualifying purchase in the period, p1 is the first one; the member
counts under the tier held just before p1 counted, as `immature` until p1 + window_days has
passed, and as a repurchaser when another qualifying purchase falls in [p1, p1 + window_days].
"""
from collections import Counter
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import and_, case, func, or_, select

from loyalty import clock
from loyalty.models import Purchase
from loyalty.reports import source
from loyalty.reports.by_tier import EVERY_TIER, Group, tier_rows, with_tier_held
from loyalty.reports.period import Period, check_window_days, days, rate
from loyalty.reports.sql import DAY_US, epoch_us, purchase_order, qualifying

COLUMNS = ["tier", "buyers", "repurchasers", "repurchase_rate", "median_days_to_repurchase", "immature"]


def report(period: Period, window_days: int = 90, now: datetime | None = None) -> list[dict]:
    """One row per tier by rank, then `none` (if it counts anyone), then `all`."""
    check_window_days(window_days)
    now = now or clock.now()
    members = with_tier_held(_first_purchases(period, window_days), "member_id", "occurred_at",
                             caused_by_purchase="purchase_id").subquery("members")
    return tier_rows(_tally_by_tier(members, window_days, now), _row)


def _first_purchases(period: Period, window_days: int):
    """Per member: p1 (first qualifying purchase in the period) and the next qualifying one after it
    if it falls within the window (else a later one or none: either way not a repurchase).

    Purchases before the period cannot be p1 or come after it, so the scan starts at `from`; nor
    can purchases after `to` + window_days be p1 or its repurchase, so it ends there.
    """
    ordering = purchase_order()
    ordered = (
        select(
            Purchase.member_id, Purchase.id.label("purchase_id"), Purchase.occurred_at,
            func.lead(Purchase.occurred_at).over(partition_by=Purchase.member_id, order_by=ordering)
            .label("next_at"),
            func.row_number().over(partition_by=Purchase.member_id, order_by=ordering).label("position"),
        )
        .where(qualifying(), Purchase.occurred_at >= period.start,
               Purchase.occurred_at <= period.end + timedelta(days=window_days))
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
    """tier_id -> buyers, repurchasers, immature, and twice the median of the repurchasers' gaps:
    within the tier, and the tier's part of everyone's (the `all` row adds the parts up).

    Added up in SQL, a row per tier: the members (a million at scale) never travel to Python. The
    gaps are ranked within their tier and among everyone's (NULLS LAST: the repurchasers' come
    first); twice the median is the sum of the two middle gaps (the middle one twice for an odd
    count), exact.
    """
    mature = case((_is_mature(members, window_days, now), 1), else_=0)
    gap = case((_repurchased(members, window_days, now),
                epoch_us(members.c.next_at) - epoch_us(members.c.occurred_at)), else_=None)
    rows = select(members.c.tier_id, mature.label("mature"), gap.label("gap_us")).subquery("buyers")
    by_gap = rows.c.gap_us.asc().nulls_last()
    ranked = select(
        rows,
        func.row_number().over(partition_by=rows.c.tier_id, order_by=by_gap).label("rank_in_tier"),
        func.count(rows.c.gap_us).over(partition_by=rows.c.tier_id).label("gaps_in_tier"),
        func.row_number().over(order_by=by_gap).label("rank_overall"),
        func.count(rows.c.gap_us).over().label("gaps_overall"),
    ).subquery("ranked")
    tally = (select(ranked.c.tier_id, func.sum(ranked.c.mature), func.count(ranked.c.gap_us), func.count(),
                    _twice_median_part(ranked.c.gap_us, ranked.c.rank_in_tier, ranked.c.gaps_in_tier),
                    _twice_median_part(ranked.c.gap_us, ranked.c.rank_overall, ranked.c.gaps_overall))
             .group_by(ranked.c.tier_id))
    groups: dict = {}
    for tier_id, buyers, repurchasers, counted, in_tier, overall in source.execute(tally):
        groups[tier_id] = Group(counts=Counter(
            buyers=int(buyers), repurchasers=int(repurchasers), immature=int(counted) - int(buyers),
            twice_median_in_tier=int(in_tier or 0), twice_median_overall=int(overall or 0)))
    return groups


def _twice_median_part(gap_us, rank, gaps):
    """The sum of the middle gaps among these rows (rank 1..gaps are the gaps, in order)."""
    twice_rank = 2 * rank
    return func.sum(case(
        (and_(gap_us.is_not(None), twice_rank == gaps + 1), 2 * gap_us),
        (and_(gap_us.is_not(None), or_(twice_rank == gaps, twice_rank == gaps + 2)), gap_us),
        else_=0,
    ))


def _row(label: str, group: Group) -> dict:
    buyers, repurchasers = group.counts["buyers"], group.counts["repurchasers"]
    twice_median = group.counts["twice_median_overall" if label == EVERY_TIER else "twice_median_in_tier"]
    return {"tier": label, "buyers": buyers, "repurchasers": repurchasers,
            "repurchase_rate": rate(repurchasers, buyers),
            "median_days_to_repurchase": days(Fraction(twice_median, 2)) if repurchasers else None,
            "immature": group.counts["immature"]}
