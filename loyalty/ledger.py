"""The points ledger: the only code that moves a member's points.

Every movement is one appended `ledger_entries` row plus the same change to the member's
cached `points_balance`, made by one conditional UPDATE ... RETURNING. That UPDATE locks the
member row on PostgreSQL and runs inside SQLite's single writer, so concurrent postings are
serialised and `balance_after` is exact. Debits that spend points (`require_funds=True`) only
succeed while the balance covers them; reversals and expiry may take a balance below zero
(API.md, Rules: Refunds). Pending points (not yet spendable) live in `points_pending` and only
reach the ledger when they vest. Nothing here commits: the caller's edge does.
"""
import functools
from typing import NamedTuple

from sqlalchemy import Row, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value

from loyalty import bulk, clock, settings
from loyalty.actors import Actor
from loyalty.errors import InsufficientPoints
from loyalty.extensions import db, insert_unless_exists
from loyalty.models import LedgerEntry, Member, Purchase
from loyalty.models.types import UTCDateTime

# The member's row, locked; the settings revision rides along (an earn needs both first).
LOCK_MEMBER = (
    select(Member, settings.REVISION).where(Member.id == bindparam("member_id")).with_for_update(of=Member)
    .options(lazyload(Member.tier)).execution_options(populate_existing=True)
)
# Every column of a member, named as the Member's attributes, for reads that need no ORM object:
# columns of the table, so that a statement of them runs as Core (no ORM loading).
MEMBER_COLUMNS = [column.label(prop.key) for prop in Member.__mapper__.column_attrs for column in prop.columns]


def lock_member(member_id: str) -> Member | None:
    """The member's row, locked until commit and read fresh (None if there is no such member).

    Locked without the tier join: PostgreSQL would hand back the joined tier columns from before
    the wait. A member this session already holds is refreshed (populate_existing).
    """
    row = db.session.execute(LOCK_MEMBER, {"member_id": member_id}).first()
    if row is None:
        return None
    settings.seen(row.settings_revision)
    return row.Member


class NewRow(NamedTuple):
    """A row the entry comes with (a purchase): inserted unless a row with its unique key exists,
    and the entry posted only if it went in. `values` holds every column."""
    model: type
    values: dict
    unique_columns: tuple[str, ...]


def post_entry(member_id: str, entry_type: str, points: int, actor: Actor, *,
               require_funds: bool = False, purchase_id=None, redemption_id=None,
               note=None, location=None, dedupe_key=None, created_at=None, earned_at=None,
               member_changes: dict | None = None, along_with: NewRow | None = None) -> Row | None:
    """Append one entry and move the cached balance with it; returns the entry. Never commits.

    `earned_at` is when credited points count as earned for fixed expiry (a purchase's
    occurred_at; default: now). `member_changes` are other member columns to set in the same
    UPDATE (one round trip less). With `along_with`, the new row goes in first, in the same
    statement on PostgreSQL, and None means it was there already: nothing is posted. The caller
    then holds the member's lock (lock_member), so the member exists; a credit needs no funds.
    The caller makes the new row's object (extensions.adopt) if it needs one.
    """
    if points == 0:
        raise ValueError("a ledger entry moves at least one point")
    if along_with is not None and require_funds:
        raise ValueError("a new row comes with a credit, never with a debit that needs funds")
    db.session.flush()  # what the entry refers to (a redemption, say) goes in first
    member_changes = member_changes or {}
    balance = {"member_id": member_id, "points": points, "updated_at": clock.now(),
               "earned_at": (earned_at or created_at or clock.now()) if points > 0 else None,
               **{f"set_{name}": value for name, value in member_changes.items()}}
    entry = {
        "member_id": member_id, "type": entry_type, "points": points, "actor_type": actor.type,
        "actor_id": actor.id, "purchase_id": purchase_id, "redemption_id": redemption_id, "note": note,
        "location": location, "dedupe_key": dedupe_key, "created_at": created_at or clock.now(),
    }
    if db.session.get_bind().dialect.name == "postgresql":
        entry_values = {f"entry_{key}": value for key, value in entry.items()}
        row_values = {f"row_{key}": value for key, value in along_with.values.items()} if along_with else {}
        statement = _posting(require_funds, tuple(member_changes), _shape_of(along_with))
        row = db.session.execute(statement, {**balance, **entry_values, **row_values}).first()
    elif along_with is not None and not insert_unless_exists(*along_with):
        row = None
    else:
        row = _post_in_two_statements(_balance_moved(require_funds, tuple(member_changes)), balance, entry)
    if along_with is not None and row is None:
        return None
    if row is None:
        if require_funds:
            raise InsufficientPoints(needed=-points)
        raise LookupError(f"no member {member_id}")
    member = _held(member_id)
    if member is not None:  # what the UPDATE wrote, without reading it back
        for name, value in {"points_balance": row.balance_after, "updated_at": balance["updated_at"],
                            **member_changes}.items():
            set_committed_value(member, name, value)
        if points > 0:
            db.session.expire(member, list(EARLIER_ON_CREDIT))
    return row


def _earlier(column, moment):
    """`moment` if it is earlier than the column's value (or the column is null), else the value;
    a null `moment` leaves the value as it is."""
    return case((or_(column.is_(None), column > moment), moment), else_=column)


# Next-due moments a credit moves to its `earned_at` when that is earlier: fixed expiry's (the
# oldest unspent points) and points.expiring's (any credit may bring an expiry within the notice).
EARLIER_ON_CREDIT = ("oldest_points_at", "expiring_notice_at")

