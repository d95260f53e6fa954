"""Every request is one transaction on the one engine; on SQLite a read takes no write lock.

These need the app's own sessions: the other tests' sessions are bound to one connection held in
an outer transaction, which keeps every request in that transaction.
"""
import psycopg
import pytest
from sqlalchemy import event, make_url

from loyalty import auth, create_app
from loyalty.extensions import db
from tests.helpers import ON_POSTGRES, TEST_DATABASE_URL
from tests.live import fresh_database


@pytest.fixture
def own_sessions(app_sessions):
    """(app, admin headers, transactions): an app on a new database with its own sessions, and a
    list with one entry per transaction its engine begins: the BEGIN sent on SQLite, "begin" on
    PostgreSQL (psycopg begins by itself)."""
    with fresh_database(TEST_DATABASE_URL) as url:
        app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False, "SQLALCHEMY_DATABASE_URI": url,
                          "CREDENTIAL_CACHE_SECONDS": 0})
        try:
            with app.app_context():
                db.create_all()
                _, plain = auth.create_api_key("test admin", "admin")
                db.session.commit()
                db.session.remove()
                transactions = []
                event.listen(db.engine, "begin", lambda connection: transactions.append("begin"))
                event.listen(db.engine, "before_cursor_execute", lambda conn, cursor, statement, *args:
                             statement.startswith("BEGIN") and transactions.append(statement))
            yield app, {"Authorization": f"Bearer {plain}"}, transactions
        finally:
            with app.app_context():
                db.engine.dispose()


def _requests(app, admin):
    client = app.test_client()
    client.get("/v1/program", headers=admin)  # the key's first use is recorded, in a transaction of its own
    created = client.post("/v1/members", json={"external_id": "c-1"}, headers=admin)
    assert created.status_code == 201, created.get_json()
    return client, created.get_json()["id"]


def test_a_read_and_a_write_are_each_one_transaction(own_sessions):
    app, admin, transactions = own_sessions
    client, member_id = _requests(app, admin)
    transactions.clear()
    read = client.get(f"/v1/members/{member_id}", headers=admin)
    assert read.status_code == 200, read.get_json()
    assert read.get_json()["external_id"] == "c-1"
    assert transactions.count("begin") == 1  # the credential and the member, in one transaction

    transactions.clear()
    changed = client.patch(f"/v1/members/{member_id}", json={"name": "Ada"}, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    assert transactions.count("begin") == 1


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's write lock")
def test_on_sqlite_a_read_begins_without_the_write_lock_and_a_write_with_it(own_sessions):
    app, admin, transactions = own_sessions
    client, member_id = _requests(app, admin)
    transactions.clear()
    assert client.get(f"/v1/members/{member_id}", headers=admin).status_code == 200
    assert [sql for sql in transactions if sql != "begin"] == ["BEGIN"]

    transactions.clear()
    assert client.patch(f"/v1/members/{member_id}", json={"name": "Ada"}, headers=admin).status_code == 200
    assert [sql for sql in transactions if sql != "begin"] == ["BEGIN IMMEDIATE"]


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
