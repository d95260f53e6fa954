"""Idempotency-Key (API.md, Conventions), following Stripe's contract.

The key is claimed with an INSERT at the start of the request's transaction and its response
saved in the same transaction, so a concurrent retry with the same key waits on the unique
index until the first request commits (or rolls back) and then replays what it answered.
Only successful responses are kept: a request that failed changed nothing and may be retried.
"""
import hashlib
import json
from datetime import timedelta

from sqlalchemy import delete, select

from loyalty import clock
from loyalty.errors import IdempotencyKeyReused
from loyalty.extensions import db
from loyalty.models import IdempotencyKey

KEEP_FOR = timedelta(hours=48)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """A hash of the request; JSON bodies are compared by content, not by spacing or key order."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("latin-1")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def saved_response(scope: str, key: str, request_fingerprint: str) -> IdempotencyKey | None:
    """The kept response for this key, None if the key is new; 409 if it was used otherwise."""
    row = db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    ).scalar_one_or_none()
    if row is not None and row.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    return row


def claim(scope: str, key: str, request_fingerprint: str) -> IdempotencyKey:
    """Insert the key for this transaction; raises IntegrityError if another request holds it."""
    row = IdempotencyKey(scope=scope, key=key, fingerprint=request_fingerprint,
                         status_code=0, response_body="")
    db.session.add(row)
    db.session.flush()
    return row


def keep_response(row: IdempotencyKey, status_code: int, body: str) -> None:
    row.status_code = status_code
    row.response_body = body
    db.session.flush()


def prune(now=None) -> int:
    """Forget keys older than KEEP_FOR (the contract promises at least 24 hours)."""
    cutoff = (now or clock.now()) - KEEP_FOR
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return result.rowcount
