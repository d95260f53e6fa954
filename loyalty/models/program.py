"""The program's settings: one row."""
import secrets
from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.extensions import db
from loyalty.models.types import UTCDateTime, utcnow

EXPIRY_POLICIES = ("none", "inactivity", "fixed")


def new_settings_revision() -> str:
    return secrets.token_hex(16)


class Program(db.Model):
    __tablename__ = "program"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("expiry_policy IN ('none', 'inactivity', 'fixed')", name="expiry_policy"),
        CheckConstraint("tier_window_days > 0 AND tier_retention_days >= 0 AND pending_days >= 0",
                        name="day_counts"),
        CheckConstraint("signup_bonus >= 0 AND birthday_bonus >= 0", name="bonuses"),
        CheckConstraint("goodwill_limit >= 0", name="goodwill_limit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(200), default="Loyalty program")
    # Currency code -> points per major unit, as decimal strings: {"usd": "1", "jpy": "0.01"}.
    earn_rates: Mapped[dict] = mapped_column(JSON, default=dict)
    point_value_amount: Mapped[int] = mapped_column(BigInteger, default=1)
    point_value_currency: Mapped[str] = mapped_column(String(3), default="usd")
    tier_window_days: Mapped[int] = mapped_column(Integer, default=365)
    tier_retention_days: Mapped[int] = mapped_column(Integer, default=365)
    pending_days: Mapped[int] = mapped_column(Integer, default=0)
    expiry_policy: Mapped[str] = mapped_column(String(16), default="none")
    expiry_days: Mapped[int | None] = mapped_column(Integer)
    signup_bonus: Mapped[int] = mapped_column(BigInteger, default=0)
    birthday_bonus: Mapped[int] = mapped_column(BigInteger, default=0)
    auto_enroll: Mapped[bool] = mapped_column(default=True)
    # The most goodwill points one case resolution may give.
    goodwill_limit: Mapped[int] = mapped_column(BigInteger, default=1000)
    # How many days ahead run-jobs warns of points about to expire (the points.expiring webhook event).
    expiring_notice_days: Mapped[int] = mapped_column(Integer, default=14)
    # Bumped by every change to tiers or their window; run-jobs re-evaluates members behind it.
    tier_config_version: Mapped[int] = mapped_column(Integer, default=0)
    # Random, new with every change to the program, tiers or campaigns (loyalty.settings).
    settings_revision: Mapped[str] = mapped_column(String(32), default=new_settings_revision)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
