"""A member's whole story (API.md, Service: Timeline), newest first, in stable cursor pages.

One SQL statement per page: every source (the member, purchases, ledger entries, redemptions,
tier history, feedback, cases, replies, case events, notes) is one SELECT of the same columns,
the SELECTs are joined by UNION ALL, and a keyset on (at, rank, item_id) picks the page; only
the page's rows get their actor's name and become sentences (in Python, a page at a time). The
rank orders items that share a moment as the story happened (a purchase before the tier it
reached, a resolution before its goodwill), and item_id makes every key unique, so a page
boundary never drops or repeats an item.
"""
import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, Integer, String, and_, bindparam, case, cast, literal, null, select, tuple_,
                        type_coerce, union_all)

from loyalty.currency import exponent
from loyalty.extensions import db
from loyalty.models import (Case, CaseEvent, CaseReply, Feedback, LedgerEntry, Member, Note, Purchase, Redemption,
                            Reward, Tier, TierChange)
from loyalty.models.types import UTCDateTime
from loyalty.service.common import actor_name

# Every kind, in the order things happen at one moment (the rank breaks ties in `at`).
KINDS = ("enrolled", "purchase", "tier_changed", "bonus", "refund", "dispute", "redemption_issued",
         "redemption_used", "redemption_voided", "redemption_expired", "adjustment", "case_opened", "case_reply",
         "case_resolved", "goodwill", "case_reopened", "expiry", "feedback", "note")
RANK = {kind: rank for rank, kind in enumerate(KINDS)}
LEDGER_KINDS = ("adjustment", "bonus", "expiry")
COLUMNS = ("at", "rank", "item_id", "kind", "points", "ref_type", "ref_id", "actor_type", "actor_id",
           "text1", "text2", "text3", "number")


def _text(value):
    return cast(value, String) if value is not None else cast(null(), String)


def _number(value):
    return cast(value, BigInteger) if value is not None else cast(null(), BigInteger)


def _row(*, at, kind, item_id, ref_type, ref_id, points=None, actor_type=None, actor_id=None,
         text1=None, text2=None, text3=None, number=None, rank=None):
    """One source's SELECT list, in COLUMNS order and with the same types in every source."""
    kind_column = literal(kind, String) if isinstance(kind, str) else kind
    rank_column = literal(RANK[kind], Integer) if rank is None else rank
    return [
        # type_coerce, not CAST: a CAST would give SQLite's text dates numeric affinity.
        type_coerce(at, UTCDateTime).label("at"), cast(rank_column, Integer).label("rank"),
        _text(item_id).label("item_id"), cast(kind_column, String).label("kind"), _number(points).label("points"),
        cast(literal(ref_type, String), String).label("ref_type"), _text(ref_id).label("ref_id"),
        _text(actor_type).label("actor_type"), _text(actor_id).label("actor_id"), _text(text1).label("text1"),
        _text(text2).label("text2"), _text(text3).label("text3"), _number(number).label("number"),
    ]


def _enrolled(member_id):
    return select(*_row(at=Member.enrolled_at, kind="enrolled", item_id=Member.id, ref_type="member",
                        ref_id=Member.id, text1=Member.member_code)).where(Member.id == member_id)


def _purchases(member_id):
    earn = LedgerEntry.__table__.alias("earn")  # at most one earn entry per purchase (now, or when vested)
    return (select(*_row(at=Purchase.occurred_at, kind="purchase", item_id=Purchase.id, ref_type="purchase",
                         ref_id=Purchase.id, points=earn.c.points, actor_type=earn.c.actor_type,
                         actor_id=earn.c.actor_id, text1=Purchase.order_id, text2=Purchase.currency,
                         text3=Purchase.source, number=Purchase.amount))
            .outerjoin(earn, and_(earn.c.purchase_id == Purchase.id, earn.c.type == "earn"))
            .where(Purchase.member_id == member_id))


def _reversals(member_id, kinds):
    """refund and dispute: one item per reversal entry (taken back, or given back)."""
    disputed = LedgerEntry.note.like("%dispute%")
    kind = case((disputed, "dispute"), else_="refund")
    query = (select(*_row(at=LedgerEntry.created_at, kind=kind, rank=case((disputed, RANK["dispute"]),
                                                                          else_=RANK["refund"]),
                          item_id=LedgerEntry.id, ref_type="purchase", ref_id=LedgerEntry.purchase_id,
                          points=LedgerEntry.points, actor_type=LedgerEntry.actor_type,
                          actor_id=LedgerEntry.actor_id, text1=Purchase.order_id))
             .outerjoin(Purchase, Purchase.id == LedgerEntry.purchase_id)
             .where(LedgerEntry.member_id == member_id, LedgerEntry.type == "reversal"))
    if "refund" not in kinds:
        query = query.where(disputed)
    elif "dispute" not in kinds:
        query = query.where(~disputed)
    return query


