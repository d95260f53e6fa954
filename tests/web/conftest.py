"""Page tests with Flask's test client: staff sign in through the form, as a browser would."""
import pytest

from loyalty import staff
from loyalty.extensions import db
from tests.console_client import Console
from tests.helpers import STAFF_PASSWORD


@pytest.fixture
def staff_member():
    """staff_member(role) -> the email of a new active staff account (password STAFF_PASSWORD)."""
    counter = iter(range(10**6))

    def make(role="cashier"):
        email = f"{role}{next(counter)}@till.test"
        staff.create_staff(email, role.title(), role, STAFF_PASSWORD)
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
