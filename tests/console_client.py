"""A test client for the staff console: signs in through the form and posts forms with their
CSRF token, as a browser would (fixtures `console` and `staff_member` are in tests/web/conftest.py)."""
import itertools
import re

from flask import g
from flask.testing import FlaskClient

from tests.helpers import STAFF_PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def text_of(response) -> str:
    """A page's HTML with its whitespace runs made single spaces."""
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


class FreshRequestsClient(FlaskClient):
    """The tests' app context outlives requests, and Flask-WTF keeps the signed CSRF token in `g`:
    forget it before each request, as a request of its own app context would."""

    def open(self, *args, **kwargs):
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


# Each Console comes from an address of its own: the sign-in's per-address limit (LOGIN_RATE_LIMIT)
# is for one client, not for a whole test run (the limiter is on once any test app enables it).
ADDRESSES = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))


class Console:
    """A browser-like client of the console, signed in or not."""

    def __init__(self, app):
        self.client = FreshRequestsClient(app, app.response_class, use_cookies=True)
        self.client.environ_base["REMOTE_ADDR"] = next(ADDRESSES)

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def page(self, path) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def post(self, path, data, *, from_page=None, **kwargs):
        """Post a form as sent from `from_page` (default: the till), with that page's CSRF token."""
        html = self.page(from_page or "/console")
        return self.client.post(path, data={"csrf_token": csrf_of(html), **data}, **kwargs)

    def sign_in(self, email, password=STAFF_PASSWORD):
        html = self.page("/console/login")
        return self.client.post("/console/login", data={"csrf_token": csrf_of(html), "email": email,
                                                        "password": password})