def _redemptions_issued(member_id):
    return (select(*_row(at=Redemption.issued_at, kind="redemption_issued", item_id=Redemption.id,
                         ref_type="redemption", ref_id=Redemption.id, points=-Redemption.points,
                         actor_type=Redemption.actor_type, actor_id=Redemption.actor_id, text1=Reward.name,
                         text2=Redemption.location, number=Redemption.points))
            .join(Reward, Reward.id == Redemption.reward_id).where(Redemption.member_id == member_id))


def _redemptions_used(member_id):
    return (select(*_row(at=Redemption.used_at, kind="redemption_used", item_id=Redemption.id,
                         ref_type="redemption", ref_id=Redemption.id, actor_type=Redemption.used_by_actor_type,
                         actor_id=Redemption.used_by_actor_id, text1=Reward.name, text2=Redemption.used_location,
                         number=Redemption.points))
            .join(Reward, Reward.id == Redemption.reward_id)
            .where(Redemption.member_id == member_id, Redemption.used_at.is_not(None)))


def _redemptions_returned(member_id, kinds):
    """redemption_voided and redemption_expired: the entry that gave the voucher's points back."""
    expired = Redemption.status == "expired"
    query = (select(*_row(at=LedgerEntry.created_at, kind=case((expired, "redemption_expired"),
                                                               else_="redemption_voided"),
                          rank=case((expired, RANK["redemption_expired"]), else_=RANK["redemption_voided"]),
                          item_id=LedgerEntry.id, ref_type="redemption", ref_id=Redemption.id,
                          points=LedgerEntry.points, actor_type=LedgerEntry.actor_type,
                          actor_id=LedgerEntry.actor_id, text1=Reward.name, text2=LedgerEntry.location))
             .join(Redemption, Redemption.id == LedgerEntry.redemption_id)
             .join(Reward, Reward.id == Redemption.reward_id)
             .where(LedgerEntry.member_id == member_id, LedgerEntry.type == "return"))
    if "redemption_voided" not in kinds:
        query = query.where(expired)
    elif "redemption_expired" not in kinds:
        query = query.where(~expired)
    return query


def _tier_changes(member_id):
    return (select(*_row(at=TierChange.effective_at, kind="tier_changed", item_id=TierChange.id,
                         ref_type="tier_history", ref_id=TierChange.id, text1=Tier.name, text2=TierChange.reason,
                         text3=Tier.key))
            .outerjoin(Tier, Tier.id == TierChange.tier_id)
            .where(TierChange.member_id == member_id, TierChange.reason != "enrolled"))


def _ledger(member_id, kinds):
    types = [kind for kind in LEDGER_KINDS if kind in kinds]
    return (select(*_row(at=LedgerEntry.created_at, kind=LedgerEntry.type,
                         rank=case(*((LedgerEntry.type == kind, RANK[kind]) for kind in types)),
                         item_id=LedgerEntry.id, ref_type="transaction", ref_id=LedgerEntry.id,
                         points=LedgerEntry.points, actor_type=LedgerEntry.actor_type,
                         actor_id=LedgerEntry.actor_id, text1=LedgerEntry.note, text2=LedgerEntry.location))
            .where(LedgerEntry.member_id == member_id, LedgerEntry.type.in_(types)))


def _goodwill(member_id):
    return (select(*_row(at=LedgerEntry.created_at, kind="goodwill", item_id=LedgerEntry.id, ref_type="case",
                         ref_id=CaseEvent.case_id, points=LedgerEntry.points, actor_type=LedgerEntry.actor_type,
                         actor_id=LedgerEntry.actor_id, text1=Case.subject))
            .outerjoin(CaseEvent, CaseEvent.ledger_entry_id == LedgerEntry.id)
            .outerjoin(Case, Case.id == CaseEvent.case_id)
            .where(LedgerEntry.member_id == member_id, LedgerEntry.type == "goodwill"))


def _feedback(member_id):
    return select(*_row(at=Feedback.created_at, kind="feedback", item_id=Feedback.id, ref_type="feedback",
                        ref_id=Feedback.id, actor_type=Feedback.actor_type, actor_id=Feedback.actor_id,
                        text1=Feedback.kind, text2=Feedback.band, text3=Feedback.comment, number=Feedback.score)
                  ).where(Feedback.member_id == member_id)


