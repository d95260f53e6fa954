"""Bearer credentials and roles on every endpoint (API.md, Roles)."""
from functools import wraps

from flask import g, request

from loyalty import auth
from loyalty.actors import Actor
from loyalty.errors import Forbidden, Unauthenticated

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


def requires(*roles: str):
    """Let in the listed roles (admin always); 401 without a valid credential, 403 otherwise."""
    allowed = {"admin", *roles}

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = auth.authenticate(_bearer())
            if actor.role not in allowed:
                raise Forbidden()
            g.actor = actor
            return view(*args, **kwargs)

        wrapper._roles = sorted(allowed)
        return wrapper

    return decorator


def require_own_member(member_id: str) -> None:
    """A customer token reaches only its own member."""
    actor = current_actor()
    if actor.role == "customer" and actor.member_id != member_id:
        raise Forbidden()
