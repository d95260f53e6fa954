"""Birthday bonuses: once a year, in the member's birthday month (run-jobs).

Each member carries `birthday_bonus_at`, the start of the birthday month in which their next
bonus falls due, so run-jobs reads only the members whose month has come.
"""
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from loyalty import ledger
from loyalty.actors import SYSTEM
from loyalty.extensions import db
from loyalty.models import Member


def _dedupe_key(member_id: str, year: int) -> str:
    return f"birthday:{member_id}:{year}"


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=timezone.utc)


def next_due(birthday: date | None, now: datetime, *, visited: bool = False) -> datetime | None:
    """When the next bonus falls due: the start of this year's birthday month while that month
    has not ended (and, once run-jobs has `visited` the member in it, not started), else next
    year's. None without a birthday."""
    if birthday is None:
        return None
    this_year = _month_start(now.year, birthday.month)
    month_end = _month_start(now.year + 1, 1) if birthday.month == 12 else _month_start(now.year, birthday.month + 1)
    if now >= month_end or (visited and now >= this_year):
        return _month_start(now.year + 1, birthday.month)
    return this_year


def due_query(now: datetime):
    """Members whose birthday month has come since they were last looked at."""
    return select(Member.id).where(Member.birthday_bonus_at <= now)


def pay_if_due(member_id: str, bonus: int, now: datetime) -> bool:
    """Pay an active member's bonus in their birthday month (once a year), then set when the next
    one falls due; returns whether it was paid."""
    member = ledger.lock_member(member_id)
    paid = (member.status == "active" and member.birthday is not None and member.birthday.month == now.month
            and pay(member_id, bonus, now))
    member.birthday_bonus_at = next_due(member.birthday, now, visited=True)
    return paid


def pay(member_id: str, bonus: int, now: datetime) -> bool:
    """Pay this year's bonus unless it was paid (the unique dedupe key makes it once, even in a race)."""
    try:
        with db.session.begin_nested():
            ledger.post_entry(member_id, "bonus", bonus, SYSTEM, note=f"Birthday bonus {now.year}",
                              dedupe_key=_dedupe_key(member_id, now.year))
    except IntegrityError:
        return False
    return True
