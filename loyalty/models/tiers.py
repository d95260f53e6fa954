"""Tiers and each member's tier history."""
from datetime import datetime
from decimal import Decimal
from functools import partial

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.extensions import db
from loyalty.ids import new_id
from loyalty.models.types import BigIntPK, ExactDecimal, UTCDateTime, utcnow

TIER_REASONS = ("enrolled", "purchase", "refund", "evaluation", "manual", "tier_config_changed")


class Tier(db.Model):
    """A tier. Deleting one keeps the row (deleted_at) so history can still name it."""

    __tablename__ = "tiers"
    __table_args__ = (
        CheckConstraint("min_qualifying_points >= 0", name="threshold_not_negative"),
        Index("uq_tiers_key_live", "key", unique=True,
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
        Index("uq_tiers_threshold_live", "min_qualifying_points", unique=True,
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "tier"))
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    min_qualifying_points: Mapped[int] = mapped_column(BigInteger)
    multiplier: Mapped[Decimal] = mapped_column(ExactDecimal, default=Decimal(1))
    benefits: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TierChange(db.Model):
    """One row of a member's tier history; the tier held at a moment is the latest row by effective_at."""

    __tablename__ = "tier_history"
    __table_args__ = (
        CheckConstraint("reason IN ('enrolled', 'purchase', 'refund', 'evaluation', 'manual', "
                        "'tier_config_changed')", name="reason"),
        Index("ix_tier_history_member_effective", "member_id", "effective_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    tier_id: Mapped[str | None] = mapped_column(ForeignKey("tiers.id"))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(500))
    override_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The purchase that caused an upgrade: reports read the tier held "before it counted".
    purchase_id: Mapped[str | None] = mapped_column(ForeignKey("purchases.id"))

    tier = relationship(Tier, lazy="joined")
