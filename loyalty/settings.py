"""The program's settings as one immutable snapshot: program, tier ladder and campaigns.

`current()` is the one way to read them. A snapshot belongs to one settings revision: the random
`program.settings_revision`, which database triggers (models/triggers.py) replace in the same
transaction as any change to the program, the tiers or the campaigns, whoever makes it. Each
process keeps the latest snapshot it loaded; a transaction learns the revision in force once and
uses the kept snapshot while it matches, otherwise it loads a new one (three small SELECTs). So
every worker of every server sees a change from its next transaction on, and a request or a job's
batch reads one consistent set of settings however often it asks.

The revision usually rides along in a statement the request runs anyway (`REVISION` as an extra
column: the credential check, the member's row) and is handed over with `seen()`; otherwise
`current()` asks for it (one short SELECT).

Writers change the ORM rows (`Program`, `Tier`, `Campaign`) and flush; the triggers give the
program a new revision, and the next `current()` of that transaction loads the snapshot of its own
changes (kept under a revision no one else sees until the commit; forgotten if it rolls back).
"""
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from loyalty.extensions import db, insert_unless_exists
from loyalty.models import Campaign, Program, Tier


@dataclass(frozen=True)
class ProgramSettings:
    """The program row (models/program.py), read-only."""

    id: int
    name: str
    earn_rates: MappingProxyType  # currency -> points per major unit, as a decimal string
    point_value_amount: int
    point_value_currency: str
    tier_window_days: int
    tier_retention_days: int
    pending_days: int
    expiry_policy: str
    expiry_days: int | None
    signup_bonus: int
    birthday_bonus: int
    auto_enroll: bool
    goodwill_limit: int
    expiring_notice_days: int
    tier_config_version: int
    settings_revision: str
    updated_at: datetime


@dataclass(frozen=True)
class TierSettings:
    """A tier (models/tiers.py), deleted ones included: the history still names them."""

    id: str
    key: str
    name: str
    min_qualifying_points: int
    multiplier: Decimal
    benefits: tuple
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class CampaignSettings:
    """A campaign (models/campaigns.py)."""

    id: str
    name: str
    multiplier: Decimal
    tier_keys: tuple
    starts_at: datetime
    ends_at: datetime
    holdout_percent: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Settings:
    """Every setting of one revision."""

    revision: str
    program: ProgramSettings
    tiers: tuple[TierSettings, ...]  # every tier, deleted ones too
    campaigns: tuple[CampaignSettings, ...]

    @cached_property
    def ladder(self) -> tuple[TierSettings, ...]:
        """The live tiers, lowest threshold first."""
        return tuple(sorted((tier for tier in self.tiers if tier.deleted_at is None),
                            key=lambda tier: tier.min_qualifying_points))

    def tier(self, tier_id: str | None) -> TierSettings | None:
        """The tier with this id, deleted or not (None for None)."""
        return next((tier for tier in self.tiers if tier.id == tier_id), None) if tier_id else None

    def live_tier(self, key: str) -> TierSettings | None:
        """The live tier with this key."""
        return next((tier for tier in self.ladder if tier.key == key), None)


# The revision as a column any statement can carry: select(..., REVISION), then seen(row.settings_revision).
# (Of the table, not the mapped class: a Core statement that carries it stays a Core statement.)
REVISION = (select(Program.__table__.c.settings_revision).where(Program.__table__.c.id == 1)
            .scalar_subquery().label("settings_revision"))
REVISION_NOW = select(REVISION)

# The latest snapshot this process loaded (any revision: it is used only while it is current).
_latest: Settings | None = None

# Keys of a session's info, cleared when its transaction ends.
SNAPSHOT, REVISION_SEEN = "settings", "settings_revision"


def current() -> Settings:
    """The settings in force for this transaction (loaded at most once per revision and process)."""
    info = db.session().info
    snapshot = info.get(SNAPSHOT)
    if snapshot is None:
        snapshot = info[SNAPSHOT] = _snapshot_of(info.pop(REVISION_SEEN, None) or _revision_now())
    return snapshot


def seen(revision: str | None) -> None:
    """The revision in force, read by a statement the request ran anyway (spares current() a SELECT)."""
    info = db.session().info
    if SNAPSHOT not in info and revision is not None:
        info[REVISION_SEEN] = revision


def latest() -> Settings | None:
    """The snapshot this process loaded last, maybe out of date: for a statement that carries
    REVISION but needs a setting before it knows the revision. Check it afterwards: seen(revision),
    then `current() is` it, or run the statement again with current()."""
    return _latest


def _revision_now() -> str | None:
    return db.session.execute(REVISION_NOW).scalar_one()


def _snapshot_of(revision: str | None) -> Settings:
    global _latest
    kept = _latest
    if kept is not None and revision is not None and kept.revision == revision:
        return kept
    snapshot = _load()
    _latest = snapshot
    return snapshot


PROGRAM_COLUMNS = select(*Program.__table__.c).where(Program.id == 1)
TIER_COLUMNS = select(*Tier.__table__.c)
CAMPAIGN_COLUMNS = select(*Campaign.__table__.c).order_by(Campaign.starts_at, Campaign.id)


def _load() -> Settings:
    """The settings as they are now. Under READ COMMITTED each SELECT sees its own moment, so a
    change committed between them would mix two revisions: the revision is read again after them,
    and the load starts over if it moved."""
    while True:
        snapshot = _read_settings()
        if _revision_now() == snapshot.revision:
            return snapshot


def _read_settings() -> Settings:
    program = db.session.execute(PROGRAM_COLUMNS).mappings().first()
    if program is None:  # a fresh database: whichever transaction reads first writes the defaults
        insert_unless_exists(Program, {"id": 1}, ["id"])
        program = db.session.execute(PROGRAM_COLUMNS).mappings().one()
    program = ProgramSettings(**{**program, "earn_rates": MappingProxyType(dict(program["earn_rates"] or {}))})
    tiers = tuple(TierSettings(**{**row, "benefits": tuple(row["benefits"] or ())})
                  for row in db.session.execute(TIER_COLUMNS).mappings())
    campaigns = tuple(CampaignSettings(**{**row, "tier_keys": tuple(row["tier_keys"] or ())})
                      for row in db.session.execute(CAMPAIGN_COLUMNS).mappings())
    return Settings(program.settings_revision, program, tiers, campaigns)


SETTINGS_MODELS = (Program, Tier, Campaign)


@event.listens_for(Session, "after_flush")
def _forget_when_written(session, flush_context):
    """A flush that wrote settings gave them a new revision: the transaction's next current()
    reads it and loads the snapshot of its own changes."""
    if any(isinstance(row, SETTINGS_MODELS) for row in (*session.new, *session.dirty, *session.deleted)):
        changed(session)


def changed(session: Session | None = None) -> None:
    """Settings were written by a statement the session does not track (an UPDATE of program)."""
    info = (session or db.session()).info
    info.pop(SNAPSHOT, None)
    info.pop(REVISION_SEEN, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_transaction_end(session, transaction):
    if transaction.parent is None:
        session.info.pop(SNAPSHOT, None)
        session.info.pop(REVISION_SEEN, None)
