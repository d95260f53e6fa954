"""Tier rules (API.md, Rules: Tiers): qualification, upgrades, downgrades and history.

The tier history is the truth: the tier held at a moment is the latest change effective at or
before it, and the entry tier (threshold 0) when there is none, since every member holds it
from the beginning of time. `Member.tier`, `tier_reached_at` and `tier_review_at` cache the
present: the tier now, when it was reached, and the next moment it may be lost.

Upgrades happen at the purchase that crosses a threshold, effective at its `occurred_at`.
Downgrades happen only when a member is evaluated as of now (run-jobs, or the member's next
purchase, refund or redemption), never within `tier_retention_days` of reaching the tier, and
take effect then. `tier_review_at` is the earliest moment an evaluation could lower the tier, so
run-jobs and purchases only evaluate members whose moment has come.
"""
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, case, func, insert, select

from loyalty import clock, settings
from loyalty.clock import timestamp
from loyalty.extensions import db
from loyalty.models import Member, Purchase, TierChange
from loyalty.outbound import events as outbox
from loyalty.settings import TierSettings as Tier


def ladder() -> tuple[Tier, ...]:
    """The live tiers, lowest threshold first (from the settings snapshot)."""
    return settings.current().ladder


def _entry(tiers) -> Tier | None:
    return tiers[0] if tiers and tiers[0].min_qualifying_points == 0 else None


def entry_tier() -> Tier | None:
    """The tier every member holds from the beginning of time (threshold 0), if there is one."""
    return _entry(ladder())


def _id(tier: Tier | None) -> str | None:
    return tier.id if tier is not None else None


def _rank(tier: Tier | None) -> int:
    return -1 if tier is None else tier.min_qualifying_points


def tier_for(points: int, tiers: list[Tier]) -> Tier | None:
    """The highest tier whose threshold the points reach."""
    reached = [tier for tier in tiers if tier.min_qualifying_points <= points]
    return reached[-1] if reached else None


def window_points(member_id, since, until):
    """A SELECT of the member's qualifying points of purchases with occurred_at in (since, until].
    Over every purchase: one that no longer qualifies (net amount 0) has qualifying_points 0
    (purchases.settle_points), so the index ix_purchases_member_window alone answers."""
    # On the table, not the mapped class: a Core statement that carries it stays a Core statement.
    purchases = Purchase.__table__
    return (select(func.coalesce(func.sum(purchases.c.qualifying_points), 0))
            .where(purchases.c.member_id == member_id, purchases.c.occurred_at > since,
                   purchases.c.occurred_at <= until))


def qualifying_points_at(member_id: str, moment: datetime, window_days: int) -> int:
    """Qualifying points (net of refunds) of purchases in (moment - window, moment]."""
    return db.session.execute(
        window_points(member_id, moment - timedelta(days=window_days), moment)).scalar_one()


# qualifying_points_at(now) as a column of a member query, with the parameters of window_now().
QUALIFYING_POINTS_NOW = window_points(
    Member.__table__.c.id, bindparam("window_start"), bindparam("window_end")).scalar_subquery()


def window_now(program) -> dict:
    """The parameters of QUALIFYING_POINTS_NOW: the tier window ending now."""
    now = clock.now()
    return {"window_start": now - timedelta(days=program.tier_window_days), "window_end": now}


def current(member: Member) -> Tier | None:
    """The tier the member holds now: the entry tier until their first change (a deleted tier the
    member still holds included)."""
    return held_now(member.tier_id, member.tier_reached_at)


def held_now(tier_id: str | None, tier_reached_at: datetime | None) -> Tier | None:
    """current() from a member's two columns, for a report's rows."""
    if tier_reached_at is None:
        return _entry(ladder())
    return settings.current().tier(tier_id)


def tier_at(member: Member, moment: datetime) -> Tier | None:
    """The tier the member held at `moment`, read from the history."""
    if member.tier_reached_at is None:
        return current(member)
    if moment >= member.tier_reached_at:
        return current(member)
    change = db.session.execute(
        select(TierChange.tier_id)
        .where(TierChange.member_id == member.id, TierChange.reason != "enrolled",
               TierChange.effective_at <= moment)
        .order_by(TierChange.effective_at.desc(), TierChange.id.desc()).limit(1)
    ).first()
    return settings.current().tier(change.tier_id) if change is not None else _entry(ladder())


def multiplier_at(member: Member, moment: datetime) -> Decimal:
    """The multiplier of the tier held at `moment`; 1 without one, or if it has been deleted."""
    if member.tier_reached_at is not None and moment < member.tier_reached_at:
        return multiplier_of(tier_at(member, moment))  # from the history
    return multiplier_of(current(member))


