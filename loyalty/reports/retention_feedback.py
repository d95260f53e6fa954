"""Repurchase after feedback, by band (API.md, Rules: Retention after feedback).

For each kind, each member with feedback of that kind in the period counts once, under the band
of their first such answer f: `immature` until f + window_days has passed, otherwise a member,
and a repurchaser with a qualifying purchase in (f, f + window_days].
"""
from datetime import datetime, timedelta

from sqlalchemy import and_, select

from loyalty import clock
from loyalty.models import Feedback
from loyalty.reports import source
from loyalty.reports.period import Period, rate
from loyalty.reports.sql import bought_within, count_where, first_per_member

COLUMNS = ["kind", "band", "members", "repurchasers", "repurchase_rate", "immature"]
# Every band always, in this order (API.md, Reports: retention-by-feedback).
BANDS = [("csat", "happy"), ("csat", "neutral"), ("csat", "unhappy"),
         ("nps", "promoter"), ("nps", "passive"), ("nps", "detractor")]


def report(period: Period, window_days: int = 90, now: datetime | None = None) -> list[dict]:
    now = now or clock.now()
    in_period = select(Feedback.member_id, Feedback.kind, Feedback.band, Feedback.created_at).where(
        Feedback.created_at >= period.start, Feedback.created_at < period.end)
    firsts = first_per_member(in_period, order_by=(Feedback.created_at, Feedback.id),
                              partition_by=(Feedback.kind,)).subquery("firsts")
    mature = firsts.c.created_at <= now - timedelta(days=window_days)
    statement = (
        select(firsts.c.kind, firsts.c.band,
               count_where(mature).label("members"),
               count_where(and_(mature, bought_within(firsts.c.member_id, firsts.c.created_at, window_days)))
               .label("repurchasers"),
               count_where(~mature).label("immature"))
        .group_by(firsts.c.kind, firsts.c.band))
    counted = {(row.kind, row.band): row for row in source.execute(statement)}
    return [_row(kind, band, counted.get((kind, band))) for kind, band in BANDS]


def _row(kind: str, band: str, counted) -> dict:
    members, repurchasers, immature = (int(counted.members), int(counted.repurchasers), int(counted.immature)) \
        if counted else (0, 0, 0)
    return {"kind": kind, "band": band, "members": members, "repurchasers": repurchasers,
            "repurchase_rate": rate(repurchasers, members), "immature": immature}
