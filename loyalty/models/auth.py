"""Credentials: API keys, staff accounts, and the bearer tokens of staff and customers."""
from datetime import datetime
from functools import partial

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.extensions import db
from loyalty.ids import new_id
from loyalty.models.types import BigIntPK, UTCDateTime, utcnow


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('admin', 'storefront')", name="role"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "key"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # The key is `lk_<lookup>_<secret>`: the lookup part finds the row, the secret's hash is compared.
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # To within auth.KEY_USE_PRECISION: each worker records a key's use at most that often.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Staff(db.Model):
    __tablename__ = "staff"
    __table_args__ = (CheckConstraint("role IN ('cashier', 'manager')", name="role"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "stf"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AuthToken(db.Model):
    """A bearer token for a staff member's session or for one customer."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'staff' AND staff_id IS NOT NULL AND member_id IS NULL) OR "
            "(kind = 'customer' AND member_id IS NOT NULL AND staff_id IS NULL)",
            name="owner",
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=partial(new_id, "tok"))
    kind: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"), index=True)
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(db.Model):
    """A failed staff login, counted per email across every worker."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_failed_at", "email", "failed_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
