"""A write is one transaction on the one engine; a read (GET, HEAD) runs without one.

These need the app's own sessions: the other tests' sessions are bound to one connection held in
an outer transaction, which keeps every request in that transaction.
"""
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import event, make_url

from loyalty import auth, create_app
from loyalty.extensions import db
from loyalty.models import ApiKey
from tests.helpers import ON_POSTGRES, TEST_DATABASE_URL
from tests.live import fresh_database


def _in_transaction(dbapi_connection) -> bool:
    """Whether the driver holds an open transaction (psycopg's status, sqlite3's flag)."""
    if isinstance(dbapi_connection, psycopg.Connection):
        return dbapi_connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    return dbapi_connection.in_transaction


@contextmanager
def _own_app(**config):
    """(app, admin headers): an app on a new database with its own sessions, as in production."""
    with fresh_database(TEST_DATABASE_URL) as url:
        app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False, "SQLALCHEMY_DATABASE_URI": url,
                          "CREDENTIAL_CACHE_SECONDS": 0, **config})
        try:
            with app.app_context():
                db.create_all()
                _, plain = auth.create_api_key("test admin", "admin")
                db.session.commit()
                db.session.remove()
            yield app, {"Authorization": f"Bearer {plain}"}
        finally:
            with app.app_context():
                db.engine.dispose()


def _statements_of(app) -> list:
    """A list of (statement's first word, whether the driver held a transaction when it ran),
    filled as the app runs statements (the BEGIN sent on SQLite included)."""
    statements = []
    with app.app_context():
        event.listen(db.engine, "after_cursor_execute", lambda conn, cursor, statement, *args:
                     statements.append((statement.split()[0], _in_transaction(cursor.connection))))
    return statements


@pytest.fixture
def own_sessions(app_sessions):
    """(app, admin headers, statements) for an app of its own (_own_app, _statements_of)."""
    with _own_app() as (app, admin):
        yield app, admin, _statements_of(app)


def _requests(app, admin):
    client = app.test_client()
    client.get("/v1/program", headers=admin)  # the key's first use is recorded, in a transaction of its own
    created = client.post("/v1/members", json={"external_id": "c-1"}, headers=admin)
    assert created.status_code == 201, created.get_json()
    return client, created.get_json()["id"]


def test_a_read_runs_without_a_transaction_and_a_write_in_one(own_sessions, ticking):
    app, admin, statements = own_sessions
    client, member_id = _requests(app, admin)
    ticking.seconds += auth.API_KEY_RECHECK_SECONDS  # the key is looked up again
    statements.clear()
    read = client.get(f"/v1/members/{member_id}", headers=admin)
    assert read.status_code == 200, read.get_json()
    assert read.get_json()["external_id"] == "c-1"
    assert statements == [("SELECT", False), ("SELECT", False)]  # the credential, the member: no BEGIN

    statements.clear()
    changed = client.patch(f"/v1/members/{member_id}", json={"name": "Ada"}, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    assert all(held for _, held in statements), statements
    # SQLite: the write lock first, so that check-then-write is safe (extensions._begin_sqlite)
    assert [verb for verb, _ in statements if verb == "BEGIN"] == ([] if ON_POSTGRES else ["BEGIN"])
    assert client.get(f"/v1/members/{member_id}", headers=admin).get_json()["name"] == "Ada"


def test_a_read_still_records_its_key_use_in_a_transaction_of_its_own(own_sessions):
    app, admin, statements = own_sessions
    client = app.test_client()
    assert client.get("/v1/program", headers=admin).status_code == 200
    recorded = [held for verb, held in statements if verb == "UPDATE"]
    assert recorded == [True]
    with app.app_context():
        assert db.session.query(ApiKey).one().last_used_at is not None
        db.session.remove()


def test_reads_in_transactions_when_switched_off(app_sessions):
    with _own_app(READS_WITHOUT_TRANSACTION=False) as (app, admin):
        statements = _statements_of(app)
        assert app.test_client().get("/v1/members/mem_none", headers=admin).status_code == 404
        assert statements and all(held for _, held in statements), statements


def _cut_connections(database_url: str) -> None:
    """End every server process of that database, as a database restart would."""
    name = make_url(database_url).database
    with psycopg.connect(make_url(database_url).set(database="postgres", drivername="postgresql")
                         .render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])


@pytest.mark.skipif(not ON_POSTGRES, reason="a database restart, on PostgreSQL")
def test_only_the_first_request_after_a_database_restart_fails(own_sessions):
    """No pre-ping: the first request after a restart meets a lost connection and fails (503);
    SQLAlchemy then replaces the pool, so the next ones, reads or writes, succeed."""
    app, admin, _ = own_sessions
    client, member_id = _requests(app, admin)
    read = lambda: client.get(f"/v1/members/{member_id}", headers=admin).status_code  # noqa: E731
    write = lambda: client.patch(f"/v1/members/{member_id}", json={"name": "Ada"},  # noqa: E731
                                 headers=admin).status_code

    assert read() == 200
    _cut_connections(app.config["SQLALCHEMY_DATABASE_URI"])
    assert (write(), read(), write()) == (503, 200, 200)

    _cut_connections(app.config["SQLALCHEMY_DATABASE_URI"])
    assert (read(), write(), read()) == (503, 200, 200)