def _cases_opened(member_id):
    return select(*_row(at=Case.opened_at, kind="case_opened", item_id=Case.id, ref_type="case", ref_id=Case.id,
                        actor_type=Case.actor_type, actor_id=Case.actor_id, text1=Case.subject,
                        text2=Case.category)).where(Case.member_id == member_id)


def _case_replies(member_id):
    return (select(*_row(at=CaseReply.created_at, kind="case_reply", item_id=CaseReply.id, ref_type="case",
                         ref_id=CaseReply.case_id, actor_type=CaseReply.author_type, actor_id=CaseReply.author_id,
                         text1=Case.subject, text2=CaseReply.text))
            .join(Case, Case.id == CaseReply.case_id).where(CaseReply.member_id == member_id))


def _case_events(member_id, kinds):
    types = [kind.removeprefix("case_") for kind in ("case_resolved", "case_reopened") if kind in kinds]
    kind = case((CaseEvent.type == "resolved", "case_resolved"), else_="case_reopened")
    rank = case((CaseEvent.type == "resolved", RANK["case_resolved"]), else_=RANK["case_reopened"])
    return (select(*_row(at=CaseEvent.at, kind=kind, rank=rank, item_id=CaseEvent.id, ref_type="case",
                         ref_id=CaseEvent.case_id, actor_type=CaseEvent.actor_type, actor_id=CaseEvent.actor_id,
                         text1=Case.subject, text2=CaseEvent.resolution, number=CaseEvent.goodwill_points))
            .join(Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.member_id == member_id, CaseEvent.type.in_(types)))


def _notes(member_id):
    return select(*_row(at=Note.created_at, kind="note", item_id=Note.id, ref_type="note", ref_id=Note.id,
                        actor_type=Note.author_type, actor_id=Note.author_id, text1=Note.text,
                        text2=case((Note.pinned, "pinned"), else_=None))).where(Note.member_id == member_id)


# Each source and the kinds it gives; sources taking `kinds` narrow themselves to those asked for.
SOURCES = [
    (("enrolled",), _enrolled), (("purchase",), _purchases), (("refund", "dispute"), _reversals),
    (("redemption_issued",), _redemptions_issued), (("redemption_used",), _redemptions_used),
    (("redemption_voided", "redemption_expired"), _redemptions_returned), (("tier_changed",), _tier_changes),
    (LEDGER_KINDS, _ledger), (("goodwill",), _goodwill), (("feedback",), _feedback),
    (("case_opened",), _cases_opened), (("case_reply",), _case_replies),
    (("case_resolved", "case_reopened"), _case_events), (("note",), _notes),
]
TAKES_KINDS = {_reversals, _redemptions_returned, _ledger, _case_events}


@dataclass(frozen=True)
class Position:
    """Where a page ends: the key of its last item."""

    at: datetime
    rank: int
    item_id: str


@functools.cache
def page_statement(kinds: frozenset[str], after_a_position: bool):
    """The one statement for a page: up to :limit items of :member_id, older than the position
    (:after_at, :after_rank, :after_id) when one is given, newest first. Built once per shape."""
    member_id = bindparam("member_id", type_=String)
    selects = [source(member_id, kinds) if source in TAKES_KINDS else source(member_id)
               for gives, source in SOURCES if kinds.intersection(gives)]
    items = union_all(*selects).subquery("items")
    key = (items.c.at, items.c.rank, items.c.item_id)
    page = select(items).order_by(*(column.desc() for column in key)).limit(bindparam("limit", type_=Integer))
    if after_a_position:
        page = page.where(tuple_(*key) < tuple_(bindparam("after_at", type_=UTCDateTime),
                                                bindparam("after_rank", type_=Integer),
                                                bindparam("after_id", type_=String)))
    page = page.subquery("page")
    # Names only for the page's rows, not for every item of the member.
    return (select(page, actor_name(page.c.actor_type, page.c.actor_id).label("actor_name"))
            .order_by(page.c.at.desc(), page.c.rank.desc(), page.c.item_id.desc()))


