"""Session cookies for the staff console only: the API stays stateless (bearer credentials).

The cookie holds the staff session token (the same kind `POST /v1/staff/sessions` gives, so
lifetime, lockout and revocation are the API's) and the CSRF secret. It is HttpOnly and
SameSite=Lax, and Secure except on a loopback address (local development over plain http).
"""
from urllib.parse import urlsplit

from flask import request
from flask.sessions import SecureCookieSessionInterface

CONSOLE_PREFIX = "/console"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions under /console; no session anywhere else."""

    def open_session(self, app, request):
        if not _is_console(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if _is_console(request.path):
            super().save_session(app, session, response)

    def get_cookie_secure(self, app) -> bool:
        configured = app.config["CONSOLE_COOKIE_SECURE"]
        if configured is not None:
            return configured
        return urlsplit("//" + request.host).hostname not in LOOPBACK_HOSTS

    def get_cookie_path(self, app) -> str:
        return CONSOLE_PREFIX


def _is_console(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")