def multiplier_of(tier: Tier | None) -> Decimal:
    """A held tier's multiplier; 1 without one, or if it has been deleted."""
    return tier.multiplier if tier is not None and tier.deleted_at is None else Decimal(1)


# -- writing history -------------------------------------------------------------------------

def start_history(member: Member) -> None:
    """The first history row, written at enrolment (reason `enrolled`)."""
    snapshot = settings.current()
    entry = _entry(snapshot.ladder)
    member.tier_id = _id(entry)
    member.tier_reached_at = None
    member.tier_config_version = snapshot.program.tier_config_version
    db.session.add(TierChange(member_id=member.id, tier_id=_id(entry), effective_at=member.enrolled_at,
                              reason="enrolled"))


def enrolment_columns() -> dict:
    """start_history's tier columns of a new member, for members written in bulk (an import)."""
    entry = entry_tier()
    return {"tier_id": entry.id if entry is not None else None, "tier_reached_at": None,
            "tier_config_version": settings.current().program.tier_config_version}


def add_history(rows: list[dict]) -> None:
    """Append many history rows at once (an import): the `enrolled` rows of new members
    (start_history's) and the upgrades found while replaying their purchases."""
    if rows:
        recorded_at = clock.now()
        db.session.execute(insert(TierChange), [{"recorded_at": recorded_at, **row} for row in rows])


def _change(member: Member, held: Tier | None, tier: Tier | None, moment: datetime, reason: str,
            **extra) -> None:
    """Move the member from `held` to `tier` at `moment`: a history row, and the member.tier_changed
    event (the only statement a crossing purchase adds for it)."""
    db.session.add(TierChange(member_id=member.id, tier_id=_id(tier), effective_at=moment, reason=reason, **extra))
    if member.tier_reached_at is None or moment >= member.tier_reached_at:
        member.tier_id = _id(tier)
        member.tier_reached_at = moment
    if tier != held:
        outbox.record("member.tier_changed", change_event(member.id, held, tier, moment, reason))


def change_event(member_id: str, held, tier, moment: datetime, reason: str) -> dict:
    """member.tier_changed's object: the move from `held` to `tier` (rows or None) at `moment`."""
    return {
        "member_id": member_id, "from": held.key if held is not None else None,
        "to": tier.key if tier is not None else None,
        "direction": "up" if _rank(tier) > _rank(held) else "down",
        "effective_at": timestamp(moment), "reason": reason,
    }


# -- when a tier may be lost -------------------------------------------------------------------

def _drop_moment(member: Member, moment: datetime, threshold: int, window_days: int) -> datetime | None:
    """When, with no new purchases, window points first fall below `threshold` (None: never)."""
    window = timedelta(days=window_days)
    purchases = db.session.execute(
        select(Purchase.occurred_at, Purchase.qualifying_points)
        .where(Purchase.member_id == member.id, Purchase.qualifying_points > 0,
               Purchase.occurred_at > moment - window, Purchase.occurred_at <= moment)
        .order_by(Purchase.occurred_at)
    ).all()
    remaining = sum(points for _, points in purchases)
    if remaining < threshold:
        return moment
    for occurred_at, points in purchases:
        remaining -= points
        if remaining < threshold:
            return occurred_at + window
    return None


def _schedule(member: Member, moment: datetime, tiers: list[Tier], program) -> None:
    """Set tier_review_at: the next moment after `moment` the member's tier may be lost."""
    held = current(member)
    if member.tier_override_until is not None:
        member.tier_review_at = member.tier_override_until
    elif held is not None and held.deleted_at is not None:
        member.tier_review_at = moment
    elif held is None or held == tier_for(0, tiers):
        member.tier_review_at = None  # nothing lower to fall to
    else:
        retained_until = member.tier_reached_at + timedelta(days=program.tier_retention_days)
        drop = _drop_moment(member, moment, held.min_qualifying_points, program.tier_window_days)
        member.tier_review_at = None if drop is None else max(retained_until, drop)