def timeline(member_id: str, kinds: frozenset[str] | None = None, limit: int = 20,
             after: Position | None = None) -> tuple[list[dict], Position | None]:
    """One page of the member's story and where the next begins (None after the last)."""
    params = {"member_id": member_id, "limit": limit + 1}
    if after is not None:
        params.update(after_at=after.at, after_rank=after.rank, after_id=after.item_id)
    statement = page_statement(frozenset(kinds or KINDS), after is not None)
    rows = db.session.execute(statement, params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = Position(rows[-1].at, rows[-1].rank, rows[-1].item_id) if more else None
    return [_item(row) for row in rows], last


def _item(row) -> dict:
    actor = None
    if row.actor_type in ("staff", "api_key", "customer"):
        actor = {"type": row.actor_type, "id": row.actor_id, "name": row.actor_name}
    return {"at": row.at, "kind": row.kind, "summary": summary(row), "points": row.points,
            "ref": {"type": row.ref_type, "id": row.ref_id}, "actor": actor}


# -- sentences ----------------------------------------------------------------------------------

def money(amount: int, currency: str) -> str:
    """12.50 USD from 1250 usd (the currency's minor unit)."""
    places = exponent(currency)
    return f"{Decimal(amount).scaleb(-places):.{places}f} {currency.upper()}"


def _points(points: int) -> str:
    return f"{points} point" if abs(points) == 1 else f"{points} points"


def _by(row) -> str:
    return f", by {row.actor_name}" if row.actor_name and row.actor_type in ("staff", "api_key") else ""


def _at(location: str | None) -> str:
    return f" at {location}" if location else ""


def _quoted(text: str | None, length: int = 80) -> str:
    if not text:
        return ""
    return f'"{text[:length]}…"' if len(text) > length else f'"{text}"'


def _moved(points: int | None, taken: str, given: str) -> str:
    if not points:
        return ""
    return f": {_points(abs(points))} {taken if points < 0 else given}"


SENTENCES = {
    "enrolled": lambda r: f"Joined the program (member code {r.text1})",
    "purchase": lambda r: (f"Bought for {money(r.number, r.text2)} (order {r.text1})"
                           + (f", earned {_points(r.points)}" if r.points else "") + _by(r)),
    "refund": lambda r: f"Refund on order {r.text1}{_moved(r.points, 'taken back', 'given back')}{_by(r)}",
    "dispute": lambda r: f"Payment dispute on order {r.text1}{_moved(r.points, 'taken back', 'given back')}",
    "redemption_issued": lambda r: f"Redeemed {r.text1} ({_points(r.number)}){_at(r.text2)}{_by(r)}",
    "redemption_used": lambda r: f"Used the voucher for {r.text1}{_at(r.text2)}{_by(r)}",
    "redemption_voided": lambda r: f"Voucher for {r.text1} voided, {_points(r.points)} returned{_by(r)}",
    "redemption_expired": lambda r: f"Voucher for {r.text1} expired, {_points(r.points)} returned",
    "tier_changed": lambda r: f"Tier changed to {r.text1 or 'no tier'} ({r.text2.replace('_', ' ')})",
    "adjustment": lambda r: f"Points adjusted by {r.points:+d}: {r.text1}{_at(r.text2)}{_by(r)}",
    "bonus": lambda r: f"Bonus of {_points(r.points)}" + (f": {r.text1}" if r.text1 else ""),
    "goodwill": lambda r: (f"Goodwill of {_points(r.points)}"
                           + (f" for case {_quoted(r.text1)}" if r.text1 else "") + _by(r)),
    "expiry": lambda r: f"{_points(-r.points)} expired",
    "feedback": lambda r: (f"Gave {r.text1.upper()} {r.number} ({r.text2})"
                           + (f": {_quoted(r.text3)}" if r.text3 else "") + _by(r)),
    "case_opened": lambda r: f"Opened case {_quoted(r.text1)} ({r.text2}){_by(r)}",
    "case_reply": lambda r: (("Customer replied" if r.actor_type == "customer" else "Shop replied")
                             + f" on case {_quoted(r.text1)}: {_quoted(r.text2)}{_by(r)}"),
    "case_resolved": lambda r: (f"Resolved case {_quoted(r.text1)}: {_quoted(r.text2)}"
                                + (f" with {_points(r.number)} of goodwill" if r.number else "") + _by(r)),
    "case_reopened": lambda r: f"Reopened case {_quoted(r.text1)}{_by(r)}",
    "note": lambda r: ("Pinned note: " if r.text2 else "Note: ") + _quoted(r.text1) + _by(r),
}


def summary(row) -> str:
    """A sentence a person can read, e.g. "Redeemed 10% off (500 points) at Store 12, by Ana"."""
    return SENTENCES[row.kind](row)
