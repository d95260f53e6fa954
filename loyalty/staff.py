"""Staff accounts (cashiers and managers), their logins and sessions.

Failed logins are counted per email in the database, so every gunicorn worker sees the same
count: after LOCK_AFTER failures within LOCK_MINUTES that email is refused (429) for LOCK_MINUTES,
whether or not it belongs to anyone, so the answer reveals nothing.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from loyalty import auth, clock
from loyalty.emails import normalise_email
from loyalty.errors import InvalidCredentials, NotFound, RateLimited, StaffExists
from loyalty.extensions import db, serialize_on
from loyalty.models import AuthToken, LoginFailure, Staff

LOCK_AFTER = 5
LOCK_MINUTES = 15
# Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


def get_staff(staff_id: str) -> Staff:
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"No staff member {staff_id}.")
    return staff


def create_staff(email: str, name: str, role: str, password: str) -> Staff:
    staff = Staff(email=normalise_email(email), name=name, role=role,
                  password_hash=generate_password_hash(password))
    try:
        with db.session.begin_nested():
            db.session.add(staff)
    except IntegrityError:
        raise StaffExists(email=staff.email) from None
    return staff


def update_staff(staff_id: str, changes: dict) -> Staff:
    """Change role, name, password or active; a new password or deactivation ends every session."""
    staff = get_staff(staff_id)
    new_password = "password" in changes
    if new_password:
        staff.password_hash = generate_password_hash(changes.pop("password"))
    for field, value in changes.items():
        setattr(staff, field, value)
    if new_password or changes.get("active") is False:
        db.session.execute(
            update(AuthToken).where(AuthToken.staff_id == staff.id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=clock.now())
        )
    auth.forget_checked()  # the role or the sessions changed
    db.session.flush()
    return staff


def locked_until(email: str, now: datetime) -> datetime | None:
    """When the email's lock ends, if LOCK_AFTER failures within LOCK_MINUTES locked it recently."""
    span = timedelta(minutes=LOCK_MINUTES)
    failures = db.session.execute(
        select(LoginFailure.failed_at)
        .where(LoginFailure.email == email, LoginFailure.failed_at > now - 2 * span)
        .order_by(LoginFailure.failed_at)
    ).scalars().all()
    for index in range(LOCK_AFTER - 1, len(failures)):
        locking = failures[index]
        if locking - failures[index - LOCK_AFTER + 1] <= span and locking + span > now:
            return locking + span
    return None


@dataclass(frozen=True)
class Login:
    """What a login attempt gave: a token and its plain text, or the refusal to answer with.
    Either way the caller commits first: a failed attempt counts towards the lockout."""

    token: AuthToken | None = None
    plain: str | None = None
    refusal: InvalidCredentials | None = None


def log_in(email: str, password: str, lifetime: timedelta) -> Login:
    """A staff session token, or the refusal with the failure recorded; RateLimited while locked
    (nothing recorded)."""
    email = normalise_email(email)
    serialize_on(f"login:{email}")  # parallel guesses are counted one after another
    now = clock.now()
    until = locked_until(email, now)
    if until is not None:
        raise RateLimited(retry_after=int((until - now).total_seconds()) + 1)
    staff = db.session.execute(select(Staff).where(Staff.email == email)).scalar_one_or_none()
    password_hash = staff.password_hash if staff is not None else _DUMMY_HASH
    if not check_password_hash(password_hash, password) or staff is None or not staff.active:
        db.session.add(LoginFailure(email=email, failed_at=now))
        return Login(refusal=InvalidCredentials())
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    token, plain = auth.issue_token("staff", lifetime, staff_id=staff.id)
    return Login(token=token, plain=plain)


def prune_login_failures(now: datetime) -> int:
    return db.session.execute(
        delete(LoginFailure).where(LoginFailure.failed_at < now - timedelta(minutes=2 * LOCK_MINUTES))
    ).rowcount
