"""Campaigns: time-boxed bonus multipliers, with a holdout group to measure what they did.

A member in a campaign's scope is `holdout` or `treated` by a hash of the two ids: stable, needs
no stored assignment, and close to `holdout_percent` over many members. Holdout members earn
normally; comparing the two groups' purchase rates says whether the campaign brought people back.
"""
import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import and_, literal, select

from loyalty import settings, tiers
from loyalty.errors import NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Campaign, Member, Purchase, Tier
from loyalty.models.types import UTCDateTime
from loyalty.reports.by_tier import with_tier_held
from loyalty.reports.period import RATE_PLACES, check_window_days, rounded
from loyalty.reports.sql import qualifying

BUCKETS = 10_000
Z_95 = Decimal("1.959963984540054")


def get_campaign(campaign_id: str) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"No campaign {campaign_id}.")
    return campaign


def _check(campaign: Campaign) -> Campaign:
    if campaign.ends_at <= campaign.starts_at:
        raise ValidationFailed("ends_at must be after starts_at.", fields={"ends_at": ["Must be after starts_at."]})
    known = set(db.session.execute(select(Tier.key).where(Tier.deleted_at.is_(None))).scalars())
    unknown = sorted(set(campaign.tier_keys) - known)
    if unknown:
        raise ValidationFailed("Unknown tier keys.", fields={"tiers": [f"No tier {key}." for key in unknown]})
    db.session.add(campaign)
    db.session.flush()
    return campaign


def create_campaign(fields: dict) -> Campaign:
    return _check(Campaign(**fields))


def update_campaign(campaign_id: str, changes: dict) -> Campaign:
    campaign = get_campaign(campaign_id)
    for field, value in changes.items():
        setattr(campaign, field, value)
    return _check(campaign)


def is_holdout(campaign: Campaign, member_id: str) -> bool:
    digest = hashlib.sha256(f"{campaign.id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS < campaign.holdout_percent * BUCKETS // 100


def _tier_key_at(member: Member, moment: datetime) -> str | None:
    tier = tiers.tier_at(member, moment)
    return tier.key if tier is not None else None


def in_scope(campaign: Campaign, member: Member, moment: datetime) -> bool:
    return not campaign.tier_keys or _tier_key_at(member, moment) in campaign.tier_keys


def group(campaign: Campaign, member: Member) -> str | None:
    """`treated`, `holdout`, or None for a member outside the campaign's tiers (at its start)."""
    if not in_scope(campaign, member, campaign.starts_at):
        return None
    return "holdout" if is_holdout(campaign, member.id) else "treated"


def multiplier_for(member: Member, moment: datetime) -> Decimal:
    """The largest multiplier of the campaigns treating the member at `moment` (1 if none)."""
    running = [campaign for campaign in settings.current().campaigns if campaign.starts_at <= moment < campaign.ends_at]
    treating = [campaign.multiplier for campaign in running
                if in_scope(campaign, member, moment) and not is_holdout(campaign, member.id)]
    return max(treating, default=Decimal(1))


# -- results ----------------------------------------------------------------------------------

def _members_in_scope(campaign: Campaign) -> list[str]:
    """Members enrolled before the campaign ended and, for a tiered campaign, holding one of its
    tiers at its start (read from tier history, the entry tier when there is no row)."""
    enrolled = Member.enrolled_at < campaign.ends_at
    if not campaign.tier_keys:
        return list(db.session.execute(select(Member.id).where(enrolled)).scalars())
    at_start = (select(Member.id.label("member_id"), literal(campaign.starts_at, UTCDateTime).label("at"))
                .where(enrolled).subquery("at_start"))
    held = with_tier_held(at_start, "member_id", "at").subquery("held")
    tier_ids = select(Tier.id).where(Tier.key.in_(campaign.tier_keys))
    return list(db.session.execute(select(held.c.member_id).where(held.c.tier_id.in_(tier_ids))).scalars())


def _buyers(campaign: Campaign, window_days: int) -> set[str]:
    end = campaign.ends_at + timedelta(days=window_days)
    return set(db.session.execute(
        select(Purchase.member_id).distinct().where(
            and_(Purchase.occurred_at >= campaign.starts_at, Purchase.occurred_at < end,
                 qualifying()))
    ).scalars())


def _rate(buyers: int, members: int) -> Decimal | None:
    return Decimal(buyers) / Decimal(members) if members else None


def _four(value: Decimal | None) -> str | None:
    """A rate or difference as shown: rounded as every report's rate is (reports.period.rounded)."""
    return None if value is None else str(rounded(Fraction(value), RATE_PLACES))


def results(campaign_id: str, window_days: int) -> dict:
    """Purchase rates of treated and holdout members, their difference and its 95% interval."""
    check_window_days(window_days)
    campaign = get_campaign(campaign_id)
    buyers = _buyers(campaign, window_days)
    groups = {"treated": [0, 0], "holdout": [0, 0]}
    for member_id in _members_in_scope(campaign):
        counts = groups["holdout" if is_holdout(campaign, member_id) else "treated"]
        counts[0] += 1
        counts[1] += member_id in buyers
    rates = {name: _rate(bought, members) for name, (members, bought) in groups.items()}
    body = {name: {"members": members, "buyers": bought, "purchase_rate": _four(rates[name])}
            for name, (members, bought) in groups.items()}
    difference, interval = None, None
    if rates["treated"] is not None and rates["holdout"] is not None:
        difference = rates["treated"] - rates["holdout"]
        spread = Z_95 * (sum(rate * (1 - rate) / groups[name][0] for name, rate in rates.items())).sqrt()
        interval = [_four(difference - spread), _four(difference + spread)]
    return {"campaign_id": campaign.id, "window_days": window_days, **body,
            "difference": _four(difference), "ci95": interval}
