"""Members at risk (API.md, Rules: At risk), most valuable first.

With two or more qualifying purchases a member is at risk once the days since the last one
exceed twice their median gap and are at least 30; with one, once it is more than 90 days old.
Twice the median is the sum of the two middle gaps (the middle one twice for an odd count),
which keeps the comparison in exact integers. The rule comes down to one moment per member, from
which they are at risk (`_at_risk_from_us`, microseconds since 1970): the last purchase + 90 days
+ 1 µs with one purchase, else the last + max(twice the median + 1 µs, 30 days).

Where the report reads it. Working the median out of every member's purchases at each call sorts
the whole purchases table (33 s for 10 million). So each member's row keeps the rule's inputs,
over all their qualifying purchases: members.last_qualifying_at, twice_median_gap_us and
at_risk_from_us, indexed. `refresh` sets them, set-based, for the members named: run-jobs for
the members marked stale (a purchase, refund or dispute sets members.at_risk_stale in the member
UPDATE it makes anyway: an earn does no more work), the importer for the members it loaded, the
migration that added them for everyone. The report reads the members at risk from the index on
at_risk_from_us, and works out from their purchases only the members whose stored summary cannot
be used as of `now`: the stale ones, and those with a qualifying purchase dated after `now` (the
summary counts it; the rule as of `now` must not). Only then, for the members at risk, does it sum
the recent year's qualifying points (the order: it moves with `now`, so it is never stored).
"""
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import BigInteger, String, and_, bindparam, case, func, or_, select, union_all, update

from loyalty import bulk, clock, tiers
from loyalty.extensions import db
from loyalty.models import Member, Purchase
from loyalty.models.types import UTCDateTime
from loyalty.reports import source
from loyalty.reports.period import days
from loyalty.reports.sql import DAY_US, EPOCH, ONE_US, epoch_us, purchase_order, qualifying, to_epoch_us

COLUMNS = ["member_id", "email", "tier", "last_purchase_at", "usual_gap_days", "days_since_last_purchase",
           "recent_qualifying_points", "balance"]
RECENT_DAYS = 365
MIN_QUIET_DAYS = 30
ONE_PURCHASE_QUIET_DAYS = 90


def report(limit: int = 20, after: tuple[int, str] | None = None,
           now: datetime | None = None) -> tuple[list[dict], tuple[int, str] | None]:
    """One page of members at risk and the key to continue after it (None on the last page).

    Pages are keyed on (recent_qualifying_points, member_id): highest points first, then by id.
    """
    now = now or clock.now()
    moment = Moment.of(now)
    at_risk = union_all(_stored_at_risk(moment),
                        _worked_out(moment, _needs_working_out(moment), at_risk_only=True)).subquery("at_risk")
    # MATERIALIZED: each member's points summed once, not again in the page's WHERE (PostgreSQL
    # would otherwise fold the subquery into it and run the sum up to three times a row).
    ranked = select(at_risk, _recent_points(at_risk.c.member_id, moment)).cte("ranked").prefix_with("MATERIALIZED")
    query = select(ranked).order_by(ranked.c.recent_qualifying_points.desc(), ranked.c.member_id)
    if after is not None:
        points, member_id = after
        query = query.where(or_(ranked.c.recent_qualifying_points < points,
                                and_(ranked.c.recent_qualifying_points == points, ranked.c.member_id > member_id)))
    found = source.execute(query.limit(limit + 1)).all()
    rows = [_row(candidate, now) for candidate in found[:limit]]
    more = len(found) > limit
    return rows, ((rows[-1]["recent_qualifying_points"], rows[-1]["member_id"]) if more else None)


@dataclass(frozen=True)
class Moment:
    """"Now" as the rule uses it: the moment, in microseconds, and where the recent year starts.
    Python values, or bind parameters in a statement built once (is_at_risk)."""

    at: Any
    us: Any
    recent_since: Any

    @classmethod
    def of(cls, now: datetime) -> "Moment":
        return cls(now, to_epoch_us(now), now - timedelta(days=RECENT_DAYS))


def _at_risk_from_us(last_us, twice_median_us):
    """The rule, once: the first moment (µs) a member is at risk, from their latest qualifying
    purchase and twice their median gap (null: one purchase). `> 2·median` is `≥ 2·median + 1 µs`."""
    return last_us + case(
        (twice_median_us.is_(None), ONE_PURCHASE_QUIET_DAYS * DAY_US + 1),
        (twice_median_us + 1 > MIN_QUIET_DAYS * DAY_US, twice_median_us + 1),
        else_=MIN_QUIET_DAYS * DAY_US,
    )


