"""Page tests with Flask's test client: staff sign in through the form, as a browser would."""
import re

import pytest
from flask import g
from flask.testing import FlaskClient

from loyalty import staff
from loyalty.extensions import db

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


class FreshRequestsClient(FlaskClient):
    """The tests' app context outlives requests, and Flask-WTF keeps the signed CSRF token in `g`:
    forget it before each request, as a request of its own app context would."""

    def open(self, *args, **kwargs):
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


class Console:
    """A test client signed in at the console (or not yet), posting forms with their CSRF token."""

    def __init__(self, app):
        self.client = FreshRequestsClient(app, app.response_class, use_cookies=True)

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def page(self, path) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def post(self, path, data, *, from_page=None, **kwargs):
        """Post a form as sent from `from_page` (default: the console's till), with its CSRF token."""
        html = self.page(from_page or "/console")
        return self.client.post(path, data={"csrf_token": csrf_of(html), **data}, **kwargs)

    def sign_in(self, email, password=PASSWORD):
        html = self.page("/console/login")
        return self.client.post("/console/login", data={"csrf_token": csrf_of(html), "email": email,
                                                        "password": password})


@pytest.fixture
def staff_member():
    """staff_member(role) -> the email of a new active staff account (password PASSWORD)."""
    counter = iter(range(10**6))

    def make(role="cashier"):
        email = f"{role}{next(counter)}@till.test"
        staff.create_staff(email, role.title(), role, PASSWORD)
        db.session.commit()
        return email
    return make


@pytest.fixture
def console(app, program, staff_member):
    """console(role="cashier") -> a Console signed in as a new staff member of that role."""
    def make(role="cashier"):
        session = Console(app)
        response = session.sign_in(staff_member(role))
        assert response.status_code == 303, response.get_data(as_text=True)
        return session
    return make
