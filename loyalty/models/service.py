"""The service desk: feedback, cases (with their replies and history) and staff notes on members.

Reports read these tables with set-based SQL: feedback keeps its band, a case keeps the moments
a service report measures (opened, first response, resolved) and how often it was reopened; the
tier held at any of those moments comes from the tier history.
"""
from datetime import datetime
from functools import partial

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from loyalty.extensions import db
from loyalty.ids import new_id
from loyalty.models.types import BigIntPK, UTCDateTime, utcnow

FEEDBACK_KINDS = ("csat", "nps")
CHANNELS = ("online", "store", "phone", "email", "other")
CASE_CATEGORIES = ("product", "service", "delivery", "billing", "points", "other")
CASE_STATUSES = ("open", "resolved")
CASE_EVENT_TYPES = ("resolved", "reopened")
AUTHOR_TYPES = ("staff", "api_key", "customer")

# The band of a score (API.md, Service: Feedback), in SQL so the database holds every row to it.
BAND_OF_SCORE = (
    "CASE WHEN kind = 'csat' THEN (CASE WHEN score <= 2 THEN 'unhappy' WHEN score = 3 THEN 'neutral' "
    "ELSE 'happy' END) ELSE (CASE WHEN score <= 6 THEN 'detractor' WHEN score <= 8 THEN 'passive' "
    "ELSE 'promoter' END) END"
)


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Feedback(db.Model):
    """One CSAT (1-5) or NPS (0-10) answer of a member, about a purchase or not."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(_in("kind", FEEDBACK_KINDS), name="kind"),
        CheckConstraint("(kind = 'csat' AND score BETWEEN 1 AND 5) OR (kind = 'nps' AND score BETWEEN 0 AND 10)",
                        name="score_range"),
        CheckConstraint(f"band = {BAND_OF_SCORE}", name="band"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("actor_type", AUTHOR_TYPES), name="actor_type"),
        # One answer per purchase and kind (feedback without a purchase is not limited: NULLs differ).
        UniqueConstraint("purchase_id", "kind"),
        Index("ix_feedback_member_created", "member_id", "created_at"),
        Index("ix_feedback_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "fb"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    purchase_id: Mapped[str | None] = mapped_column(ForeignKey("purchases.id"))
    kind: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who recorded it (the customer themselves, a till, a storefront key).
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(40))


class Case(db.Model):
    """A complaint or request. Its row holds the present; case_events hold each resolve and reopen."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("category", CASE_CATEGORIES), name="category"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint("(status = 'open' AND resolved_at IS NULL) OR (status = 'resolved' AND resolved_at IS NOT NULL)",
                        name="resolved_when_resolved"),
        CheckConstraint("goodwill_points >= 0 AND reopened_count >= 0", name="counts_not_negative"),
        CheckConstraint(_in("actor_type", AUTHOR_TYPES), name="actor_type"),
        Index("ix_cases_status_opened", "status", "opened_at"),
        Index("ix_cases_member_opened", "member_id", "opened_at"),
        Index("ix_cases_opened_at", "opened_at"),
        Index("ix_cases_assignee_id", "assignee_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "case"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    purchase_id: Mapped[str | None] = mapped_column(ForeignKey("purchases.id"))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The earliest reply that is not the customer's (min over replies, even imported out of order).
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    resolution: Mapped[str | None] = mapped_column(Text)
    goodwill_points: Mapped[int] = mapped_column(BigInteger, default=0)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CaseReply(db.Model):
    """A message on a case, from the shop (staff or an API key) or from the customer."""

    __tablename__ = "case_replies"
    __table_args__ = (
        CheckConstraint(_in("author_type", AUTHOR_TYPES), name="author_type"),
        Index("ix_case_replies_case_created", "case_id", "created_at"),
        Index("ix_case_replies_member_created", "member_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "rpl"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))  # the case's, for the timeline
    text: Mapped[str] = mapped_column(Text)
    author_type: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Filled by the query that loads it (loyalty.service.common.with_author_name).
    author_name: Mapped[str | None] = query_expression()


class CaseEvent(db.Model):
    """One resolution or reopening of a case, kept for the member's timeline."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint(_in("type", CASE_EVENT_TYPES), name="type"),
        CheckConstraint("goodwill_points >= 0", name="goodwill_not_negative"),
        Index("ix_case_events_member_at", "member_id", "at"),
        Index("ix_case_events_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    type: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(40))
    goodwill_points: Mapped[int] = mapped_column(BigInteger, default=0)
    resolution: Mapped[str | None] = mapped_column(Text)
    # The goodwill entry this resolution posted, if any.
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)


class Note(db.Model):
    """A staff note on a member; never shown to the customer."""

    __tablename__ = "notes"
    __table_args__ = (
        CheckConstraint(_in("author_type", AUTHOR_TYPES[:2]), name="author_type"),
        Index("ix_notes_member_created", "member_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "note"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(default=False)
    author_type: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Filled by the query that loads it (loyalty.service.common.with_author_name).
    author_name: Mapped[str | None] = query_expression()