ENTRY_COLUMNS = ("member_id", "type", "points", "actor_type", "actor_id", "purchase_id", "redemption_id",
                 "note", "location", "dedupe_key", "created_at")


@functools.cache
def _balance_moved(require_funds: bool, member_columns: tuple[str, ...]):
    """The conditional UPDATE ... RETURNING that moves the balance, built once per shape with
    every value a parameter. No row: no such member, or too few points for a debit that needs them."""
    members = Member.__table__
    moved = (
        update(members).where(members.c.id == bindparam("member_id"))
        .values(points_balance=members.c.points_balance + bindparam("points"),
                # A credit's points may be the oldest unspent, and may expire soon (next due moments).
                **{name: _earlier(members.c[name], bindparam("earned_at", type_=UTCDateTime()))
                   for name in EARLIER_ON_CREDIT},
                updated_at=bindparam("updated_at"),  # given, not left to the column's onupdate
                **{name: bindparam(f"set_{name}") for name in member_columns})
        .returning(members.c.points_balance)
    )
    if require_funds:
        moved = moved.where(members.c.points_balance + bindparam("points") >= 0)
    return moved


def _shape_of(new_row: NewRow | None):
    """What a statement built for `new_row` depends on (its values are parameters)."""
    if new_row is None:
        return None
    return new_row.model.__table__, tuple(new_row.unique_columns), tuple(new_row.values)


@functools.cache
def _posting(require_funds: bool, member_columns: tuple[str, ...], new_row=None):
    """PostgreSQL: the balance UPDATE and the entry INSERT (with the balance it returned) as one
    statement; with a `new_row` shape (table, unique columns, columns) its INSERT ... ON CONFLICT
    DO NOTHING leads, and the balance moves only if the row went in. SQLite has no INSERT or
    UPDATE inside WITH: _post_in_two_statements."""
    entries = LedgerEntry.__table__
    moved = _balance_moved(require_funds, member_columns)
    leading = []
    if new_row is not None:
        table, unique_columns, columns = new_row
        inserted = (postgresql.insert(table)
                    .values({name: bindparam(f"row_{name}", type_=table.c[name].type) for name in columns})
                    .on_conflict_do_nothing(index_elements=unique_columns)
                    .returning(table.c[unique_columns[0]]).cte("new_row"))
        moved = moved.where(select(inserted).exists())
        leading.append(inserted)
    moved = moved.cte("moved")
    values = [bindparam(f"entry_{name}", type_=entries.c[name].type) for name in ENTRY_COLUMNS]
    return (insert(entries).from_select([*ENTRY_COLUMNS, "balance_after"], select(*values, moved.c.points_balance))
            .add_cte(*leading, moved).returning(*entries.c))


INSERT_ENTRY = insert(LedgerEntry.__table__).returning(*LedgerEntry.__table__.c)


def _post_in_two_statements(moved, balance: dict, entry: dict) -> Row | None:
    balance_after = db.session.execute(moved, balance).scalar_one_or_none()
    if balance_after is None:
        return None
    return db.session.execute(INSERT_ENTRY, {**entry, "balance_after": balance_after}).first()


def post_batch(entries: list[dict], members: dict[str, dict], pending_moved: dict[str, int]) -> None:
    """Append many entries and move many members' points at once (an import). Never commits.

    `members` maps each member id to its row as read under its lock (`points_balance`,
    `points_pending` and the EARLIER_ON_CREDIT moments) plus the other columns to write with it (the same keys
    for every member). The entries (member_id, type, points, the optional columns of post_entry
    and `earned_at` as post_entry's), in order, chain their balance_after from that balance; the
    balances and pending points then move in one statement, as the members' rows are locked.
    """
    now = clock.now()
    balances = {member_id: row["points_balance"] for member_id, row in members.items()}
    moments = {member_id: {name: row[name] for name in EARLIER_ON_CREDIT} for member_id, row in members.items()}
    rows = []
    for entry in entries:
        if entry["points"] == 0:
            raise ValueError("a ledger entry moves at least one point")
        member_id, earned_at = entry["member_id"], entry.pop("earned_at", now)
        balances[member_id] += entry["points"]
        if entry["points"] > 0:
            for name, moment in moments[member_id].items():
                if moment is None or earned_at < moment:
                    moments[member_id][name] = earned_at
        rows.append({**dict.fromkeys(ENTRY_COLUMNS), "created_at": now, **entry,
                     "balance_after": balances[member_id]})
    bulk.append_rows(LedgerEntry.__table__, rows)
    changed = [{**row, "id": member_id, "points_balance": balances[member_id], "updated_at": now,
                **moments[member_id],
                "points_pending": row["points_pending"] + pending_moved.get(member_id, 0)}
               for member_id, row in members.items()]
    bulk.update_rows(Member.__table__, changed)


def move_pending(member_id: str, points: int) -> None:
    """Add (or, negative, remove) points held pending on a member."""
    db.session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(points_pending=Member.points_pending + points)
        .execution_options(synchronize_session=False)
    )
    _expire_cached_balance(member_id)


def _held(member_id: str) -> Member | None:
    """The Member this session holds for `member_id`, if any (no query)."""
    return db.session.identity_map.get(Member.__mapper__.identity_key_from_primary_key((member_id,)))


def _expire_cached_balance(member_id: str) -> None:
    member = _held(member_id)
    if member is not None:
        db.session.expire(member, ["points_balance", "points_pending"])


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
