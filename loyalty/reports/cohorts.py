"""Cohorts (API.md, Reports): members by the month of their first qualifying purchase ever.

rate_Nd is the share with another qualifying purchase within N days of the first, among the
members whose first purchase is at least N days old (younger ones cannot have shown it yet).
"""
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from loyalty import clock
from loyalty.models import Purchase
from loyalty.reports import source
from loyalty.reports.period import Period, rate
from loyalty.reports.sql import DAY_US, count_where, epoch_us, purchase_order, qualifying, utc_month

WINDOWS = (30, 60, 90)
COLUMNS = ["month", "buyers", "rate_30d", "rate_60d", "rate_90d", "early_churn_rate"]


def report(period: Period, now: datetime | None = None) -> list[dict]:
    """One row per month (oldest first) that has first purchases in the period."""
    now = now or clock.now()
    firsts = _first_purchases_ever(period)
    return [_row(numbers) for numbers in source.execute(_counts_by_month(firsts, now))]


def _first_purchases_ever(period: Period):
    """Per member whose first qualifying purchase ever is in the period: its time, month and the next one's."""
    ordering = purchase_order()
    ordered = (
        select(
            Purchase.occurred_at,
            func.lead(Purchase.occurred_at).over(partition_by=Purchase.member_id, order_by=ordering)
            .label("next_at"),
            func.row_number().over(partition_by=Purchase.member_id, order_by=ordering).label("position"),
        )
        .where(qualifying())
        .subquery("ordered")
    )
    return (
        select(ordered.c.occurred_at, ordered.c.next_at, utc_month(ordered.c.occurred_at).label("month"))
        .where(ordered.c.position == 1, ordered.c.occurred_at >= period.start,
               ordered.c.occurred_at < period.end)
        .subquery("firsts")
    )


def _window_counts(firsts, days: int, now: datetime) -> list:
    """(members old enough for the window, of them those who bought again within it)."""
    old_enough = firsts.c.occurred_at <= now - timedelta(days=days)
    again = and_(old_enough, firsts.c.next_at.is_not(None),
                 epoch_us(firsts.c.next_at) - epoch_us(firsts.c.occurred_at) <= days * DAY_US)
    return [count_where(old_enough), count_where(again)]


def _counts_by_month(firsts, now: datetime):
    windows = [count for days in WINDOWS for count in _window_counts(firsts, days, now)]
    return (select(firsts.c.month, func.count(), *windows)
            .group_by(firsts.c.month).order_by(firsts.c.month))


def _row(numbers) -> dict:
    month, buyers, *window_counts = numbers
    row = {"month": month, "buyers": int(buyers)}
    for index, days in enumerate(WINDOWS):
        eligible, again = window_counts[2 * index:2 * index + 2]
        row[f"rate_{days}d"] = rate(int(again), int(eligible))
    row["early_churn_rate"] = None if row["rate_90d"] is None else 1 - row["rate_90d"]
    return row
