"""SQL pieces every report shares, written once for SQLite and PostgreSQL.

Time arithmetic happens on integer microseconds since 1970 (`epoch_us`): the two databases
agree on integers, while their date functions differ and SQLite's are floating point.
"""
from datetime import datetime, timedelta, timezone

from sqlalchemy import BigInteger, String, case, exists, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from loyalty.models import Purchase

DAY_US = 86_400 * 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)


class epoch_us(FunctionElement):
    """Microseconds since 1970 of a UTC timestamp column, as an exact integer."""

    type = BigInteger()
    name = "epoch_us"
    inherit_cache = True


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element, compiler, **kw):
    # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff". strftime gets the whole seconds only (it
    # would round .999999 up to the next second); the microseconds are read as digits (an
    # empty fraction casts to 0).
    stamp = compiler.process(element.clauses, **kw)
    return (f"(CAST(strftime('%s', substr({stamp}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({stamp}, 21, 6) AS INTEGER))")


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element, compiler, **kw):
    # EXTRACT(EPOCH ...) is numeric (exact) since PostgreSQL 14.
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000000 AS BIGINT)"


class utc_month(FunctionElement):
    """'YYYY-MM' of a UTC timestamp column."""

    type = String()
    name = "utc_month"
    inherit_cache = True


@compiles(utc_month, "sqlite")
def _utc_month_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(utc_month, "postgresql")
def _utc_month_postgresql(element, compiler, **kw):
    # AT TIME ZONE: the month in UTC, whatever the session's time zone.
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM')"


def to_epoch_us(moment: datetime) -> int:
    """The Python side of `epoch_us`, for comparing against `now`."""
    return (moment - EPOCH) // ONE_US


def qualifying():
    """A purchase qualifies while money is still on it: net amount > 0 (Rules)."""
    return Purchase.amount - Purchase.refunded_amount - Purchase.disputed_amount > 0


def purchase_order():
    """One order for a member's purchases: time, then id for purchases at the same moment."""
    return (Purchase.occurred_at, Purchase.id)


def count_where(condition):
    """How many rows meet the condition (0, not NULL, over no rows)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def first_per_member(statement, order_by, partition_by=()):
    """Of `statement`'s rows, each member's first by `order_by` (per member and `partition_by`)."""
    ranked = statement.add_columns(
        func.row_number().over(partition_by=[statement.selected_columns.member_id, *partition_by],
                               order_by=order_by).label("position")).subquery("ranked")
    return select(*[column for column in ranked.c if column.key != "position"]).where(ranked.c.position == 1)


def bought_within(member_id, moment, window_days: int):
    """The member has a qualifying purchase with occurred_at in (moment, moment + window_days]
    (Rules: Retention after feedback, Service recovery); correlated on the two columns given."""
    return exists().where(Purchase.member_id == member_id, qualifying(), Purchase.occurred_at > moment,
                          epoch_us(Purchase.occurred_at) - epoch_us(moment) <= window_days * DAY_US)
