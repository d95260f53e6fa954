"""The tier ladder as admins edit it. Every change that can move members bumps the program's
tier_config_version; run-jobs then re-evaluates the members behind it, in batches."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from loyalty import clock
from loyalty.errors import NotFound, ThresholdTaken, TierExists
from loyalty.extensions import db
from loyalty.models import Tier
from loyalty.program import bump_tier_config

MOVES_MEMBERS = {"min_qualifying_points"}


def get_tier(tier_id: str) -> Tier:
    tier = db.session.get(Tier, tier_id)
    if tier is None or tier.deleted_at is not None:
        raise NotFound(f"No tier {tier_id}.")
    return tier


def find_by_key(key: str) -> Tier:
    """The live tier with this key, as an ORM row to refer to (a reward's minimum tier)."""
    tier = db.session.execute(
        select(Tier).where(Tier.key == key, Tier.deleted_at.is_(None))
    ).scalar_one_or_none()
    if tier is None:
        raise NotFound(f"No tier with key {key}.")
    return tier


def _check_unique(tier: Tier) -> None:
    others = select(Tier.id).where(Tier.deleted_at.is_(None), Tier.id != tier.id)
    with db.session.no_autoflush:  # check before the change reaches the unique indexes
        if db.session.execute(others.where(Tier.key == tier.key)).first():
            raise TierExists(key=tier.key)
        if db.session.execute(others.where(Tier.min_qualifying_points == tier.min_qualifying_points)).first():
            raise ThresholdTaken(min_qualifying_points=tier.min_qualifying_points)


def _save(tier: Tier) -> Tier:
    _check_unique(tier)
    try:
        with db.session.begin_nested():
            db.session.add(tier)
    except IntegrityError:  # a concurrent change took the key or threshold first
        _check_unique(tier)
        raise
    return tier


def create_tier(fields: dict) -> Tier:
    tier = _save(Tier(**fields))
    bump_tier_config()
    return tier


def update_tier(tier_id: str, changes: dict) -> Tier:
    tier = get_tier(tier_id)
    moved = any(getattr(tier, field) != changes[field] for field in MOVES_MEMBERS & changes.keys())
    for field, value in changes.items():
        setattr(tier, field, value)
    _save(tier)
    if moved:
        bump_tier_config()
    return tier


def delete_tier(tier_id: str) -> Tier:
    """Retire a tier; its rows stay so history can still name it, its members move on run-jobs."""
    tier = get_tier(tier_id)
    tier.deleted_at = clock.now()
    bump_tier_config()
    db.session.flush()
    return tier
