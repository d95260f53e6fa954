"""The rewards catalogue and the redemptions issued from it."""
from datetime import datetime
from functools import partial

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.extensions import db
from loyalty.ids import new_id
from loyalty.models.types import UTCDateTime, utcnow

REWARD_KINDS = ("discount_amount", "discount_percent", "free_item", "custom")
REDEMPTION_STATUSES = ("issued", "used", "voided", "expired")


class Reward(db.Model):
    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("cost_points > 0", name="cost_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("per_member_limit IS NULL OR per_member_limit > 0", name="limit_positive"),
        CheckConstraint("voucher_valid_days > 0", name="valid_days_positive"),
        CheckConstraint("kind IN ('discount_amount', 'discount_percent', 'free_item', 'custom')",
                        name="kind"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "rwd"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    cost_points: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    min_tier_id: Mapped[str | None] = mapped_column(ForeignKey("tiers.id"))
    stock: Mapped[int | None] = mapped_column(BigInteger)
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    voucher_valid_days: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    min_tier = relationship("Tier", lazy="joined")


class Redemption(db.Model):
    __tablename__ = "redemptions"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("status IN ('issued', 'used', 'voided', 'expired')", name="status"),
        Index("ix_redemptions_member_reward", "member_id", "reward_id"),
        Index("ix_redemptions_location_issued", "location", "issued_at"),
        Index("ix_redemptions_status_expires", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "red"))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    reward_id: Mapped[str] = mapped_column(ForeignKey("rewards.id"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="issued")
    channel: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who issued it (a staff member or an API key) and where; and the same for its use.
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(40))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    location: Mapped[str | None] = mapped_column(String(200))
    used_by_actor_type: Mapped[str | None] = mapped_column(String(16))
    used_by_actor_id: Mapped[str | None] = mapped_column(String(40))
    used_location: Mapped[str | None] = mapped_column(String(200))
    used_order_id: Mapped[str | None] = mapped_column(String(255))

    reward = relationship(Reward, lazy="joined")
