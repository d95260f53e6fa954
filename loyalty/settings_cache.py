"""Settings rows (program, tiers, campaigns) kept per process between requests.

Every earn and balance read needs them and they rarely change, so each process keeps the rows it
last read, labelled with the program's `settings_revision` at the time. A transaction learns the
current revision once (authentication reads it with the credential) and reuses kept rows only
when their label matches. Every flush that touches a settings row gives the program a new random
revision in the same transaction, so other processes see a change from their next transaction
on, as they would without the cache. The transaction that writes reads its own uncommitted rows
from the database and keeps nothing.

Writing these tables outside the application (raw SQL) must set a new `settings_revision` too.
"""
import pickle

from sqlalchemy import Row, event, select, update
from sqlalchemy.engine import FrozenResult, Result
from sqlalchemy.orm import Session
from sqlalchemy.orm.loading import merge_frozen_result

from loyalty.extensions import db, once_per_transaction, per_transaction
from loyalty.models import Campaign, Program, Tier
from loyalty.models.program import new_settings_revision

SETTINGS_MODELS = (Program, Tier, Campaign)

# The revision as a scalar subquery, for authentication to read in the same round trip.
REVISION = (select(Program.settings_revision).where(Program.id == 1)
            .scalar_subquery().label("settings_revision"))

_kept: dict[str, tuple[str, FrozenResult | list[Row]]] = {}


def remember_revision(revision: str | None) -> None:
    """The revision read alongside the credential: this transaction need not ask again."""
    per_transaction(db.session()).setdefault("settings_revision", revision)


def _revision() -> str | None:
    return once_per_transaction(
        "settings_revision", lambda: db.session.execute(select(REVISION)).scalar_one_or_none())


def _writing_settings(session: Session) -> bool:
    return per_transaction(session).get("settings_written", False) or _settings_pending(session)


def _settings_pending(session: Session) -> bool:
    pending = (*session.new, *session.dirty, *session.deleted)
    return any(isinstance(instance, SETTINGS_MODELS) for instance in pending)


def objects(key: str, statement) -> Result:
    """The result of `statement` (ORM objects), from this process's copy while it is current.

    The objects are this session's own, as if just loaded: relationships and identity work.
    """
    session = db.session()
    frozen, was_kept = _kept_or_loaded(key, lambda: session.execute(statement).freeze(), _detached)
    return merge_frozen_result(session, statement, frozen, load=False)() if was_kept else frozen()


def rows(key: str, statement) -> list[Row]:
    """The rows of `statement` (columns, no ORM objects), from this process's copy while current."""
    return _kept_or_loaded(key, lambda: db.session.execute(statement).all())[0]


def _kept_or_loaded(key: str, load, copy=lambda value: value) -> tuple:
    """(value, True) if this process keeps `key` for the current revision, else (load(), False)."""
    if _writing_settings(db.session()):
        return load(), False
    revision = _revision()
    kept = _kept.get(key)
    if revision is not None and kept is not None and kept[0] == revision:
        return kept[1], True
    value = load()
    if revision is not None:
        _kept[key] = (revision, copy(value))
    return value, False


def _detached(frozen: FrozenResult) -> FrozenResult:
    # Copies: the loaded objects belong to this session and expire at its commit.
    return pickle.loads(pickle.dumps(frozen))


def mark_written(session: Session | None = None) -> None:
    """This transaction changed settings: new revision, and no kept rows for it from now on."""
    session = session or db.session()
    per_transaction(session)["settings_written"] = True
    program = Program.__table__
    session.connection().execute(
        update(program).where(program.c.id == 1).values(settings_revision=new_settings_revision()))


@event.listens_for(Session, "before_flush")
def _revise_on_flush(session, flush_context, instances):
    if _settings_pending(session):
        mark_written(session)
