"""Outbound webhooks: endpoints, the event outbox, one delivery per endpoint and event, attempts.

An event row is written in the same transaction as the change it tells of. A database trigger
(models/triggers.py) writes, in the same statement, one delivery for each active endpoint
subscribed to its type at that moment: the outbox costs the change one statement, and a committed
event is never without its deliveries.
"""
from datetime import datetime
from functools import partial

from sqlalchemy import (CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.extensions import db
from loyalty.ids import new_id
from loyalty.models.types import BigIntPK, UTCDateTime, utcnow

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "we"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    # Fernet tokens under a key derived from SECRET_KEY (loyalty.outbound.secrets): a database
    # dump alone does not let anyone sign deliveries.
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Deleted endpoints are kept (their deliveries' history stays readable) but shown nowhere.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscriptions = relationship("WebhookSubscription", cascade="all, delete-orphan", lazy="selectin",
                                 order_by="WebhookSubscription.event_type")

    @property
    def events(self) -> list[str]:
        return [subscription.event_type for subscription in self.subscriptions]


class WebhookSubscription(db.Model):
    """One event type an endpoint receives (`*`: every type)."""

    __tablename__ = "webhook_subscriptions"

    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)


class WebhookEvent(db.Model):
    """An event, with the exact JSON body every delivery of it sends."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)


class WebhookDelivery(db.Model):
    """One event to one endpoint: pending until a 2xx answer, failed after the last retry."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        CheckConstraint("attempts >= 0 AND round_start >= 0", name="attempt_counts"),
        # What the deliverer claims: pending ones by when they are due.
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),
    )

    # 'whd_' + the event's id + the endpoint's id, made by the trigger that writes it.
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # `attempts` when the current round of retries began (a retry by hand starts a new round).
    round_start: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event = relationship(WebhookEvent, lazy="raise")


class WebhookAttempt(db.Model):
    """One try at sending a delivery, as the receiver answered it (or did not)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)


class MemberNotice(db.Model):
    """A run-jobs event already recorded for a member (points.expiring per `on` date,
    member.at_risk per quiet spell), so that it is recorded once however often run-jobs runs."""

    __tablename__ = "member_notices"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
