"""Pure unit tests: plain functions of plain values, with no app and no database.

The suite's autouse fixture wraps every other test in a database transaction; here it is
replaced by one that does nothing, so a test that reached for the database would fail loudly.
"""
import pytest


@pytest.fixture(autouse=True)
def _transaction():
    yield
