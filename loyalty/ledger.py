"""The points ledger: the only code that moves a member's points.

Every movement is one appended `ledger_entries` row plus the same change to the member's
cached `points_balance`, made by one conditional UPDATE ... RETURNING. That UPDATE locks the
member row on PostgreSQL and runs inside SQLite's single writer, so concurrent postings are
serialised and `balance_after` is exact. Debits that spend points (`require_funds=True`) only
succeed while the balance covers them; reversals and expiry may take a balance below zero
(API.md, Rules: Refunds). Pending points (not yet spendable) live in `points_pending` and only
reach the ledger when they vest. Nothing here commits: the caller's edge does.
"""
from sqlalchemy import func, select, update
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.util import identity_key

from loyalty.actors import Actor
from loyalty.errors import InsufficientPoints
from loyalty.extensions import db
from loyalty.models import LedgerEntry, Member, Purchase




def lock_member(member_id: str) -> Member | None:
    """The member's row, locked until commit and read fresh (None if there is no such member).

    Locked without the tier join: PostgreSQL would hand back the joined tier columns from before
    the wait. populate_existing, so an object read earlier in the request is brought up to date.
    """
    return db.session.execute(
        select(Member).where(Member.id == member_id).with_for_update()
        .options(lazyload(Member.tier)).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def post_entry(member_id: str, entry_type: str, points: int, actor: Actor, *,
               require_funds: bool = False, purchase_id=None, redemption_id=None,
               note=None, location=None, dedupe_key=None, created_at=None,
               member_changes: dict | None = None) -> LedgerEntry:
    """Append one entry and move the cached balance with it. Flushes; never commits.

    `member_changes` are other member columns to set in the same UPDATE (one round trip less).
    """
    if points == 0:
        raise ValueError("a ledger entry moves at least one point")
    statement = (
        update(Member)
        .where(Member.id == member_id)
        .values(points_balance=Member.points_balance + points, **(member_changes or {}))
        .returning(Member.points_balance)
        .execution_options(synchronize_session=False)
    )
    if require_funds:
        statement = statement.where(Member.points_balance + points >= 0)
    balance_after = db.session.execute(statement).scalar_one_or_none()
    if balance_after is None:
        if require_funds:
            raise InsufficientPoints(needed=-points)
        raise LookupError(f"no member {member_id}")
    entry = LedgerEntry(
        member_id=member_id, type=entry_type, points=points, balance_after=balance_after,
        actor_type=actor.type, actor_id=actor.id, purchase_id=purchase_id,
        redemption_id=redemption_id, note=note, location=location, dedupe_key=dedupe_key,
    )
    if created_at is not None:
        entry.created_at = created_at
    db.session.add(entry)
    db.session.flush()
    _expire_cached_balance(member_id, *(member_changes or ()))
    return entry


def move_pending(member_id: str, points: int) -> None:
    """Add (or, negative, remove) points held pending on a member."""
    db.session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(points_pending=Member.points_pending + points)
        .execution_options(synchronize_session=False)
    )
    _expire_cached_balance(member_id)


def _expire_cached_balance(member_id: str, *others: str) -> None:
    member = db.session.identity_map.get(identity_key(Member, member_id))
    if member is not None:
        db.session.expire(member, ["points_balance", "points_pending", *others])


def drifted_members(batch_size: int = 5000):
    """Yield (member_id, cached balance, sum of entries) for every member whose cache drifted."""
    sums = (
        select(LedgerEntry.member_id, func.sum(LedgerEntry.points).label("total"))
        .group_by(LedgerEntry.member_id)
        .subquery()
    )
    query = (
        select(Member.id, Member.points_balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.member_id == Member.id)
        .where(Member.points_balance != func.coalesce(sums.c.total, 0))
        .execution_options(yield_per=batch_size)
    )
    yield from db.session.execute(query)


def broken_chains():
    """Yield (member_id, entry id) where an entry's balance_after does not follow its predecessor."""
    previous = func.lag(LedgerEntry.balance_after, 1, 0).over(
        partition_by=LedgerEntry.member_id, order_by=LedgerEntry.id
    )
    rows = select(
        LedgerEntry.member_id, LedgerEntry.id, LedgerEntry.points, LedgerEntry.balance_after,
        previous.label("previous"),
    ).subquery()
    query = select(rows.c.member_id, rows.c.id).where(
        rows.c.previous + rows.c.points != rows.c.balance_after
    )
    yield from db.session.execute(query)


def drifted_pending():
    """Yield (member_id, cached pending, pending held by purchases) where they differ."""
    sums = (
        select(Purchase.member_id, func.sum(Purchase.pending_points).label("total"))
        .group_by(Purchase.member_id)
        .subquery()
    )
    held = func.coalesce(sums.c.total, 0)
    query = (
        select(Member.id, Member.points_pending, held)
        .outerjoin(sums, sums.c.member_id == Member.id)
        .where(Member.points_pending != held)
    )
    yield from db.session.execute(query)
