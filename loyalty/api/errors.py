"""Every failure becomes the one JSON error shape of API.md, built here and nowhere else."""
import logging

import marshmallow as ma
from flask import current_app, jsonify
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from loyalty.errors import LoyaltyError

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Machine-readable, snake_case"})
    message = ma.fields.String(required=True, metadata={"description": "For a person"})
    details = ma.fields.Dict(metadata={"description": "Bad fields for validation errors, ids for conflicts"})


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema, required=True)


def error_response(status: int, code: str, message: str, details: dict | None = None, headers=None):
    body = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify(error=body)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def handle_loyalty_error(error: LoyaltyError):
    retry_after = error.details.get("retry_after")
    headers = dict(error.headers)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return error_response(error.status, error.code, error.message, error.details, headers=headers)


def handle_http_exception(error: HTTPException):
    data = getattr(error, "data", None) or {}
    if error.code in (400, 422) and "messages" in data:
        # webargs: the body or query failed validation; list the bad fields.
        return error_response(422, "validation_error", "The request is not valid.",
                              _flatten_locations(data["messages"]))
    code = HTTP_CODES.get(error.code, "error")
    if error.code == 400:  # malformed JSON and other unreadable requests
        return error_response(422, "validation_error", "The request body is not valid JSON.")
    message = data.get("message") or error.description or code
    # Keep what the exception says about itself (Allow on a 405, Retry-After on a 429).
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    return error_response(error.code, code, message, headers=headers)


def _flatten_locations(messages: dict) -> dict:
    """webargs nests errors by location ({"json": {...}}); clients only need the fields."""
    fields = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            fields.update(location_errors)
        else:
            fields.setdefault("_schema", location_errors)
    return {"fields": fields}


def handle_database_unavailable(error: DBAPIError):
    if isinstance(error, DataError):  # a NUL character, a number too large for its column...
        return error_response(422, "validation_error", "A value in the request cannot be stored.")
    if not _connection_lost(error):
        return handle_unexpected(error)
    log.warning("database unavailable: %s", error.__class__.__name__)
    return error_response(503, "service_unavailable", "The database is unavailable; try again.",
                          headers={"Retry-After": "5"})


def handle_pool_exhausted(error: PoolTimeout):
    log.warning("no database connection free within the pool timeout")
    return error_response(503, "service_unavailable", "The service is busy; try again.",
                          headers={"Retry-After": "5"})


def _connection_lost(error: DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower()
    return isinstance(error, OperationalError) and any(
        # A deadlock or a busy database: the same request will very likely succeed again.
        hint in text for hint in ("connection", "could not", "server closed", "locked", "timeout", "deadlock")
    )


def handle_unexpected(error: Exception):
    if current_app.testing and current_app.config.get("RAISE_UNEXPECTED", True):
        raise error
    log.exception("unhandled error")
    return error_response(500, "internal_error", "Something went wrong on our side.")


def register_error_handlers(app):
    app.register_error_handler(LoyaltyError, handle_loyalty_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DBAPIError, handle_database_unavailable)
    app.register_error_handler(PoolTimeout, handle_pool_exhausted)
    app.register_error_handler(Exception, handle_unexpected)
