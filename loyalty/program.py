"""Program settings: one row, created with defaults the first time it is read.

Readers use `settings.current().program`; these functions are the writers, on the ORM row.
"""
from decimal import Decimal

from sqlalchemy import or_, update

from loyalty import clock
from loyalty.errors import CurrencyNotEnabled, ValidationFailed
from loyalty.extensions import db, insert_unless_exists
from loyalty.models import Member, Program


TIER_RULES = {"tier_window_days", "tier_retention_days"}
EXPIRY_RULES = {"expiry_policy", "expiry_days", "expiring_notice_days"}


def program_for_update() -> Program:
    """The settings row as an ORM object to change (a fresh database gets the defaults first)."""
    program = db.session.get(Program, 1)
    if program is None:
        insert_unless_exists(Program, {"id": 1}, ["id"])
        program = db.session.get(Program, 1)
    return program


def bump_tier_config() -> None:
    """Mark every member for re-evaluation by run-jobs (one atomic increment at the next flush: none is lost)."""
    program = program_for_update()
    program.tier_config_version = Program.tier_config_version + 1


def _expiry_rules_changed(now) -> None:
    """points.expiring's moments were worked out under the old rules: every member holding points
    is looked at again by the next run-jobs."""
    db.session.execute(update(Member).where(Member.points_balance > 0, or_(
        Member.expiring_notice_at.is_(None), Member.expiring_notice_at > now)).values(expiring_notice_at=now)
        .execution_options(synchronize_session=False))


def update_program(changes: dict) -> Program:
    """Apply a validated PATCH; the result must still make sense as a whole."""
    program = program_for_update()
    if any(getattr(program, field) != changes[field] for field in TIER_RULES & changes.keys()):
        bump_tier_config()  # run-jobs re-evaluates every member
    if any(getattr(program, field) != changes[field] for field in EXPIRY_RULES & changes.keys()):
        _expiry_rules_changed(clock.now())
    for field, value in changes.items():
        setattr(program, field, value)
    if program.expiry_policy != "none" and not program.expiry_days:
        raise ValidationFailed(
            "expiry_days is required when expiry_policy is not none",
            fields={"expiry_days": ["Required when expiry_policy is not none."]},
        )
    db.session.flush()
    return program


def earn_rate(program, currency: str) -> Decimal:
    """Points per major unit of `currency`, or CurrencyNotEnabled."""
    rate = program.earn_rates.get(currency)
    if rate is None:
        raise CurrencyNotEnabled(currency=currency)
    return Decimal(rate)
