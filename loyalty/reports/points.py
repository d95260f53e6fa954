"""Points (API.md, Reports): the period's roll-forward by ledger time, and what is owed now.

opening + issued − redeemed − expired − reversed + adjusted = closing holds to the point
because every entry type lands in exactly one column, and opening/closing are plain sums.
"""
from sqlalchemy import and_, case, func, select

from loyalty import settings
from loyalty.models import LedgerEntry, Member
from loyalty.reports import source
from loyalty.reports.period import Period, rate

COLUMNS = ["opening", "issued", "redeemed", "expired", "reversed", "adjusted", "closing", "outstanding",
           "pending", "liability_amount", "liability_currency", "redemption_rate", "breakage_rate"]

# Column -> (entry types, sign): debits are shown as positive counts, adjustments keep their sign.
MOVEMENTS = {
    "issued": (("earn", "bonus", "goodwill"), 1),
    "redeemed": (("redeem", "return"), -1),
    "expired": (("expiry",), -1),
    "reversed": (("reversal",), -1),
    "adjusted": (("adjustment",), 1),
}


def report(period: Period) -> dict:
    """One object: the roll-forward for [from, to), then balances and liability as of now."""
    report = _roll_forward(period)
    report.update(_outstanding())
    report["redemption_rate"] = rate(report["redeemed"], report["issued"]) if report["issued"] > 0 else None
    report["breakage_rate"] = rate(report["expired"], report["issued"]) if report["issued"] > 0 else None
    return report


def _sum_where(condition, value=LedgerEntry.points):
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _roll_forward(period: Period) -> dict:
    in_period = LedgerEntry.created_at >= period.start
    columns = {"opening": _sum_where(LedgerEntry.created_at < period.start)}
    for name, (types, sign) in MOVEMENTS.items():
        columns[name] = sign * _sum_where(and_(in_period, LedgerEntry.type.in_(types)))
    columns["closing"] = func.coalesce(func.sum(LedgerEntry.points), 0)
    query = select(*(column.label(name) for name, column in columns.items())).where(
        LedgerEntry.created_at < period.end)
    row = source.execute(query).mappings().one()
    return {name: int(value) for name, value in row.items()}


def _outstanding() -> dict:
    program = settings.current().program
    balance, pending = source.execute(
        select(func.coalesce(func.sum(Member.points_balance), 0), func.coalesce(func.sum(Member.points_pending), 0))
    ).one()
    return {"outstanding": int(balance), "pending": int(pending),
            "liability": {"amount": int(balance) * program.point_value_amount,
                          "currency": program.point_value_currency}}
