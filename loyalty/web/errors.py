"""Failures on the web pages become a page in words with the right status, never a stack trace
(the API's JSON error handlers stay for /v1)."""
import logging

from flask import Blueprint, Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from loyalty.errors import LoyaltyError
from loyalty.extensions import db

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "The request could not be read.",
    404: "There is no such page.",
    405: "This page cannot be used that way.",
    413: "What was sent is too large.",
    429: "Too many attempts; wait a little and try again.",
}
CSRF_MESSAGE = ("This form has expired or did not come from this page, so nothing was changed. "
                "Reload the page and try again.")


def error_page(status: int, message: str, title: str | None = None):
    return render_template("error.html", status=status, message=message, title=title or "Something is wrong"), status


def handle_loyalty_error(error: LoyaltyError):
    db.session.rollback()
    return error_page(error.status, error.message)


def handle_csrf_error(error: CSRFError):
    return error_page(400, CSRF_MESSAGE, "The form could not be sent")


def handle_http_exception(error: HTTPException):
    return error_page(error.code or 500, HTTP_MESSAGES.get(error.code, error.description or "Something went wrong."))


def handle_unexpected(error: Exception):
    db.session.rollback()
    if current_app.testing and current_app.config.get("RAISE_UNEXPECTED", True):
        raise error
    log.exception("unhandled error on a page")
    return error_page(500, "Something went wrong on our side; nothing was changed. Try again in a moment.")


def register(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(LoyaltyError, handle_loyalty_error)
    blueprint.register_error_handler(CSRFError, handle_csrf_error)
    blueprint.register_error_handler(HTTPException, handle_http_exception)
    blueprint.register_error_handler(Exception, handle_unexpected)


def register_unrouted(app: Flask, blueprints: list[Blueprint], otherwise) -> None:
    """A 404 or 405 under a page blueprint's prefix is a page too, even when no route matched.

    Flask asks a blueprint's error handlers only once one of its routes matched, so a mistyped
    /console/... URL would otherwise get the API's JSON. Every other 404 and 405 goes to
    `otherwise` (the API's handler).
    """
    prefixes = tuple(blueprint.url_prefix for blueprint in blueprints)

    def page_or_otherwise(error: HTTPException):
        path = request.path
        if any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes):
            return handle_http_exception(error)
        return otherwise(error)

    for status in (404, 405):
        app.register_error_handler(status, page_or_otherwise)
