"""Satisfaction by tier (API.md, Reports: satisfaction): CSAT and NPS of the period's feedback.

Each answer counts under the tier its member held at its `created_at`; the database adds them
up by tier, this module only divides and rounds.
"""
from collections import Counter
from fractions import Fraction

from sqlalchemy import case, func, select

from loyalty.models import Feedback
from loyalty.reports import source
from loyalty.reports.by_tier import Group, tier_rows, with_tier_held
from loyalty.reports.period import Period, rate, rounded
from loyalty.reports.sql import count_where

COLUMNS = ["tier", "csat_responses", "csat_average", "csat_happy_rate", "nps_responses", "promoters", "passives",
           "detractors", "nps"]
AVERAGE_PLACES = 2
NPS_PLACES = 1


def report(period: Period) -> list[dict]:
    """One row per tier by rank, then `none` (if it counts any answer), then `all`."""
    answers = (select(Feedback.member_id, Feedback.created_at, Feedback.kind, Feedback.score, Feedback.band)
               .where(Feedback.created_at >= period.start, Feedback.created_at < period.end)
               .subquery("answers"))
    held = with_tier_held(answers, "member_id", "created_at").subquery("held")
    return tier_rows(_tally_by_tier(held), _row)


def _tally_by_tier(held) -> dict:
    """tier_id -> the counts of each band and kind, and the sum of CSAT scores: one GROUP BY."""
    counted = {
        "csat_responses": held.c.kind == "csat", "happy": held.c.band == "happy",
        "nps_responses": held.c.kind == "nps", "promoters": held.c.band == "promoter",
        "passives": held.c.band == "passive", "detractors": held.c.band == "detractor",
    }
    csat_score_sum = func.coalesce(func.sum(case((held.c.kind == "csat", held.c.score), else_=0)), 0)
    statement = (select(held.c.tier_id, csat_score_sum.label("csat_score_sum"),
                        *[count_where(condition).label(name) for name, condition in counted.items()])
                 .group_by(held.c.tier_id))
    groups = {}
    for row in source.execute(statement).mappings():
        groups[row["tier_id"]] = Group(counts=Counter({name: int(row[name]) for name in [*counted, "csat_score_sum"]}))
    return groups


def _row(label: str, group: Group) -> dict:
    counts = group.counts
    csat, nps = counts["csat_responses"], counts["nps_responses"]
    return {
        "tier": label, "csat_responses": csat,
        "csat_average": rounded(Fraction(counts["csat_score_sum"], csat), AVERAGE_PLACES) if csat else None,
        "csat_happy_rate": rate(counts["happy"], csat),
        "nps_responses": nps, "promoters": counts["promoters"], "passives": counts["passives"],
        "detractors": counts["detractors"],
        "nps": rounded(Fraction(100 * (counts["promoters"] - counts["detractors"]), nps), NPS_PLACES) if nps else None,
    }