# -- one member, from their purchases (overview, member.at_risk notices) ---------------------------

@functools.cache
def _member_standing():
    moment = Moment(bindparam("now", type_=UTCDateTime), bindparam("now_us", type_=BigInteger),
                    bindparam("recent_since", type_=UTCDateTime))
    standing_ = _worked_out(moment, Purchase.member_id == bindparam("member_id", type_=String)).subquery()
    return select(standing_, _recent_points(standing_.c.member_id, moment))


def _standing_of(member_id: str, now: datetime):
    moment = Moment.of(now)
    return db.session.execute(_member_standing(), {
        "member_id": member_id, "now": moment.at, "now_us": moment.us, "recent_since": moment.recent_since,
    }).first()


def is_at_risk(member_id: str, now: datetime | None = None) -> bool:
    """Whether one member is at risk now: the rule over their purchases only (one statement, built once)."""
    now = now or clock.now()
    found = _standing_of(member_id, now)
    return found is not None and found.at_risk_from_us <= to_epoch_us(now)


def soonest_at_risk(latest_purchase_at: datetime) -> datetime:
    """The soonest a member whose latest qualifying purchase is no earlier than this can be at risk
    (members.at_risk_at, early, never late: whatever the gaps, at least MIN_QUIET_DAYS)."""
    return latest_purchase_at + timedelta(days=MIN_QUIET_DAYS)


def standing(member_id: str, now: datetime) -> tuple[dict | None, datetime | None]:
    """(the report's row if the member is at risk now, else None; when they next may be, else
    None): the rule over the member's purchases (one statement, built once)."""
    found = _standing_of(member_id, now)
    if found is None:  # no qualifying purchase (or closed): a new purchase sets the moment
        return None, None
    if found.at_risk_from_us <= to_epoch_us(now):
        return _row(found, now), None
    return None, max(EPOCH + timedelta(microseconds=int(found.at_risk_from_us)), now + ONE_US)


# -- the stored summary ------------------------------------------------------------------------------

def refresh(member_ids: list[str]) -> None:
    """Set the at-risk summary of these members (members.last_qualifying_at, twice_median_gap_us,
    at_risk_from_us) from all their qualifying purchases, set-based, and mark it fresh; a member
    with none gets nulls. The caller holds the members' rows locked: a write to their purchases
    meanwhile waits for its member lock, then marks the member stale again."""
    if not member_ids:
        return
    summaries = _summaries(_qualifying_purchases(bulk.one_of(Purchase.member_id, member_ids)))
    fresh = (select(Member.id, summaries.c.last_purchase_at, summaries.c.twice_median_us,
                    summaries.c.at_risk_from_us)
             .outerjoin(summaries, summaries.c.member_id == Member.id)
             .where(bulk.one_of(Member.id, member_ids)).subquery("fresh"))
    db.session.execute(
        update(Member).where(Member.id == fresh.c.id)
        .values(last_qualifying_at=fresh.c.last_purchase_at, twice_median_gap_us=fresh.c.twice_median_us,
                at_risk_from_us=fresh.c.at_risk_from_us, at_risk_stale=False)
        .execution_options(synchronize_session=False)
    )


