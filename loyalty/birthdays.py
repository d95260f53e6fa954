"""Birthday bonuses: once a year, in the member's birthday month (run-jobs)."""
from datetime import datetime

from sqlalchemy import extract, select
from sqlalchemy.exc import IntegrityError

from loyalty import ledger
from loyalty.actors import SYSTEM
from loyalty.extensions import db
from loyalty.models import LedgerEntry, Member


def _dedupe_key(member_id: str, year: int) -> str:
    return f"birthday:{member_id}:{year}"


def due_query(now: datetime):
    """Active members whose birthday month it is and who have not had this year's bonus."""
    paid = select(LedgerEntry.id).where(
        LedgerEntry.dedupe_key == "birthday:" + Member.id + f":{now.year}")
    return select(Member.id).where(
        Member.status == "active", Member.birthday.is_not(None),
        extract("month", Member.birthday) == now.month, ~paid.exists())


def pay(member_id: str, bonus: int, now: datetime) -> bool:
    """Pay this year's bonus unless it was paid (the unique dedupe key makes it once, even in a race)."""
    try:
        with db.session.begin_nested():
            ledger.post_entry(member_id, "bonus", bonus, SYSTEM, note=f"Birthday bonus {now.year}",
                              dedupe_key=_dedupe_key(member_id, now.year))
    except IntegrityError:
        return False
    return True
