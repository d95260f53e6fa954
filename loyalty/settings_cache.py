"""Settings rows (program, tiers, campaigns) kept per process between requests.

Every earn and balance read needs them and they rarely change, so each process keeps the rows it
last read, labelled with the program's `settings_revision` at the time. A transaction learns the
current revision once (authentication reads it with the credential) and reuses kept rows only
when their label matches. Database triggers (models/triggers.py) give the program a new random
revision with every change to these tables, whoever makes it, in the same transaction: other
processes see a change from their next transaction on, as they would without the cache. A
transaction that writes settings reads its own uncommitted rows from the database and keeps
nothing.
"""
import pickle

from sqlalchemy import Row, event, select
from sqlalchemy.engine import FrozenResult, Result
from sqlalchemy.orm import Session
from sqlalchemy.orm.loading import merge_frozen_result

from loyalty.direct_sql import DirectQuery
from loyalty.extensions import db, once_per_transaction, per_transaction
from loyalty.models import Campaign, Program, Tier

SETTINGS_MODELS = (Program, Tier, Campaign)

# The revision as a scalar subquery, for authentication to read in the same round trip.
REVISION = (select(Program.settings_revision).where(Program.id == 1)
            .scalar_subquery().label("settings_revision"))

_kept: dict[str, tuple[str, FrozenResult | list[Row]]] = {}


def remember_revision(revision: str | None) -> None:
    """The revision read alongside the credential: this transaction need not ask again."""
    per_transaction(db.session()).setdefault("settings_revision", revision)


REVISION_NOW = DirectQuery(select(REVISION))


def _revision() -> str | None:
    return once_per_transaction("settings_revision", lambda: REVISION_NOW.first().settings_revision)


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
    if _writing_settings(session):
        return session.execute(statement)
    # populate_existing: what is kept comes from this read, not from objects the session held.
    fresh = statement.execution_options(populate_existing=True)
    frozen, was_kept = _kept_or_loaded(key, lambda: session.execute(fresh).freeze(), _detached)
    return merge_frozen_result(session, statement, frozen, load=False)() if was_kept else frozen()


def rows(key: str, statement) -> list[Row]:
    """The rows of `statement` (columns, no ORM objects), from this process's copy while current."""
    session = db.session()
    if _writing_settings(session):
        return session.execute(statement).all()
    return _kept_or_loaded(key, lambda: session.execute(statement).all())[0]


def _kept_or_loaded(key: str, load, copy=lambda value: value) -> tuple:
    """(value, True) if this process keeps `key` for the current revision, else (load(), False).
    Only for a transaction that has not written settings (the callers check)."""
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


def note_written(session: Session | None = None) -> None:
    """This transaction changed settings (the triggers gave them a new revision): from now on it
    reads them from the database and keeps nothing."""
    per_transaction(session or db.session())["settings_written"] = True


@event.listens_for(Session, "before_flush")
def _note_flushed_settings(session, flush_context, instances):
    if _settings_pending(session):
        note_written(session)
