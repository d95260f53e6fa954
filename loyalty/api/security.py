"""Bearer credentials and roles on every endpoint (API.md, Roles)."""
import inspect
import logging
import time
from functools import partial, wraps

from flask import after_this_request, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from loyalty import auth
from loyalty.actors import Actor
from loyalty.errors import Forbidden, Unauthenticated
from loyalty.extensions import db

log = logging.getLogger(__name__)

STAFF = ("manager", "cashier")
STOREFRONT = ("storefront",)
EVERYONE = ("admin", "storefront", "manager", "cashier", "customer")


def current_actor() -> Actor:
    """The authenticated actor of this request (set by `requires`)."""
    return g.actor


def _bearer() -> str:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip() or "\x00" in credential:
        raise Unauthenticated()
    return credential.strip()


# Roles in the order people read them: widest first.
ROLE_ORDER = ("admin", "storefront", "manager", "cashier", "customer")


def roles_text(allowed) -> str:
    """"admin, manager, cashier": the roles that may, in ROLE_ORDER."""
    return ", ".join(role for role in ROLE_ORDER if role in allowed)


def _documented(view, line: str):
    """The view's docstring with `line` as the last paragraph, which /openapi.json shows as (the end
    of) the operation's description, summary unchanged."""
    docstring = inspect.cleandoc(view.__doc__ or "")
    return f"{docstring}\n\n{line}" if docstring else line


def no_credential(why: str):
    """Mark a view that takes no bearer credential, and say why in its description."""
    def decorator(view):
        view.__doc__ = _documented(view, f"Roles: none; no credential needed ({why}).")
        return view
    return decorator


def requires(*roles: str):
    """Let in the listed roles (admin always); 401 without a valid credential, 403 otherwise.

    The roles are named at the end of the operation's description in /openapi.json, from here, so
    the document says what is enforced."""
    allowed = {"admin", *roles}

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = auth.authenticate(_bearer(), current_app.config["CREDENTIAL_CACHE_SECONDS"])
            if actor.type == "api_key":
                _record_key_use(actor.id)
            if actor.role not in allowed:
                raise Forbidden(f"Only {one_of(wrapper._roles)} may do this; this credential is {actor.role}.",
                                allowed_roles=wrapper._roles)
            g.actor = actor
            return view(*args, **kwargs)

        wrapper._roles = sorted(allowed)
        wrapper.__doc__ = _documented(view, f"Roles: {roles_text(allowed)}.")
        return wrapper

    return decorator


# API key id -> when this process last recorded its use (time.monotonic()).
_key_uses_recorded: dict[str, float] = {}


def _record_key_use(key_id: str) -> None:
    """Record the key's use after the response is ready, at most once per KEY_USE_PRECISION here."""
    now = time.monotonic()
    if now - _key_uses_recorded.get(key_id, float("-inf")) < auth.KEY_USE_PRECISION.total_seconds():
        return
    _key_uses_recorded[key_id] = now
    after_this_request(partial(_write_key_use, key_id))


def _write_key_use(key_id: str, response):
    """In a transaction of its own, once the request's work is committed (or failed): the commit
    first ends a read's transaction, so that SQLite takes the write lock afresh."""
    try:
        db.session.commit()
        auth.note_api_key_use(key_id)
        db.session.commit()
    except SQLAlchemyError:  # a busy database: the next use records it; the answer stands
        db.session.rollback()
        _key_uses_recorded.pop(key_id, None)
        log.warning("could not record the use of API key %s", key_id, exc_info=True)
    return response


def one_of(roles: list[str]) -> str:
    """["admin", "manager", "storefront"] -> "admin, manager or storefront"."""
    return " or ".join([", ".join(roles[:-1]), roles[-1]] if len(roles) > 1 else roles)


def require_own_member(member_id: str) -> None:
    """A customer token reaches only its own member."""
    actor = current_actor()
    if actor.role == "customer" and actor.member_id != member_id:
        raise Forbidden("A customer may ask only about their own member; admin, storefront, manager or "
                        "cashier may ask about any.")