def _evaluate(member: Member, now: datetime, reason: str, tiers: list[Tier], program) -> None:
    """Evaluate the member as of now: move to the tier the window earns, unless retention holds it."""
    held = current(member)
    if member.tier_override_until is not None:
        if now >= member.tier_override_until:  # the manual tier is over: normal rules resume
            member.tier_override_until = None
            target = tier_for(qualifying_points_at(member.id, now, program.tier_window_days), tiers)
            if target != held:
                _change(member, held, target, now, "evaluation", note="manual tier ended")
        _schedule(member, now, tiers, program)
        return
    target = tier_for(qualifying_points_at(member.id, now, program.tier_window_days), tiers)
    deleted = held is not None and held.deleted_at is not None
    retained = (held is not None and member.tier_reached_at is not None
                and now < member.tier_reached_at + timedelta(days=program.tier_retention_days))
    if deleted or _rank(target) > _rank(held) or (_rank(target) < _rank(held) and not retained):
        _change(member, held, target, now, reason)
    _schedule(member, now, tiers, program)


def evaluate(member: Member, reason: str = "evaluation", as_of: datetime | None = None) -> None:
    """Evaluate the member as of now (run-jobs, a refund, a redemption)."""
    _evaluate(member, as_of or clock.now(), reason, ladder(), settings.current().program)


def evaluate_if_due(member: Member) -> None:
    """Evaluate only if the tier could have lapsed by now: cheap enough for every purchase."""
    now = clock.now()
    if member.tier_review_at is not None and member.tier_review_at <= now:
        evaluate(member, as_of=now)


# -- the events that move tiers ----------------------------------------------------------------

def upgrade_for(held: Tier | None, window_points: int, tiers: list[Tier]) -> Tier | None:
    """The tier a purchase lifts the member to, given the window points at its moment (itself
    included) and the tier held just before it; None when it crosses no threshold."""
    target = tier_for(window_points, tiers)
    return target if _rank(target) > _rank(held) else None


def after_purchase(member: Member, purchase: Purchase) -> None:
    """Upgrade the member if this purchase crossed a threshold (effective at its occurred_at),
    then evaluate as of now if the tier may have lapsed."""
    moment = purchase.occurred_at
    tiers = ladder()
    if not tiers:
        return
    program = settings.current().program
    held = tier_at(member, moment)
    target = upgrade_for(held, qualifying_points_at(member.id, moment, program.tier_window_days), tiers)
    if target is not None:
        _change(member, held, target, moment, "purchase", purchase_id=purchase.id)
    if member.tier_reached_at is not None and moment < member.tier_reached_at:
        evaluate(member)  # an import behind the history: the present may have to catch up with it
    else:
        _schedule(member, moment, tiers, program)
        evaluate_if_due(member)


def after_refund(member: Member) -> None:
    """A refund lowers qualifying points; the tier may drop only if retention is over."""
    evaluate(member, "refund")


def reevaluate_for_config(member: Member, now: datetime, version: int) -> None:
    """Re-evaluate after tiers or their window changed (run-jobs, in batches): the ladder and
    settings are read in this batch's transaction; the member is stamped with `version`."""
    _evaluate(member, now, "tier_config_changed", ladder(), settings.current().program)
    member.tier_config_version = version


def set_manually(member: Member, tier: Tier | None, until: datetime, note: str) -> None:
    """Hold the member at `tier` until `until`; then normal rules resume."""
    now = clock.now()
    held = current(member)
    member.tier_override_until = until
    _change(member, held, tier, now, "manual", note=note, override_until=until)
    member.tier_review_at = until


# -- reading ---------------------------------------------------------------------------------
# What a member is shown, for an ORM Member or the row of members.get_member_with_progress alike.

def shown_tier(member):
    """The tier the member holds now (a deleted one they still hold included)."""
    return current(member)


def progress(member) -> dict:
    """The member's tier_progress: window points, the next tier and the date the tier is held until."""
    tiers = ladder()
    points = getattr(member, "qualifying_points_now", None)  # get_member_with_progress reads them
    if points is None:
        points = qualifying_points_at(member.id, clock.now(), settings.current().program.tier_window_days)
    above = [tier for tier in tiers if _rank(tier) > _rank(shown_tier(member))]
    next_tier = above[0] if above else None
    return {
        "qualifying_points": points,
        "next_tier": next_tier.key if next_tier else None,
        "points_to_next_tier": max(next_tier.min_qualifying_points - points, 0) if next_tier else None,
        "held_until": member.tier_review_at,
    }


def history_query(member_id: str):
    """The member's tier history, oldest first; the enrolment row leads."""
    return (
        select(TierChange).where(TierChange.member_id == member_id)
        .order_by(case((TierChange.reason == "enrolled", 0), else_=1),
                  TierChange.effective_at, TierChange.id)
    )


def members_due_query(now: datetime):
    return select(Member.id).where(Member.tier_review_at <= now)


def members_behind_config_query(version: int):
    return select(Member.id).where(Member.tier_config_version < version)
