"""Program settings: one row, created with defaults the first time it is read.

Readers use `settings.current().program`; these functions are the writers, on the ORM row.
"""
from decimal import Decimal

from loyalty.errors import CurrencyNotEnabled, ValidationFailed
from loyalty.extensions import db, insert_unless_exists
from loyalty.models import Program


TIER_RULES = {"tier_window_days", "tier_retention_days"}


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


def update_program(changes: dict) -> Program:
    """Apply a validated PATCH; the result must still make sense as a whole."""
    program = program_for_update()
    if any(getattr(program, field) != changes[field] for field in TIER_RULES & changes.keys()):
        bump_tier_config()  # run-jobs re-evaluates every member
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
