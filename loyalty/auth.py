"""Credentials: API keys, staff and customer tokens, and who they belong to."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select

from loyalty import clock
from loyalty.errors import Unauthenticated
from loyalty.extensions import db
from loyalty.actors import Actor
from loyalty.models import ApiKey, AuthToken, Member, Staff

API_KEY_PREFIX = "lk_"
TOKEN_PREFIXES = {"staff": "st_", "customer": "ct_"}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create_api_key(name: str, role: str) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once and only its hash is stored."""
    lookup, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = ApiKey(name=name, role=role, lookup=lookup, secret_hash=_sha256(secret))
    db.session.add(key)
    db.session.flush()
    return key, f"{API_KEY_PREFIX}{lookup}_{secret}"


def issue_token(kind: str, lifetime: timedelta, *, staff_id=None, member_id=None):
    """A bearer token for a staff session or a customer; returns (row, plain token)."""
    plain = TOKEN_PREFIXES[kind] + secrets.token_urlsafe(32)
    token = AuthToken(kind=kind, staff_id=staff_id, member_id=member_id,
                      token_hash=_sha256(plain), expires_at=clock.now() + lifetime)
    db.session.add(token)
    db.session.flush()
    return token, plain


def authenticate(credential: str) -> Actor:
    """The actor behind a bearer credential, or Unauthenticated."""
    if credential.startswith(API_KEY_PREFIX):
        return _actor_for_api_key(credential)
    if credential.startswith(tuple(TOKEN_PREFIXES.values())):
        return _actor_for_token(credential)
    raise Unauthenticated()


def _actor_for_api_key(credential: str) -> Actor:
    lookup, _, secret = credential[len(API_KEY_PREFIX):].partition("_")
    key = db.session.execute(select(ApiKey).where(ApiKey.lookup == lookup)).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        raise Unauthenticated()
    if not hmac.compare_digest(key.secret_hash, _sha256(secret)):
        raise Unauthenticated()
    return Actor("api_key", key.id, key.role)


def _actor_for_token(credential: str) -> Actor:
    row = db.session.execute(
        select(AuthToken, Staff.role, Staff.active, Member.status)
        .outerjoin(Staff, Staff.id == AuthToken.staff_id)
        .outerjoin(Member, Member.id == AuthToken.member_id)
        .where(AuthToken.token_hash == _sha256(credential))
    ).one_or_none()
    if row is None:
        raise Unauthenticated()
    token, staff_role, staff_active, member_status = row
    if token.revoked_at is not None or token.expires_at <= clock.now():
        raise Unauthenticated()
    if token.kind == "staff":
        if not staff_active:
            raise Unauthenticated()
        return Actor("staff", token.staff_id, staff_role, token_id=token.id)
    if member_status == "closed":
        raise Unauthenticated()
    return Actor("customer", token.member_id, "customer", member_id=token.member_id,
                 token_id=token.id)


def revoke_token(token_id: str) -> None:
    token = db.session.get(AuthToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = clock.now()
