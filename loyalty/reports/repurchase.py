"""Repurchase rate by tier (API.md, Rules: Repurchase rate by tier).

For each member with a qualifying purchase in the period, p1 is the first one; the member
counts under the tier held just before p1 counted, as `immature` until p1 + window_days has
passed, and as a repurchaser when another qualifying purchase falls in [p1, p1 + window_days].
"""
from datetime import datetime, timedelta

from sqlalchemy import String, and_, case, func, literal, or_, select

from loyalty import clock
from loyalty.extensions import db
from loyalty.models import Purchase, Tier, TierChange
from loyalty.reports import source
from loyalty.reports.period import Period, median_days, rate
from loyalty.reports.sql import DAY_US, epoch_us, purchase_order, qualifying
from loyalty.tiers import entry_tier, ladder

COLUMNS = ["tier", "buyers", "repurchasers", "repurchase_rate", "median_days_to_repurchase", "immature"]
NO_TIER = "none"
EVERY_TIER = "all"


def report(period: Period, window_days: int = 90, now: datetime | None = None) -> list[dict]:
    """One row per tier by rank, then `none` (if it counts anyone), then `all`."""
    now = now or clock.now()
    tiers = ladder()
    entry = entry_tier()
    members = _first_purchases_with_tier(period, entry.id if entry else None).subquery("members")
    counts, gaps = _tally_by_tier(members, window_days, now)
    return _rows(tiers, counts, gaps)


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


def _latest_change_before(firsts):
    """The id of the last tier change in force before p1 counted (correlated; NULL if none).

    A change at p1's own moment counts unless p1 caused it (the upgrade p1 itself earned).
    `enrolled` rows stand for the entry tier, which is the default anyway.
    """
    before_p1 = or_(
        TierChange.effective_at < firsts.c.occurred_at,
        and_(TierChange.effective_at == firsts.c.occurred_at,
             or_(TierChange.purchase_id.is_(None), TierChange.purchase_id != firsts.c.purchase_id)),
    )
    return (
        select(TierChange.id)
        .where(TierChange.member_id == firsts.c.member_id, TierChange.reason != "enrolled", before_p1)
        .order_by(TierChange.effective_at.desc(), TierChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _first_purchases_with_tier(period: Period, entry_tier_id: str | None):
    firsts = _first_purchases(period)
    with_change = select(firsts, _latest_change_before(firsts).label("change_id")).subquery("with_change")
    held = case((with_change.c.change_id.is_(None), literal(entry_tier_id, String)), else_=TierChange.tier_id)
    return (
        select(with_change.c.occurred_at, with_change.c.next_at, held.label("tier_id"))
        .select_from(with_change)
        .outerjoin(TierChange, TierChange.id == with_change.c.change_id)
    )


def _is_mature(members, window_days: int, now: datetime):
    return members.c.occurred_at <= now - timedelta(days=window_days)


def _repurchased(members, window_days: int, now: datetime):
    within_window = epoch_us(members.c.next_at) - epoch_us(members.c.occurred_at) <= window_days * DAY_US
    return and_(_is_mature(members, window_days, now), members.c.next_at.is_not(None), within_window)


def _tally_by_tier(members, window_days: int, now: datetime) -> tuple[dict, dict]:
    """tier_id -> (buyers, repurchasers, immature), and tier_id -> the repurchasers' gaps.

    One pass over one row per member (not per purchase), so the costly subquery runs once.
    """
    mature = case((_is_mature(members, window_days, now), 1), else_=0)
    gap = case((_repurchased(members, window_days, now),
                epoch_us(members.c.next_at) - epoch_us(members.c.occurred_at)), else_=None)
    counts: dict = {}
    gaps: dict = {}
    for tier_id, is_mature, gap_us in source.execute(select(members.c.tier_id, mature, gap)):
        buyers, repurchasers, immature = counts.get(tier_id, (0, 0, 0))
        counts[tier_id] = (buyers + is_mature, repurchasers + (gap_us is not None), immature + 1 - is_mature)
        if gap_us is not None:
            gaps.setdefault(tier_id, []).append(int(gap_us))
    return counts, gaps


def _row(label: str, counts: tuple, gaps: list[int]) -> dict:
    buyers, repurchasers, immature = counts
    return {"tier": label, "buyers": buyers, "repurchasers": repurchasers,
            "repurchase_rate": rate(repurchasers, buyers), "median_days_to_repurchase": median_days(gaps),
            "immature": immature}


def _rows(tiers: list[Tier], counts: dict, gaps: dict) -> list[dict]:
    ranked = sorted(tiers + _retired_tiers_counted(counts, tiers),
                    key=lambda tier: (tier.min_qualifying_points, tier.deleted_at is not None))
    rows = [_row(tier.key, counts.get(tier.id, (0, 0, 0)), gaps.get(tier.id, [])) for tier in ranked]
    if None in counts:
        rows.append(_row(NO_TIER, counts[None], gaps.get(None, [])))
    totals = tuple(sum(numbers) for numbers in zip((0, 0, 0), *counts.values()))
    rows.append(_row(EVERY_TIER, totals, [gap for tier_gaps in gaps.values() for gap in tier_gaps]))
    return rows


def _retired_tiers_counted(counts: dict, live: list[Tier]) -> list[Tier]:
    """Deleted tiers members still held at p1: they get a row too, so `all` adds up."""
    live_ids = {tier.id for tier in live}
    retired_ids = [tier_id for tier_id in counts if tier_id is not None and tier_id not in live_ids]
    if not retired_ids:
        return []
    return list(db.session.execute(select(Tier).where(Tier.id.in_(retired_ids))).scalars())
