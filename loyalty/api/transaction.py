"""Commit once, at the edge: a mutating request is one transaction, with Idempotency-Key."""
from functools import wraps

from flask import Response, request
from sqlalchemy.exc import IntegrityError

from loyalty import idempotency
from loyalty.errors import ValidationFailed
from loyalty.api.security import current_actor
from loyalty.extensions import db


MAX_KEY_LENGTH = 255


def commits(view):
    """Run the view as one transaction: commit its success, roll back anything that raises.

    A POST with an Idempotency-Key header replays the first successful response for the same
    credential, key and body, and 409s the same key with another body.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise ValidationFailed(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")
        try:
            if not key:
                response = view(*args, **kwargs)
            else:
                response = _idempotent(view, key, args, kwargs)
            db.session.commit()
            return response
        except BaseException:
            db.session.rollback()
            raise

    return wrapper


def _idempotent(view, key, args, kwargs):
    scope = current_actor().scope
    request_fingerprint = idempotency.fingerprint(request.method, request.path, request.get_data())
    saved = idempotency.saved_response(scope, key, request_fingerprint)
    if saved is None:
        try:
            saved = idempotency.claim(scope, key, request_fingerprint)
        except IntegrityError:
            # A concurrent retry held the key; it has committed now, so replay its answer.
            db.session.rollback()
            saved = idempotency.saved_response(scope, key, request_fingerprint)
            if saved is None:
                raise
            return _replay(saved)
        response = view(*args, **kwargs)
        if 200 <= response.status_code < 300:
            idempotency.keep_response(saved, response.status_code, response.get_data(as_text=True))
        else:
            db.session.rollback()  # only successes are kept; a failure may be retried
        return response
    return _replay(saved)


def _replay(saved) -> Response:
    response = Response(saved.response_body, status=saved.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response
