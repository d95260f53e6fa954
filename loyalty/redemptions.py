"""Redemptions: vouchers bought with points, used at a till or checkout, voided or expired.

Nothing here can overspend, on either database. The member's row is locked first (SELECT ...
FOR UPDATE on PostgreSQL; SQLite has one writer at a time), so the per-member limit is counted
safely; stock is taken by a conditional UPDATE; points by the ledger's funded debit. A voucher
leaves `issued` only through one conditional UPDATE, so of two tills using one code at once,
exactly one wins.
"""
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from loyalty import clock, ledger, members, rewards, tiers
from loyalty.actors import SYSTEM, Actor
from loyalty.errors import AlreadyUsed, Expired, NotFound, OutOfStock, Voided
from loyalty.extensions import db
from loyalty.ids import new_code, normalise_code
from loyalty.models import Redemption, Reward
from loyalty.outbound import events as outbox

CODE_LENGTH = 10  # 50 random bits: unguessable at a till, short enough to type
CHANNELS = {"staff": "pos", "customer": "app", "api_key": "online", "system": "system"}


def issue(member_id: str, reward_id: str, actor: Actor, *, use_now: bool = False,
          location: str | None = None) -> Redemption:
    """Debit the reward's cost and issue a voucher (used at once on the point-of-sale path)."""
    member = members.get_member(member_id, lock=True)
    reward = rewards.get_reward(reward_id)
    tiers.evaluate_if_due(member)  # a redemption is activity: a lapsed tier is lowered first
    rewards.refuse_if_ineligible(member, reward)
    _take_stock(reward)
    now = clock.now()
    redemption = _insert_with_unique_code(Redemption(
        reward_id=reward.id, member_id=member.id, points=reward.cost_points, status="issued",
        channel=CHANNELS[actor.type], issued_at=now,
        expires_at=now + timedelta(days=reward.voucher_valid_days), actor_type=actor.type,
        actor_id=actor.id, staff_id=actor.id if actor.type == "staff" else None, location=location,
    ))
    ledger.post_entry(member.id, "redeem", -reward.cost_points, actor, require_funds=True,
                      redemption_id=redemption.id, location=location, note=reward.name)
    outbox.record_object("redemption.issued", "redemption", redemption)
    if use_now:
        return use(redemption.code, actor, location=location)
    return redemption


def _take_stock(reward: Reward) -> None:
    if reward.stock is None:
        return
    taken = db.session.execute(
        update(Reward).where(Reward.id == reward.id, Reward.stock > 0)
        .values(stock=Reward.stock - 1).execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(reward, ["stock"])
    if taken != 1:
        raise OutOfStock(reward_id=reward.id)


def _insert_with_unique_code(redemption: Redemption) -> Redemption:
    for _ in range(5):
        redemption.code = new_code(CODE_LENGTH)
        try:
            with db.session.begin_nested():
                db.session.add(redemption)
            return redemption
        except IntegrityError:  # a 1-in-10^15 collision: draw again
            continue
    raise RuntimeError("could not draw a unique redemption code")


def get_by_code(code: str) -> Redemption:
    redemption = db.session.execute(
        select(Redemption).where(Redemption.code == normalise_code(code))
    ).scalar_one_or_none()
    if redemption is None:
        raise NotFound(f"No redemption {code}.")
    return redemption


def _leave_issued(redemption: Redemption, values: dict, *, unexpired_at: datetime | None = None) -> bool:
    """Move the voucher out of `issued` if it still is (and, for a use, not past its date)."""
    condition = and_(Redemption.id == redemption.id, Redemption.status == "issued")
    if unexpired_at is not None:
        condition = and_(condition, Redemption.expires_at > unexpired_at)
    moved = db.session.execute(
        update(Redemption).where(condition).values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.refresh(redemption)
    return moved


def _refusal(redemption: Redemption, now: datetime):
    if redemption.status == "used":
        return AlreadyUsed(code=redemption.code)
    if redemption.status == "voided":
        return Voided(code=redemption.code)
    return Expired(code=redemption.code, expires_at=redemption.expires_at.isoformat())


def use(code: str, actor: Actor, *, order_id: str | None = None, location: str | None = None) -> Redemption:
    """Mark a voucher used (at checkout or at a till): once, and only before it expires."""
    redemption = get_by_code(code)
    now = clock.now()
    if not _leave_issued(redemption, {
        "status": "used", "used_at": now, "used_by_actor_type": actor.type, "used_by_actor_id": actor.id,
        "used_location": location, "used_order_id": order_id,
    }, unexpired_at=now):
        raise _refusal(redemption, now)
    outbox.record_object("redemption.used", "redemption", redemption)
    return redemption


def void(code: str, actor: Actor, *, location: str | None = None) -> Redemption:
    """Cancel an unused voucher: its points and its stock come back."""
    redemption = get_by_code(code)
    now = clock.now()
    if not _leave_issued(redemption, {"status": "voided", "voided_at": now}):
        raise _refusal(redemption, now)
    _give_back(redemption, actor, "voided", location)
    outbox.record_object("redemption.voided", "redemption", redemption)
    return redemption


def _give_back(redemption: Redemption, actor: Actor, why: str, location: str | None = None) -> None:
    ledger.post_entry(redemption.member_id, "return", redemption.points, actor,
                      redemption_id=redemption.id, note=f"Voucher {why}", location=location)
    db.session.execute(
        update(Reward).where(Reward.id == redemption.reward_id, Reward.stock.is_not(None))
        .values(stock=Reward.stock + 1).execution_options(synchronize_session=False)
    )
    db.session.expire(redemption.reward, ["stock"])


def expire_one(redemption_id: str, now: datetime) -> bool:
    """Expire one voucher past its date and return its points (False if something else moved it)."""
    redemption = db.session.get(Redemption, redemption_id)
    if not _leave_issued(redemption, {"status": "expired"}):
        return False
    _give_back(redemption, SYSTEM, "expired")
    outbox.record_object("redemption.expired", "redemption", redemption)
    return True


def due_for_expiry_query(now: datetime):
    return select(Redemption.id).where(Redemption.status == "issued", Redemption.expires_at <= now)


def member_query(member_id: str):
    return select(Redemption).where(Redemption.member_id == member_id)


def location_day_query(location: str, day_start: datetime):
    """Redemptions issued or used at `location` on the UTC day starting at `day_start`."""
    day_end = day_start + timedelta(days=1)
    return select(Redemption).where(or_(
        and_(Redemption.location == location, Redemption.issued_at >= day_start, Redemption.issued_at < day_end),
        and_(Redemption.used_location == location, Redemption.used_at >= day_start, Redemption.used_at < day_end),
    ))
