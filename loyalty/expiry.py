"""Points expiry (API.md, Program `expiry_policy`; Customers, timed rules).

`inactivity`: the whole balance expires `expiry_days` after the member's latest purchase.
`fixed`: each earning expires `expiry_days` after it was earned (a purchase's `occurred_at`, any
other credit's ledger time), and spending uses the oldest points first. Which points are left of
each earning is recomputed from the ledger every time (credits, in order, less every debit,
earlier expiries included), so running the job twice, or twice at once, expires nothing twice.
Points past their date stay spendable until run-jobs expires them.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select

from loyalty import ledger, members
from loyalty.actors import SYSTEM
from loyalty.extensions import db
from loyalty.models import LedgerEntry, Member, Purchase
from loyalty.outbound import events as outbox

PREVIEW_DAYS = 30


@dataclass
class Lot:
    """Points credited at one moment, and how many of them are still unspent."""
    earned_at: datetime
    left: int


def _lots(member_id: str) -> list[Lot]:
    """The member's credits with what is left of each, replaying the ledger in order.

    A reversal belongs to its purchase: it takes back that purchase's points first (and a
    reversal the other way gives them back). Every other debit spends the oldest points first;
    a debit nothing covers is a debt the next credits pay first.
    """
    rows = db.session.execute(
        select(LedgerEntry.type, LedgerEntry.points, LedgerEntry.purchase_id, LedgerEntry.created_at,
               Purchase.occurred_at)
        .outerjoin(Purchase, Purchase.id == LedgerEntry.purchase_id)
        .where(LedgerEntry.member_id == member_id)
        .order_by(LedgerEntry.id)
    ).all()
    lots: list[Lot] = []
    of_purchase: dict[str, Lot] = {}
    debt = 0
    for entry_type, points, purchase_id, created_at, occurred_at in rows:
        own = of_purchase.get(purchase_id) if entry_type == "reversal" else None
        if points > 0:
            paid = min(points, debt)
            debt, points = debt - paid, points - paid
            if own is not None:
                own.left += points
            elif points:
                lot = Lot(occurred_at if entry_type == "earn" else created_at, points)
                lots.append(lot)
                if entry_type == "earn":
                    of_purchase[purchase_id] = lot
            continue
        owed = -points
        if own is not None:
            taken = min(own.left, owed)
            own.left, owed = own.left - taken, owed - taken
        debt += _spend_oldest(lots, owed)
    return [lot for lot in lots if lot.left > 0]


def _spend_oldest(lots: list[Lot], owed: int) -> int:
    """Take `owed` points from the oldest lots; returns what they could not cover."""
    for lot in sorted(lots, key=lambda lot: lot.earned_at):
        taken = min(lot.left, owed)
        lot.left, owed = lot.left - taken, owed - taken
        if not owed:
            break
    return owed


def _fixed_due(lots: list[Lot], now: datetime, days: int) -> int:
    return sum(lot.left for lot in lots if lot.earned_at + timedelta(days=days) <= now)


def _oldest(lots: list[Lot]) -> datetime | None:
    return min((lot.earned_at for lot in lots), default=None)


def _inactive_since(member: Member) -> datetime:
    return member.last_purchase_at or member.enrolled_at


def expire_member(member_id: str, program, now: datetime) -> int:
    """Expire what is due for one member under the program's policy; returns the points expired.

    Under `fixed` the member's oldest_points_at is then set to the oldest points left (the next
    moment anything may expire), whatever was due: a visit is never repeated for nothing."""
    member = members.get_member(member_id, lock=True)  # locked and read fresh
    if program.expiry_policy == "inactivity":
        if member.points_balance <= 0:
            return 0
        due = member.points_balance if _inactive_since(member) + timedelta(days=program.expiry_days) <= now else 0
        return _expire(member, due, program)
    lots = _lots(member.id)
    due = _expire(member, min(_fixed_due(lots, now, program.expiry_days), max(member.points_balance, 0)), program)
    member.oldest_points_at = _oldest(_lots(member.id) if due else lots)
    return due


def _expire(member: Member, due: int, program) -> int:
    if due > 0:
        ledger.post_entry(member.id, "expiry", -due, SYSTEM, note=f"{program.expiry_policy} expiry")
        outbox.record("points.expired", {"member_id": member.id, "points": due})
    return due


def candidates_query(program, now: datetime):
    """Members who may have points to expire now, read from an index that holds only them."""
    cutoff = now - timedelta(days=program.expiry_days)
    if program.expiry_policy == "inactivity":  # ix_members_holding_last_purchase, ..._never_bought
        return select(Member.id).where(Member.points_balance > 0, or_(
            Member.last_purchase_at <= cutoff, and_(Member.last_purchase_at.is_(None), Member.enrolled_at <= cutoff)))
    return select(Member.id).where(Member.oldest_points_at <= cutoff)


def first_within(member: Member, program, days: int) -> datetime | None:
    """When the member's first points now held come within `days` of expiring (None: no points,
    or none that expire): the moment `upcoming(..., days)` first finds them."""
    if program.expiry_policy == "none" or member.points_balance <= 0:
        return None
    if program.expiry_policy == "inactivity":
        return _inactive_since(member) + timedelta(days=program.expiry_days - days)
    oldest = _oldest(_lots(member.id))
    return None if oldest is None else oldest + timedelta(days=program.expiry_days - days)


def upcoming(member: Member, program, now: datetime, days: int = PREVIEW_DAYS) -> dict | None:
    """The next points to expire within `days`: {"points", "on"}, or None."""
    if program.expiry_policy == "none" or member.points_balance <= 0:
        return None
    horizon = now + timedelta(days=days)
    if program.expiry_policy == "inactivity":
        on = _inactive_since(member) + timedelta(days=program.expiry_days)
        return {"points": member.points_balance, "on": on.date()} if on <= horizon else None
    by_day: dict[date, int] = {}
    for lot in _lots(member.id):
        on = lot.earned_at + timedelta(days=program.expiry_days)
        if on <= horizon:
            by_day[on.date()] = by_day.get(on.date(), 0) + lot.left
    if not by_day:
        return None
    first = min(by_day)
    return {"points": min(by_day[first], member.points_balance), "on": first}
