"""The service report by tier (API.md, Reports: service; Rules: Service recovery).

Two tallies share the rows: the period's cases, each under the tier held at its `opened_at`
(volumes, medians, reopen rate, goodwill), and its complainants, each member once under the tier
held at their first case c (recovered when c was resolved within 48 hours; repurchase after c).
The database counts; the medians are taken here from one sorted list of durations per tier.
"""
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from loyalty import clock
from loyalty.models import Case
from loyalty.reports import source
from loyalty.reports.by_tier import Group, tier_rows, with_tier_held
from loyalty.reports.period import Period, median, rate, rounded
from loyalty.reports.sql import bought_within, count_where, epoch_us, first_per_member

COLUMNS = ["tier", "opened", "open", "resolved", "median_first_response_minutes", "median_resolution_hours",
           "reopen_rate", "goodwill_points", "complainants", "recovered", "recovered_repurchase_rate",
           "unrecovered_repurchase_rate", "immature"]
RECOVERY_HOURS = 48
MINUTE_US = 60 * 1_000_000
HOUR_US = 60 * MINUTE_US
DURATION_PLACES = 1


def report(period: Period, window_days: int = 90, now: datetime | None = None) -> list[dict]:
    now = now or clock.now()
    in_period = select(Case.id, Case.member_id, Case.opened_at, Case.status, Case.first_response_at,
                       Case.resolved_at, Case.reopened_count, Case.goodwill_points).where(
        Case.opened_at >= period.start, Case.opened_at < period.end)
    cases = with_tier_held(in_period.subquery("cases"), "member_id", "opened_at").subquery("held")
    groups: dict = {}
    _tally_cases(cases, groups)
    firsts = first_per_member(in_period, order_by=(Case.opened_at, Case.id)).subquery("firsts")
    complainants = with_tier_held(firsts, "member_id", "opened_at").subquery("complainants")
    _tally_recovery(complainants, window_days, now, groups)
    return tier_rows(groups, _row)


def _group(groups: dict, tier_id) -> Group:
    return groups.setdefault(tier_id, Group(samples={"first_response_us": [], "resolution_us": []}))


def _tally_cases(cases, groups: dict) -> None:
    """Counts by tier in one GROUP BY; then each case's durations, for the medians."""
    resolved = cases.c.status == "resolved"
    counts = (select(cases.c.tier_id, func.count().label("opened"),
                     count_where(cases.c.status == "open").label("open"), count_where(resolved).label("resolved"),
                     count_where(cases.c.reopened_count > 0).label("reopened"),
                     func.coalesce(func.sum(cases.c.goodwill_points), 0).label("goodwill_points"))
              .group_by(cases.c.tier_id))
    for row in source.execute(counts).mappings():
        _group(groups, row["tier_id"]).counts.update(
            Counter({name: int(row[name]) for name in ("opened", "open", "resolved", "reopened", "goodwill_points")}))
    first_response = epoch_us(cases.c.first_response_at) - epoch_us(cases.c.opened_at)
    resolution = epoch_us(cases.c.resolved_at) - epoch_us(cases.c.opened_at)
    durations = select(cases.c.tier_id, first_response, resolution).where(
        (cases.c.first_response_at.is_not(None)) | resolved)
    for tier_id, first_response_us, resolution_us in source.execute(durations):
        samples = _group(groups, tier_id).samples
        if first_response_us is not None:
            samples["first_response_us"].append(int(first_response_us))
        if resolution_us is not None:
            samples["resolution_us"].append(int(resolution_us))


def _tally_recovery(complainants, window_days: int, now: datetime, groups: dict) -> None:
    """Each member's first case of the period: complainant or immature, recovered, repurchased."""
    mature = complainants.c.opened_at <= now - timedelta(days=window_days)
    recovered = and_(complainants.c.status == "resolved",
                     epoch_us(complainants.c.resolved_at) - epoch_us(complainants.c.opened_at)
                     <= RECOVERY_HOURS * HOUR_US)
    repurchased = bought_within(complainants.c.member_id, complainants.c.opened_at, window_days)
    counts = (select(complainants.c.tier_id,
                     count_where(mature).label("complainants"),
                     count_where(and_(mature, recovered)).label("recovered"),
                     count_where(and_(mature, recovered, repurchased)).label("recovered_repurchasers"),
                     count_where(and_(mature, ~recovered, repurchased)).label("unrecovered_repurchasers"),
                     count_where(~mature).label("immature"))
              .group_by(complainants.c.tier_id))
    names = ("complainants", "recovered", "recovered_repurchasers", "unrecovered_repurchasers", "immature")
    for row in source.execute(counts).mappings():
        _group(groups, row["tier_id"]).counts.update(Counter({name: int(row[name]) for name in names}))


def _in(unit_us: int, duration_us) -> object:
    return None if duration_us is None else rounded(duration_us / unit_us, DURATION_PLACES)


def _row(label: str, group: Group) -> dict:
    counts = group.counts
    recovered, unrecovered = counts["recovered"], counts["complainants"] - counts["recovered"]
    return {
        "tier": label, "opened": counts["opened"], "open": counts["open"], "resolved": counts["resolved"],
        "median_first_response_minutes": _in(MINUTE_US, median(group.samples.get("first_response_us", []))),
        "median_resolution_hours": _in(HOUR_US, median(group.samples.get("resolution_us", []))),
        "reopen_rate": rate(counts["reopened"], counts["opened"]),
        "goodwill_points": counts["goodwill_points"],
        "complainants": counts["complainants"], "recovered": recovered,
        "recovered_repurchase_rate": rate(counts["recovered_repurchasers"], recovered),
        "unrecovered_repurchase_rate": rate(counts["unrecovered_repurchasers"], unrecovered),
        "immature": counts["immature"],
    }
