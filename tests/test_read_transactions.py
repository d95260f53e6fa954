"""Read-only requests run in autocommit on PostgreSQL; every other request is one transaction.

These need the app's own sessions: the other tests' sessions are bound to one connection held in
an outer transaction, which keeps every request in that transaction.
"""
import psycopg
import pytest
from sqlalchemy import event, make_url

from loyalty import auth, create_app
from loyalty.extensions import AUTOCOMMIT, RoutedSession, db
from tests.helpers import ON_POSTGRES, TEST_DATABASE_URL
from tests.live import fresh_database


@pytest.fixture
def own_sessions():
    """(app, admin headers, checkouts): an app on a new database with its own sessions, and a
    list of (bind key, DBAPI autocommit) for every connection its pools hand out."""
    with fresh_database(TEST_DATABASE_URL) as url:
        app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False, "SQLALCHEMY_DATABASE_URI": url})
        bound = db.session
        db.session = db._make_scoped_session({"class_": RoutedSession})
        try:
            with app.app_context():
                db.create_all()
                _, plain = auth.create_api_key("test admin", "admin")
                db.session.commit()
                db.session.remove()
                checkouts = []
                engines = {None: db.engine, AUTOCOMMIT: app.extensions.get(AUTOCOMMIT)}
                for key, engine in engines.items():
                    if engine is None:
                        continue
                    event.listen(engine, "checkout", lambda dbapi_connection, record, proxy, key=key:
                                 checkouts.append((key, getattr(dbapi_connection, "autocommit", None))))
            yield app, {"Authorization": f"Bearer {plain}"}, checkouts
        finally:
            db.session = bound
            with app.app_context():
                db.engine.dispose()
            if AUTOCOMMIT in app.extensions:
                app.extensions[AUTOCOMMIT].dispose()


@pytest.mark.skipif(not ON_POSTGRES, reason="autocommit reads are PostgreSQL's")
def test_a_read_runs_on_an_autocommit_connection_and_a_write_in_a_transaction(own_sessions):
    app, admin, checkouts = own_sessions
    client = app.test_client()
    client.get("/v1/program", headers=admin)  # the key's first use is recorded, in a transaction of its own
    checkouts.clear()

    created = client.post("/v1/members", json={"external_id": "c-1"}, headers=admin)
    assert created.status_code == 201, created.get_json()
    assert checkouts == [(None, False)]

    checkouts.clear()
    read = client.get(f"/v1/members/{created.get_json()['id']}", headers=admin)
    assert read.status_code == 200, read.get_json()
    assert read.get_json()["external_id"] == "c-1"
    assert checkouts == [(AUTOCOMMIT, True)]  # the credential and the member, on one connection

    checkouts.clear()
    changed = client.patch(f"/v1/members/{created.get_json()['id']}", json={"name": "Ada"}, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    assert checkouts == [(None, False)]  # the write pool never hands out an autocommit connection


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite has no autocommit engine")
def test_sqlite_reads_and_writes_share_one_engine(own_sessions):
    app, admin, checkouts = own_sessions
    assert AUTOCOMMIT not in app.extensions
    client = app.test_client()
    client.get("/v1/program", headers=admin)  # the key's first use is recorded, in a transaction of its own
    checkouts.clear()
    response = client.get("/v1/members/mem_missing", headers=admin)
    assert response.status_code == 404
    assert [key for key, _ in checkouts] == [None]


def _cut_connections(database_url: str) -> None:
    """End every server process of that database, as a database restart would."""
    name = make_url(database_url).database
    with psycopg.connect(make_url(database_url).set(database="postgres", drivername="postgresql")
                         .render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])


@pytest.mark.skipif(not ON_POSTGRES, reason="autocommit reads are PostgreSQL's")
def test_a_pool_that_finds_its_connection_lost_replaces_the_other_pool_too(own_sessions):
    """After a database restart each pool fails one request before it starts afresh (no pre-ping):
    the first failure, on either pool, must be the only one, not one per pool."""
    app, admin, _ = own_sessions
    client = app.test_client()
    member = client.post("/v1/members", json={"external_id": "c-1"}, headers=admin).get_json()
    read = lambda: client.get(f"/v1/members/{member['id']}", headers=admin).status_code  # noqa: E731
    write = lambda: client.patch(f"/v1/members/{member['id']}", json={"name": "Ada"},  # noqa: E731
                                 headers=admin).status_code
    url = app.config["SQLALCHEMY_DATABASE_URI"]

    assert read() == 200  # both pools now hold a connection
    _cut_connections(url)
    assert (write(), read(), write()) == (503, 200, 200)

    _cut_connections(url)
    assert (read(), write(), read()) == (503, 200, 200)
