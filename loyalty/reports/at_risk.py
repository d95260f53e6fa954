"""Members at risk (API.md, Rules: At risk), most valuable first.

With two or more qualifying purchases a member is at risk once the days since the last one
exceed twice their median gap and are at least 30; with one, once it is more than 90 days old.
Twice the median is the sum of the two middle gaps (the middle one twice for an odd count),
which keeps the comparison in exact integers.
"""
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import BigInteger, String, and_, bindparam, case, func, or_, select

from loyalty import clock, tiers
from loyalty.extensions import db
from loyalty.models import Member, Purchase
from loyalty.models.types import UTCDateTime
from loyalty.reports import source
from loyalty.reports.period import days
from loyalty.reports.sql import DAY_US, ONE_US, epoch_us, purchase_order, qualifying, to_epoch_us

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
    candidates = _candidates(Moment.of(now)).subquery("candidates")
    query = select(candidates).order_by(candidates.c.recent_qualifying_points.desc(), candidates.c.member_id)
    if after is not None:
        points, member_id = after
        query = query.where(or_(candidates.c.recent_qualifying_points < points,
                                and_(candidates.c.recent_qualifying_points == points,
                                     candidates.c.member_id > member_id)))
    found = source.execute(query.limit(limit + 1)).all()
    rows = [_row(candidate) for candidate in found[:limit]]
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


@functools.cache
def _member_at_risk():
    moment = Moment(bindparam("now", type_=UTCDateTime), bindparam("now_us", type_=BigInteger),
                    bindparam("recent_since", type_=UTCDateTime))
    return select(_candidates(moment, bindparam("member_id", type_=String)).subquery().c.member_id)


def is_at_risk(member_id: str, now: datetime | None = None) -> bool:
    """Whether one member is at risk now: the report's rule over their purchases only (one statement,
    built once)."""
    moment = Moment.of(now or clock.now())
    return db.session.execute(_member_at_risk(), {
        "member_id": member_id, "now": moment.at, "now_us": moment.us, "recent_since": moment.recent_since,
    }).first() is not None


def soonest_at_risk(latest_purchase_at: datetime) -> datetime:
    """The soonest a member whose latest qualifying purchase is no earlier than this can be at risk
    (members.at_risk_at, early, never late: whatever the gaps, at least MIN_QUIET_DAYS)."""
    return latest_purchase_at + timedelta(days=MIN_QUIET_DAYS)


@functools.cache
def _member_standing():
    moment = Moment(bindparam("now", type_=UTCDateTime), bindparam("now_us", type_=BigInteger),
                    bindparam("recent_since", type_=UTCDateTime))
    return _standing(moment, bindparam("member_id", type_=String))[0]


def standing(member_id: str, now: datetime) -> tuple[dict | None, datetime | None]:
    """(the report's row if the member is at risk now, else None; when they next may be, else
    None): the report's rule over the member's purchases (one statement, built once)."""
    moment = Moment.of(now)
    found = db.session.execute(_member_standing(), {
        "member_id": member_id, "now": moment.at, "now_us": moment.us, "recent_since": moment.recent_since,
    }).first()
    if found is None:  # no qualifying purchase (or closed): a new purchase sets the moment
        return None, None
    if found.at_risk:
        return _row(found), None
    if found.purchases == 1:
        wait_us = ONE_PURCHASE_QUIET_DAYS * DAY_US + 1
    else:
        wait_us = max(int(found.twice_median_us) + 1, MIN_QUIET_DAYS * DAY_US)
    return None, max(found.last_purchase_at + timedelta(microseconds=wait_us), now + ONE_US)


def _qualifying_purchases(now, member_id=None):
    """Qualifying purchases up to now of members still in the program, with the gap to the one before."""
    previous = func.lag(epoch_us(Purchase.occurred_at)).over(partition_by=Purchase.member_id,
                                                             order_by=purchase_order())
    query = (
        select(Purchase.member_id, Purchase.occurred_at, Purchase.qualifying_points,
               (epoch_us(Purchase.occurred_at) - previous).label("gap_us"))
        .join(Member, Member.id == Purchase.member_id)
        .where(qualifying(), Purchase.occurred_at <= now, Member.status != "closed")
    )
    if member_id is not None:
        query = query.where(Purchase.member_id == member_id)
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


def _purchase_stats(purchases, moment: Moment):
    recent = purchases.c.occurred_at > moment.recent_since
    return (
        select(purchases.c.member_id, func.count().label("purchases"),
               func.max(purchases.c.occurred_at).label("last_purchase_at"),
               func.coalesce(func.sum(case((recent, purchases.c.qualifying_points), else_=0)), 0)
               .label("recent_qualifying_points"))
        .group_by(purchases.c.member_id)
        .subquery("stats")
    )


def _standing(moment: Moment, member_id=None):
    """Per member with qualifying purchases: the report's columns, their count and whether the
    member is at risk (`at_risk`)."""
    purchases = _qualifying_purchases(moment.at, member_id)
    stats, medians = _purchase_stats(purchases, moment), _twice_median_gap(purchases)
    quiet_us = moment.us - epoch_us(stats.c.last_purchase_at)
    regular_gone_quiet = and_(stats.c.purchases >= 2, quiet_us > medians.c.twice_median_us,
                              quiet_us >= MIN_QUIET_DAYS * DAY_US)
    single_gone_quiet = and_(stats.c.purchases == 1, quiet_us > ONE_PURCHASE_QUIET_DAYS * DAY_US)
    gone_quiet = or_(regular_gone_quiet, single_gone_quiet)
    return (
        select(Member.id.label("member_id"), Member.email, Member.tier_id, Member.tier_reached_at,
               stats.c.last_purchase_at,
               medians.c.twice_median_us, quiet_us.label("quiet_us"), stats.c.recent_qualifying_points,
               Member.points_balance.label("balance"), stats.c.purchases,
               case((gone_quiet, True), else_=False).label("at_risk"))
        .select_from(stats)
        .join(Member, Member.id == stats.c.member_id)
        .outerjoin(medians, medians.c.member_id == stats.c.member_id)
    ), gone_quiet


def _candidates(moment: Moment, member_id=None):
    standing_, gone_quiet = _standing(moment, member_id)
    return standing_.where(gone_quiet)


def _key(tier) -> str | None:
    return tier.key if tier is not None else None


def _row(candidate) -> dict:
    twice_median = candidate.twice_median_us
    return {
        "member_id": candidate.member_id,
        "email": candidate.email,
        "tier": _key(tiers.held_now(candidate.tier_id, candidate.tier_reached_at)),
        "last_purchase_at": candidate.last_purchase_at,
        "usual_gap_days": None if twice_median is None else days(Fraction(int(twice_median), 2)),
        "days_since_last_purchase": int(candidate.quiet_us) // DAY_US,
        "recent_qualifying_points": int(candidate.recent_qualifying_points),
        "balance": candidate.balance,
    }
