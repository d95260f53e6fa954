"""Program settings: one row, created with defaults the first time it is read."""
from decimal import Decimal

from sqlalchemy import select, update

from loyalty import settings_cache
from loyalty.errors import CurrencyNotEnabled, ValidationFailed
from loyalty.extensions import db, forget, insert_unless_exists, once_per_transaction
from loyalty.models import Program


TIER_RULES = {"tier_window_days", "tier_retention_days"}


def get_program() -> Program:
    """The settings row (read once per transaction); a fresh database gets the defaults."""
    return once_per_transaction("program", _load_program)


PROGRAM = select(Program).where(Program.id == 1)
PROGRAM_ROW = select(*(getattr(Program, prop.key) for prop in Program.__mapper__.column_attrs)).where(Program.id == 1)


def program_row():
    """get_program() as a plain row, for reads that only look: kept per process and shared as it
    is, with no ORM object to bring into the session."""
    rows = once_per_transaction("program_row", lambda: settings_cache.rows("program_row", PROGRAM_ROW))
    return rows[0] if rows else get_program()  # a fresh database: get_program writes the defaults


def _load_program() -> Program:
    program = settings_cache.objects("program", PROGRAM).scalar_one_or_none()
    if program is None:
        # A fresh database: whichever request reads first writes the defaults (even a GET, which
        # runs without a transaction on PostgreSQL: one statement, safe against a concurrent twin).
        insert_unless_exists(Program, {"id": 1}, ["id"])
        program = db.session.execute(PROGRAM).scalar_one()
    return program


def bump_tier_config() -> None:
    """Mark every member for re-evaluation by run-jobs (one atomic increment: none is lost)."""
    program = get_program()
    db.session.execute(
        update(Program).where(Program.id == 1)
        .values(tier_config_version=Program.tier_config_version + 1)
        .execution_options(synchronize_session=False)
    )
    settings_cache.note_written()
    forget("program_row")
    db.session.expire(program, ["tier_config_version", "settings_revision"])


def update_program(changes: dict) -> Program:
    """Apply a validated PATCH; the result must still make sense as a whole."""
    program = get_program()
    if any(getattr(program, field) != changes[field] for field in TIER_RULES & changes.keys()):
        bump_tier_config()  # run-jobs re-evaluates every member
    for field, value in changes.items():
        setattr(program, field, value)
    forget("program_row")
    if program.expiry_policy != "none" and not program.expiry_days:
        raise ValidationFailed(
            "expiry_days is required when expiry_policy is not none",
            fields={"expiry_days": ["Required when expiry_policy is not none."]},
        )
    db.session.flush()
    return program


def earn_rate(program: Program, currency: str) -> Decimal:
    """Points per major unit of `currency`, or CurrencyNotEnabled."""
    rate = program.earn_rates.get(currency)
    if rate is None:
        raise CurrencyNotEnabled(currency=currency)
    return Decimal(rate)
