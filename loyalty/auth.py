"""Credentials: API keys, staff and customer tokens, and who they belong to."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, or_, select, update

from loyalty import clock, settings_cache
from loyalty.actors import Actor
from loyalty.direct_sql import DirectQuery
from loyalty.errors import NotFound, Unauthenticated
from loyalty.extensions import db
from loyalty.models import ApiKey, AuthToken, Member, Staff

API_KEY_PREFIX = "lk_"
TOKEN_PREFIXES = {"staff": "st_", "customer": "ct_"}
# How exactly a key's last use is kept: recording every request would be a write on every read.
KEY_USE_PRECISION = timedelta(minutes=5)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create_api_key(name: str, role: str) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once and only its hash is stored."""
    lookup, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = ApiKey(name=name, role=role, lookup=lookup, secret_hash=_sha256(secret))
    db.session.add(key)
    db.session.flush()
    return key, f"{API_KEY_PREFIX}{lookup}_{secret}"


def api_keys() -> list[ApiKey]:
    """Every API key, oldest first (revoked ones too)."""
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_api_key(key_id: str) -> ApiKey:
    """Revoke a key: its next request is refused (401). Revoking it again changes nothing."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
    return key


def note_api_key_use(key_id: str) -> None:
    """Record that the key was used now, unless that was recorded less than KEY_USE_PRECISION ago."""
    now = clock.now()
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id,
               or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - KEY_USE_PRECISION))
        .values(last_used_at=now)
    )


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


# Every request runs one of these (on the driver's cursor: loyalty.direct_sql). The settings
# revision rides along so that settings can come from this process's cache (settings_cache).
API_KEY_BY_LOOKUP = DirectQuery(
    select(ApiKey.id, ApiKey.role, ApiKey.secret_hash, ApiKey.revoked_at, settings_cache.REVISION)
    .where(ApiKey.lookup == bindparam("lookup"))
)
TOKEN_BY_HASH = DirectQuery(
    select(AuthToken.id, AuthToken.kind, AuthToken.staff_id, AuthToken.member_id, AuthToken.expires_at,
           AuthToken.revoked_at, Staff.role, Staff.active, Member.status, settings_cache.REVISION)
    .outerjoin(Staff, Staff.id == AuthToken.staff_id)
    .outerjoin(Member, Member.id == AuthToken.member_id)
    .where(AuthToken.token_hash == bindparam("token_hash"))
)


def _actor_for_api_key(credential: str) -> Actor:
    lookup, _, secret = credential[len(API_KEY_PREFIX):].partition("_")
    key = API_KEY_BY_LOOKUP.first(lookup=lookup)
    if key is None or key.revoked_at is not None:
        raise Unauthenticated()
    settings_cache.remember_revision(key.settings_revision)
    if not hmac.compare_digest(key.secret_hash, _sha256(secret)):
        raise Unauthenticated()
    return Actor("api_key", key.id, key.role)


def _actor_for_token(credential: str) -> Actor:
    token = TOKEN_BY_HASH.first(token_hash=_sha256(credential))
    if token is None:
        raise Unauthenticated()
    settings_cache.remember_revision(token.settings_revision)
    if token.revoked_at is not None or token.expires_at <= clock.now():
        raise Unauthenticated()
    if token.kind == "staff":
        if not token.active:
            raise Unauthenticated()
        return Actor("staff", token.staff_id, token.role, token_id=token.id)
    if token.status == "closed":
        raise Unauthenticated()
    return Actor("customer", token.member_id, "customer", member_id=token.member_id,
                 token_id=token.id)


def revoke_token(token_id: str) -> None:
    token = db.session.get(AuthToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = clock.now()
