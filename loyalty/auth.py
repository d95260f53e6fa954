"""Credentials: API keys, staff and customer tokens, and who they belong to."""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from time import monotonic

from sqlalchemy import bindparam, event, or_, select, update
from sqlalchemy.orm import Session

from loyalty import clock, settings
from loyalty.actors import Actor
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
    """Revoke a key: refused (401) by this process once committed, by every other one within
    API_KEY_RECHECK_SECONDS of the commit. Revoking it again changes nothing."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
    forget_checked()
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


# A worker takes an API key it found valid as valid again for this long, without asking the
# database: most requests then run one statement less. `loyalty revoke-api-key` waits as long
# after its commit, so once it has returned no worker of any server takes the key any more (API.md:
# its next request is 401). Keys never expire and change in no other way.
API_KEY_RECHECK_SECONDS = 1.0
# What revoke-api-key waits beyond that: servers' clocks may run a little faster or slower.
CLOCK_RATE_MARGIN_SECONDS = 0.1

# sha256 of a credential -> (time.monotonic() until which it is taken without a look-up, its actor).
_checked: dict[str, tuple[float, Actor]] = {}
CHECKED_KEPT_AT_MOST = 10_000
# Counts the commits that changed credentials here: a look-up that began before one keeps nothing.
_forgotten = 0
CREDENTIALS_CHANGED = "credentials_changed"


def authenticate(credential: str, token_cache_seconds: float = 0) -> Actor:
    """The actor behind a bearer credential, or Unauthenticated.

    An API key found valid is taken as valid again for API_KEY_RECHECK_SECONDS. A staff or customer
    token is looked up every time unless `token_cache_seconds` > 0 (CREDENTIAL_CACHE_SECONDS,
    README): then it is kept that long, never past its expiry, and a token revoked by another
    process (a sign-out on another worker, a deactivated staff member, a closed member) keeps
    working there for at most that long.
    """
    digest = _sha256(credential)
    now = monotonic()  # taken before the look-up: what it keeps lapses in time for a revocation it missed
    kept = _checked.get(digest)
    if kept is not None and now < kept[0]:
        return kept[1]
    began_after = _forgotten
    actor, expires_at = _look_up(credential)
    keep_for = API_KEY_RECHECK_SECONDS if actor.type == "api_key" else token_cache_seconds
    if expires_at is not None:
        keep_for = min(keep_for, (expires_at - clock.now()).total_seconds())
    if keep_for > 0 and began_after == _forgotten:
        if len(_checked) >= CHECKED_KEPT_AT_MOST:
            _checked.clear()
        _checked[digest] = (now + keep_for, actor)
        if began_after != _forgotten:  # another thread's commit changed credentials meanwhile
            _checked.pop(digest, None)
    return actor


def forget_checked() -> None:
    """A credential is revoked or changed in this transaction: once it commits, this process looks
    every credential up again (other processes see it within the times `authenticate` keeps them). Not
    before the commit: a look-up in between would still find the credential valid and keep it."""
    db.session().info[CREDENTIALS_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session):
    global _forgotten
    if session.info.pop(CREDENTIALS_CHANGED, False):
        _forgotten += 1
        _checked.clear()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session):
    session.info.pop(CREDENTIALS_CHANGED, None)


def _look_up(credential: str) -> tuple[Actor, datetime | None]:
    if credential.startswith(API_KEY_PREFIX):
        return _actor_for_api_key(credential), None
    if credential.startswith(tuple(TOKEN_PREFIXES.values())):
        return _actor_for_token(credential)
    raise Unauthenticated()


# A credential look-up is often a request's first statement: the settings revision rides along.
# On the tables, not the mapped classes: plain rows, no ORM loading.
API_KEYS, TOKENS, STAFF, MEMBERS = (model.__table__ for model in (ApiKey, AuthToken, Staff, Member))
API_KEY_BY_LOOKUP = (
    select(API_KEYS.c.id, API_KEYS.c.role, API_KEYS.c.secret_hash, API_KEYS.c.revoked_at, settings.REVISION)
    .where(API_KEYS.c.lookup == bindparam("lookup"))
)
TOKEN_BY_HASH = (
    select(TOKENS.c.id, TOKENS.c.kind, TOKENS.c.staff_id, TOKENS.c.member_id, TOKENS.c.expires_at,
           TOKENS.c.revoked_at, STAFF.c.role, STAFF.c.active, MEMBERS.c.status, settings.REVISION)
    .outerjoin(STAFF, STAFF.c.id == TOKENS.c.staff_id)
    .outerjoin(MEMBERS, MEMBERS.c.id == TOKENS.c.member_id)
    .where(TOKENS.c.token_hash == bindparam("token_hash"))
)


def _actor_for_api_key(credential: str) -> Actor:
    lookup, _, secret = credential[len(API_KEY_PREFIX):].partition("_")
    key = db.session.execute(API_KEY_BY_LOOKUP, {"lookup": lookup}).first()
    if key is None or key.revoked_at is not None:
        raise Unauthenticated()
    settings.seen(key.settings_revision)
    if not hmac.compare_digest(key.secret_hash, _sha256(secret)):
        raise Unauthenticated()
    return Actor("api_key", key.id, key.role)


def _actor_for_token(credential: str) -> tuple[Actor, datetime]:
    token = db.session.execute(TOKEN_BY_HASH, {"token_hash": _sha256(credential)}).first()
    if token is None:
        raise Unauthenticated()
    settings.seen(token.settings_revision)
    if token.revoked_at is not None or token.expires_at <= clock.now():
        raise Unauthenticated()
    if token.kind == "staff":
        if not token.active:
            raise Unauthenticated()
        return Actor("staff", token.staff_id, token.role, token_id=token.id), token.expires_at
    if token.status == "closed":
        raise Unauthenticated()
    return (Actor("customer", token.member_id, "customer", member_id=token.member_id, token_id=token.id),
            token.expires_at)


def revoke_token(token_id: str) -> None:
    token = db.session.get(AuthToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = clock.now()
    forget_checked()