def lock_stale(limit: int) -> list[str]:
    """Up to `limit` members whose summary is stale, their rows locked (run-jobs); members a write
    holds are skipped: the report works them out meanwhile, and the next run takes them."""
    return db.session.execute(
        select(Member.id).where(Member.at_risk_stale).order_by(Member.id).limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars().all()


def _stored_at_risk(moment: Moment):
    """Members at risk by their stored summary (ix_members_at_risk_from_us). At risk means the
    latest qualifying purchase is 30 days old or more, so none of theirs is dated after now."""
    return (
        select(Member.id.label("member_id"), Member.email, Member.tier_id, Member.tier_reached_at,
               Member.last_qualifying_at.label("last_purchase_at"),
               Member.twice_median_gap_us.label("twice_median_us"), Member.at_risk_from_us,
               Member.points_balance.label("balance"))
        .where(Member.at_risk_from_us <= moment.us, ~Member.at_risk_stale, Member.status != "closed")
    )


def _needs_working_out(moment: Moment):
    """The purchases' members whose stored summary cannot be used as of now: stale, or counting a
    purchase dated after now (ix_members_at_risk_stale, ix_members_last_qualifying_at)."""
    return Purchase.member_id.in_(select(Member.id).where(
        or_(Member.at_risk_stale, Member.last_qualifying_at > moment.at)))


# -- the rule over purchases, in SQL -----------------------------------------------------------------

def _qualifying_purchases(members, now=None):
    """The qualifying purchases of the members `members` selects (a condition on
    Purchase.member_id), up to `now` if given, with the gap to the one before."""
    previous = func.lag(epoch_us(Purchase.occurred_at)).over(partition_by=Purchase.member_id,
                                                             order_by=purchase_order())
    query = (
        select(Purchase.member_id, Purchase.occurred_at,
               (epoch_us(Purchase.occurred_at) - previous).label("gap_us"))
        .where(qualifying(), members)
    )
    if now is not None:
        query = query.where(Purchase.occurred_at <= now)
    return query.subquery("purchases")


def _twice_median_gap(purchases):
    """Per member: twice the median gap, from the gaps ranked within the member."""
    ranked = (
        select(purchases.c.member_id, purchases.c.gap_us,
               func.row_number().over(partition_by=purchases.c.member_id, order_by=purchases.c.gap_us)
               .label("rank"),
               func.count().over(partition_by=purchases.c.member_id).label("gaps"))
        .where(purchases.c.gap_us.is_not(None))
        .subquery("ranked")
    )
    twice_rank = 2 * ranked.c.rank
    # Odd count: the middle gap (2·rank = gaps + 1) twice. Even: the two around the middle.
    twice_median = func.sum(case(
        (twice_rank == ranked.c.gaps + 1, 2 * ranked.c.gap_us),
        (twice_rank == ranked.c.gaps, ranked.c.gap_us),
        (twice_rank == ranked.c.gaps + 2, ranked.c.gap_us),
        else_=0,
    ))
    return (select(ranked.c.member_id, twice_median.label("twice_median_us"))
            .group_by(ranked.c.member_id).subquery("medians"))


def _summaries(purchases):
    """Per member with qualifying purchases: the latest, twice the median gap and the moment they
    are at risk from."""
    latest = (select(purchases.c.member_id, func.max(purchases.c.occurred_at).label("last_purchase_at"))
              .group_by(purchases.c.member_id).subquery("latest"))
    medians = _twice_median_gap(purchases)
    return (
        select(latest.c.member_id, latest.c.last_purchase_at, medians.c.twice_median_us,
               _at_risk_from_us(epoch_us(latest.c.last_purchase_at), medians.c.twice_median_us)
               .label("at_risk_from_us"))
        .outerjoin(medians, medians.c.member_id == latest.c.member_id)
        .subquery("summaries")
    )


def _worked_out(moment: Moment, members, at_risk_only: bool = False):
    """The report's columns (but the recent points) and at_risk_from_us of the members `members`
    selects who are in the program and have qualifying purchases up to now (only those at risk
    now if `at_risk_only`), from their purchases."""
    summaries = _summaries(_qualifying_purchases(members, moment.at))
    query = (
        select(Member.id.label("member_id"), Member.email, Member.tier_id, Member.tier_reached_at,
               summaries.c.last_purchase_at, summaries.c.twice_median_us, summaries.c.at_risk_from_us,
               Member.points_balance.label("balance"))
        .select_from(summaries)
        .join(Member, Member.id == summaries.c.member_id)
        .where(Member.status != "closed")
    )
    return query.where(summaries.c.at_risk_from_us <= moment.us) if at_risk_only else query


def _recent_points(member_id, moment: Moment):
    """The member's qualifying points of the recent year up to now (the report's order), as the
    tier window's are summed: from the index alone (a purchase that no longer qualifies has 0)."""
    return (tiers.window_points(member_id, moment.recent_since, moment.at)
            .scalar_subquery().label("recent_qualifying_points"))


def _key(tier) -> str | None:
    return tier.key if tier is not None else None


def _row(candidate, now: datetime) -> dict:
    twice_median = candidate.twice_median_us
    return {
        "member_id": candidate.member_id,
        "email": candidate.email,
        "tier": _key(tiers.held_now(candidate.tier_id, candidate.tier_reached_at)),
        "last_purchase_at": candidate.last_purchase_at,
        "usual_gap_days": None if twice_median is None else days(Fraction(int(twice_median), 2)),
        "days_since_last_purchase": (now - candidate.last_purchase_at) // timedelta(days=1),
        "recent_qualifying_points": int(candidate.recent_qualifying_points),
        "balance": candidate.balance,
    }
