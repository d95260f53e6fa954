"""Who is signed in at the console: the staff session token kept in the session cookie.

The token is the one `POST /v1/staff/sessions` hands out (staff.log_in), so its lifetime,
revocation (sign-out, deactivation, a new password) and the login lockout are the API's.
"""
from functools import wraps
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for

from loyalty import auth
from loyalty.errors import Forbidden, Unauthenticated
from loyalty.extensions import db
from loyalty.models import Staff

TOKEN_KEY = "staff_token"
STAFF_ROLES = ("cashier", "manager")
ROLE_NAMES = {"cashier": "cashiers", "manager": "managers"}


def signed_in(*roles: str):
    """Let in a signed-in staff member with one of `roles` (any staff role when none is given);
    others go to the sign-in page, or get a 403 page naming who may."""
    allowed = roles or STAFF_ROLES

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = session_actor()
            if actor is None:
                return redirect(url_for("console.login", next=_here()))
            if actor.role not in allowed:
                raise Forbidden(f"This page is for {' and '.join(ROLE_NAMES[role] for role in allowed)} only.")
            g.actor = actor
            g.staff = db.session.get(Staff, actor.id)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def session_actor():
    """The staff actor of the session cookie's token, or None (a stale token is forgotten)."""
    token = session.get(TOKEN_KEY)
    if not token:
        return None
    try:
        actor = auth.authenticate(token)
    except Unauthenticated:
        session.pop(TOKEN_KEY, None)  # expired, revoked or deactivated: sign in again
        return None
    return actor if actor.type == "staff" else None


def _here() -> str:
    return request.full_path.rstrip("?")


def start(token: str) -> None:
    session.clear()  # a new session (and CSRF secret) for whoever signs in
    session[TOKEN_KEY] = token


def end() -> None:
    session.clear()


def safe_next(target: str | None, default: str) -> str:
    """A redirect target from a form or query, kept to this site's console pages."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console") or "\\" in target:
        return default
    return target
