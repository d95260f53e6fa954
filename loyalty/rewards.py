"""The rewards catalogue, and whether a member may redeem a reward (and if not, why)."""
from sqlalchemy import func, select

from loyalty import errors, tier_settings, tiers
from loyalty.extensions import db
from loyalty.models import Member, Redemption, Reward

# A redemption is refused with the first of these that applies, in this order (API.md, Rewards
# and redemptions).
REFUSAL_ERRORS = {
    "member_inactive": errors.MemberInactive, "reward_inactive": errors.RewardInactive,
    "tier_required": errors.TierRequired, "out_of_stock": errors.OutOfStock,
    "limit_reached": errors.LimitReached, "insufficient_points": errors.InsufficientPoints,
}
# Redemptions that count towards a per-member limit: a voided or expired voucher gave its points back.
COUNTED_STATUSES = ("issued", "used")


def get_reward(reward_id: str) -> Reward:
    reward = db.session.get(Reward, reward_id)
    if reward is None:
        raise errors.NotFound(f"No reward {reward_id}.")
    return reward


def list_query(active_only: bool):
    query = select(Reward)
    return query.where(Reward.active.is_(True)) if active_only else query


def _apply(reward: Reward, fields: dict) -> Reward:
    fields = dict(fields)
    if "min_tier" in fields:
        key = fields.pop("min_tier")
        try:
            reward.min_tier = tier_settings.find_by_key(key) if key is not None else None
        except errors.NotFound:
            raise errors.ValidationFailed("Unknown tier.", fields={"min_tier": [f"No tier {key}."]}) from None
    for field, value in fields.items():
        setattr(reward, field, value)
    db.session.add(reward)
    db.session.flush()
    return reward


def create_reward(fields: dict) -> Reward:
    return _apply(Reward(), fields)


def update_reward(reward_id: str, changes: dict) -> Reward:
    reward = get_reward(reward_id)
    if "kind" in changes and "value" not in changes and changes["kind"] != reward.kind:
        raise errors.ValidationFailed("A new kind needs its value.", fields={"value": ["Required with kind."]})
    return _apply(reward, changes)


def redeemed_count(member_id: str, reward_id: str) -> int:
    return db.session.execute(
        select(func.count()).select_from(Redemption)
        .where(Redemption.member_id == member_id, Redemption.reward_id == reward_id,
               Redemption.status.in_(COUNTED_STATUSES))
    ).scalar_one()


def redeemed_counts(member_id: str, reward_ids: list[str]) -> dict[str, int]:
    """redeemed_count for several rewards in one statement (rewards never redeemed are left out)."""
    if not reward_ids:
        return {}
    return dict(db.session.execute(
        select(Redemption.reward_id, func.count()).where(
            Redemption.member_id == member_id, Redemption.reward_id.in_(reward_ids),
            Redemption.status.in_(COUNTED_STATUSES)).group_by(Redemption.reward_id)).all())


def refusal(member: Member, reward: Reward, redeemed: dict[str, int] | None = None) -> str | None:
    """The code a redemption of `reward` by `member` would be refused with, or None.

    `redeemed` (from redeemed_counts) saves a count per limited reward when checking a catalogue.
    """
    if member.status != "active":
        return "member_inactive"
    if not reward.active:
        return "reward_inactive"
    if reward.min_tier is not None and _rank(member) < reward.min_tier.min_qualifying_points:
        return "tier_required"
    if reward.stock is not None and reward.stock <= 0:
        return "out_of_stock"
    if reward.per_member_limit is not None:
        count = redeemed.get(reward.id, 0) if redeemed is not None else redeemed_count(member.id, reward.id)
        if count >= reward.per_member_limit:
            return "limit_reached"
    if member.points_balance < reward.cost_points:
        return "insufficient_points"
    return None


def _rank(member) -> int:
    tier = tiers.shown_tier(member)  # an ORM Member or the row of members.get_member_with_progress
    return -1 if tier is None else tier.min_qualifying_points


def mark_eligibility(catalogue: list[Reward], member) -> list[Reward]:
    """Set each reward's (transient) `eligible` and `reason` for this member."""
    limited = [reward.id for reward in catalogue if reward.per_member_limit is not None]
    redeemed = redeemed_counts(member.id, limited) if member.status == "active" else {}
    for reward in catalogue:
        reward.reason = refusal(member, reward, redeemed)
        reward.eligible = reward.reason is None
    return catalogue


def active_catalogue() -> list[Reward]:
    """The active rewards, as GET /v1/rewards lists them (newest first)."""
    return list(db.session.execute(list_query(active_only=True).order_by(Reward.id.desc())).scalars())


def refuse_if_ineligible(member: Member, reward: Reward) -> None:
    code = refusal(member, reward)
    if code is not None:
        raise REFUSAL_ERRORS[code](reward_id=reward.id)
