"""Stripe events as received (one row per event id, so each is applied once), and the newest
state Stripe told us about each payment (refunds, failed refunds, disputes)."""
from datetime import datetime
from functools import partial

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.extensions import db
from loyalty.ids import new_id
from loyalty.models.types import UTCDateTime, utcnow

EVENT_STATUSES = ("processed", "ignored", "parked", "failed")


class PaymentEvent(db.Model):
    __tablename__ = "payment_events"
    __table_args__ = (
        CheckConstraint("status IN ('processed', 'ignored', 'parked', 'failed')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's event id
    # Time-ordered and unique: the list's newest-first cursor (Stripe's ids are not ordered).
    receipt_id: Mapped[str] = mapped_column(String(40), unique=True, default=partial(new_id, "pev"))
    type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), index=True)
    stripe_created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # What a parked event waits for: a payment, a Stripe customer or an email.
    payment_key: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)


class StripePayment(db.Model):
    """One Stripe payment (a payment intent, or a charge without one) and its newest known state.

    Events arrive in any order and more than once, so each fact is kept with the moment Stripe
    stated it, and only a newer statement replaces it. The purchase follows what is kept here.
    """

    __tablename__ = "stripe_payments"

    payment_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    purchase_id: Mapped[str | None] = mapped_column(ForeignKey("purchases.id"), unique=True)
    # The charge's cumulative amount_refunded, as of the newest charge.refunded seen (its `created`).
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds_as_of: Mapped[int | None] = mapped_column(BigInteger)
    # {refund id: {"amount", "created", "failed_at"}}: refunds that failed or were cancelled.
    failed_refunds: Mapped[dict] = mapped_column(JSON, default=dict)
    # {dispute id: {"amount", "status", "as_of"}}: the newest status of each dispute.
    disputes: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StripeCharge(db.Model):
    """Which payment a charge belongs to: old refunds and disputes name only the charge."""

    __tablename__ = "stripe_charges"

    charge_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    payment_key: Mapped[str] = mapped_column(String(255), index=True)
