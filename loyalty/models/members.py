"""Members, their purchases and refunds, and the append-only points ledger."""
from datetime import date, datetime
from decimal import Decimal
from functools import partial

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint, false,
                        text)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from loyalty.extensions import db
from loyalty.ids import new_id
from loyalty.models.triggers import install_ledger_guard
from loyalty.models.types import BigIntPK, ExactDecimal, UTCDateTime, utcnow

MEMBER_STATUSES = ("active", "suspended", "closed")
PURCHASE_SOURCES = ("api", "pos", "stripe")
ENTRY_TYPES = ("earn", "bonus", "redeem", "return", "reversal", "adjustment", "expiry", "goodwill")
ACTOR_TYPES = ("api_key", "staff", "customer", "system")


def phone_digits(phone: str | None) -> str | None:
    """A phone number's digits alone: `+1 (555) 010-2030` and `15550102030` are one number."""
    digits = "".join(character for character in phone or "" if character.isascii() and character.isdigit())
    return digits or None


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Member(db.Model):
    __tablename__ = "members"
    __table_args__ = (CheckConstraint(_in("status", MEMBER_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "mem"))
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    member_code: Mapped[str] = mapped_column(String(16), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    # The phone's digits, kept by `phone`'s validator below, for the ?phone= look-up.
    phone_digits: Mapped[str | None] = mapped_column(String(50), index=True)
    birthday: Mapped[date | None] = mapped_column(Date)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    attributes: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Caches moved only by loyalty.ledger; verify-ledger checks them against their sources.
    points_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    points_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tier_id: Mapped[str | None] = mapped_column(ForeignKey("tiers.id"))
    tier_reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tier_override_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The next moment the tier may be lost (retention over, or window points running out);
    # run-jobs evaluates members whose moment has come. Null: nothing could lower the tier.
    tier_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The program's tier_config_version this member was last evaluated under.
    tier_config_version: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # "Next due" moments of timed work, so run-jobs reads only the members whose moment has come
    # (its cost grows with what is due, not with the members). Each may be early, never late: the
    # job that finds nothing due yet sets it again.
    # When the member's oldest unspent points were earned (fixed expiry: due `expiry_days` later).
    # Moved earlier by every credit (loyalty.ledger), set exactly by the expiry job.
    oldest_points_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The start of the birthday month in which the next birthday bonus falls due.
    birthday_bonus_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When run-jobs next looks for points to warn of (points.expiring). Moved earlier by every
    # credit (loyalty.ledger) and by a change of the expiry settings; set by the job that looks.
    expiring_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When the member may next be at risk (member.at_risk): at the soonest 30 days after their
    # latest qualifying purchase. Set by every purchase, refund and dispute; null once warned of
    # the quiet spell (a new purchase starts another).
    at_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # What the at-risk rule needs of the member's qualifying purchases (all of them, whenever dated),
    # kept by loyalty.reports.at_risk.refresh (run-jobs, imports, the migration that added them):
    # the latest one, twice the median gap between them (null with one), and the moment, in
    # microseconds since 1970, from which the member counts as at risk (null with none). A
    # purchase, refund or dispute marks them stale instead of working them out (nothing more for an
    # earn to do); the report works out stale members from their purchases until run-jobs refreshes them.
    last_qualifying_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    twice_median_gap_us: Mapped[int | None] = mapped_column(BigInteger)
    at_risk_from_us: Mapped[int | None] = mapped_column(BigInteger, index=True)
    at_risk_stale: Mapped[bool] = mapped_column(default=False, server_default=false())  # a row made in SQL too

    tier = relationship("Tier", lazy="joined")

    @validates("phone")
    def _keep_phone_digits(self, key, phone):
        self.phone_digits = phone_digits(phone)
        return phone


# Inactivity expiry: members holding points, by when they last bought (or, never having bought,
# enrolled).
HOLDING = text("points_balance > 0")
NEVER_BOUGHT = text("points_balance > 0 AND last_purchase_at IS NULL")
Index("ix_members_holding_last_purchase", Member.last_purchase_at, postgresql_where=HOLDING, sqlite_where=HOLDING)
Index("ix_members_holding_never_bought", Member.enrolled_at, postgresql_where=NEVER_BOUGHT,
      sqlite_where=NEVER_BOUGHT)
# Members whose at-risk summary awaits a refresh (few: those who bought since run-jobs last ran).
# (Each database's own spelling of `WHERE at_risk_stale`, as SQLAlchemy writes it in a query.)
Index("ix_members_at_risk_stale", Member.id, postgresql_where=text("at_risk_stale"),
      sqlite_where=text("at_risk_stale = 1"))


class Purchase(db.Model):
    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("source", "order_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_within_amount"),
        CheckConstraint("disputed_amount >= 0 AND disputed_amount <= amount", name="dispute_within_amount"),
        CheckConstraint(_in("source", PURCHASE_SOURCES), name="source"),
        CheckConstraint("pending_points >= 0", name="pending_not_negative"),
        # A member's purchases by date, carrying qualifying_points so that the tier window's sum
        # (shown on every member read) is read from the index alone, not from one heap page per
        # purchase (bench/README.md).
        Index("ix_purchases_member_window", "member_id", "occurred_at", "qualifying_points"),
        Index("ix_purchases_occurred_at", "occurred_at"),
        # Purchases whose points are still pending, by when they vest (run-jobs).
        Index("ix_purchases_pending_vests_at", "vests_at", postgresql_where=text("pending_points > 0"),
              sqlite_where=text("pending_points > 0")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "pur"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    order_id: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # Money held back by an open or lost dispute; its points are reversed like a refund's.
    disputed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the earning rule used, kept so every refund recomputes with the same numbers.
    earn_rate: Mapped[Decimal] = mapped_column(ExactDecimal)
    tier_multiplier: Mapped[Decimal] = mapped_column(ExactDecimal)
    campaign_multiplier: Mapped[Decimal] = mapped_column(ExactDecimal)
    points_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    qualifying_points: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_points: Mapped[int] = mapped_column(BigInteger, default=0)
    vests_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A hash of what the client sent, to tell a retry from a different order with the same id.
    fingerprint: Mapped[str] = mapped_column(String(64))

    member = relationship(Member, lazy="raise")

    @property
    def net_amount(self) -> int:
        return max(self.amount - self.refunded_amount - self.disputed_amount, 0)


class Refund(db.Model):
    """One refund of a purchase, from the API or from Stripe."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # The shop's refund id: the same one again refunds nothing more (NULLs never collide).
        UniqueConstraint("purchase_id", "reference"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "ref"))
    purchase_id: Mapped[str] = mapped_column(ForeignKey("purchases.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="succeeded")


class LedgerEntry(db.Model):
    """One movement of points. Rows are never updated or deleted (a database trigger refuses)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("points <> 0", name="points_not_zero"),
        CheckConstraint(_in("type", ENTRY_TYPES), name="type"),
        CheckConstraint(_in("actor_type", ACTOR_TYPES), name="actor_type"),
        Index("ix_ledger_entries_member_id_id", "member_id", "id"),
        Index("ix_ledger_entries_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    type: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purchase_id: Mapped[str | None] = mapped_column(ForeignKey("purchases.id"), index=True)
    redemption_id: Mapped[str | None] = mapped_column(ForeignKey("redemptions.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(40))
    location: Mapped[str | None] = mapped_column(String(200))
    # Makes a system posting (a birthday bonus for one year, say) happen at most once.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)


install_ledger_guard(LedgerEntry.__table__)
