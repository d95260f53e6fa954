"""Fixtures: one schema per run, each test inside a transaction that is rolled back.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.
Tests that need real commits (concurrency against a live server) use `live_database`.
"""
import os
import tempfile
from datetime import datetime, timezone

import pytest
from sqlalchemy import orm, text

from config import database_url
from loyalty import auth, clock, create_app
from loyalty.extensions import db
from loyalty.models import Program

TEST_DATABASE_URL = database_url(os.environ.get("TEST_DATABASE_URL"))
ON_POSTGRES = bool(TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgresql"))


def _test_database_url() -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite:///{tempfile.mkdtemp(prefix='loyalty-test-')}/test.sqlite3"


def reset_schema():
    """Drop everything and build the models' schema (with the ledger guard triggers)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        db.drop_all()
    db.create_all()


@pytest.fixture(scope="session")
def app():
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _test_database_url(),
        "STRIPE_WEBHOOK_SECRETS": ["whsec_test_secret"],
        "RATELIMIT_ENABLED": False,
    })
    with app.app_context():
        reset_schema()
    yield app


class ConnectionBoundSession(orm.Session):
    """A plain Session: Flask-SQLAlchemy's own would pick the engine over our connection."""

    def __init__(self, db=None, **options):
        super().__init__(**options)


@pytest.fixture(autouse=True)
def _transaction(app):
    """Run the test in a transaction that is rolled back; code under test may still commit."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session({
            "class_": ConnectionBoundSession, "bind": connection,
            "join_transaction_mode": "create_savepoint",
        })
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def program(app):
    """The program with a usd, jpy and kwd earn rate of 1 point per major unit."""
    row = db.session.get(Program, 1) or Program(id=1)
    row.earn_rates = {"usd": "1", "eur": "1", "jpy": "0.01", "kwd": "1"}
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def api_key():
    """api_key(role) -> Authorization headers for a new API key of that role."""
    def make(role="admin"):
        _, plain = auth.create_api_key(f"test {role}", role)
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}
    return make


@pytest.fixture
def admin(api_key):
    return api_key("admin")


@pytest.fixture
def storefront(api_key):
    return api_key("storefront")


@pytest.fixture
def enroll(client, admin):
    """enroll(external_id=..., **fields) -> the member JSON."""
    counter = iter(range(1, 10**6))

    def make(external_id=None, **fields):
        body = {"external_id": external_id or f"cust-{next(counter)}", **fields}
        response = client.post("/v1/members", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return make


@pytest.fixture
def at():
    """at("2026-03-01T10:00:00Z") freezes the clock there for a `with` block."""
    def freeze(stamp: str):
        return clock.frozen(datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc))
    return freeze


class _LiveServers:
    """Starts LiveServers on fresh databases and tears every one down afterwards."""

    def __init__(self):
        self.servers, self.databases = [], []

    def __call__(self, workers=4, env=None):
        from tests.live import LiveServer, fresh_database

        database = fresh_database(TEST_DATABASE_URL)
        self.databases.append(database)
        server = LiveServer(database.__enter__(), workers=workers, env=env)
        self.servers.append(server)
        return server.start()

    def close(self):
        for server in self.servers:
            server.stop()
        for database in self.databases:
            database.__exit__(None, None, None)


@pytest.fixture
def live_server():
    """live_server(workers=4, env={}) -> a started LiveServer on a fresh, committed database."""
    servers = _LiveServers()
    yield servers
    servers.close()


@pytest.fixture(scope="module")
def shared_live_server():
    """One LiveServer (4 workers) for a whole module whose tests use distinct ids."""
    servers = _LiveServers()
    yield servers()
    servers.close()
