"""Extension singletons, created unbound and attached in create_app."""
import functools

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()  # the console's forms (loyalty/web); the API's bearer requests need none
limiter = Limiter(key_func=get_remote_address)

# Signing in, by the API's POST /v1/staff/sessions or the console's form: one budget per client
# address (LOGIN_RATE_LIMIT), on top of the per-email lockout that staff.log_in counts.
login_attempts = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="staff-login",
                                      methods=["POST"])
# The endpoints login_attempts limits (tests/test_staff.py and tests/web/test_console.py see their 429s).
# A limit put on any other endpoint must be named here too, or _nothing_limits skips it.
SIGN_INS = frozenset({"staff.StaffSessions", "console.login"})
# Flask-Limiter's settings that limit every endpoint (README: RATELIMIT_DEFAULT).
LIMITS_FOR_ALL = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")


@limiter.request_filter
def _nothing_limits() -> bool:
    """True for a request no limit applies to, which then skips the limiter: unless limits for
    every endpoint are set, only the sign-ins carry one. (Flask-Limiter would find no limit
    either, but only after work that costs an API request about 3% of its time: bench/README.md.)"""
    config = current_app.config
    return request.endpoint not in SIGN_INS and not any(config.get(key) for key in LIMITS_FOR_ALL)


def engine_options(database_uri, prepared_statements: bool = True):
    """Pool settings per database: SQLite waits for its single writer, PostgreSQL fails fast.

    Without `prepared_statements` psycopg prepares nothing on the server: behind PgBouncer in
    transaction pooling mode (before 1.21) a statement prepared on one server connection is
    unknown to the next transaction's (README, Running on several servers).
    """
    if database_uri.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    # No pre-ping: it costs a round trip per request. A connection lost to a database restart
    # fails its request with a JSON 503, and SQLAlchemy then replaces the whole pool.
    connect_args = {"connect_timeout": 3}
    if not prepared_statements:
        connect_args["prepare_threshold"] = None
    return {
        "pool_size": 5,
        "max_overflow": 5,
        "pool_timeout": 5,
        "connect_args": connect_args,
    }


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    """Take SQLite transactions out of pysqlite's hands (see _begin_sqlite)."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# SQLite transactions: who takes the write lock, and when.
#
# SQLite ignores SELECT ... FOR UPDATE, and a deferred transaction that reads and then writes fails
# at once (SQLITE_BUSY) when another writer committed in between. So a transaction starts with
# BEGIN IMMEDIATE: it takes the database's single write lock up front, waits for it (busy_timeout),
# and then check-then-write is safe. A GET or HEAD runs in autocommit instead (no transaction:
# loyalty/__init__.py, reads_without_transaction): each statement reads the latest commit in WAL
# mode beside the writer and never waits for it. PostgreSQL takes its row locks per statement and
# needs none of this.
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection):
    if connection.dialect.name == "sqlite" and connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def insert_unless_exists(model, values: dict, unique_columns: list[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on PostgreSQL and SQLite; True if the row went in.

    Cheaper than a look-up plus a savepoint, and safe against a concurrent insert of the same key.
    """
    dialect = db.session.get_bind().dialect.name
    statement = insert_unless_exists_statement(dialect, model.__table__, tuple(unique_columns))
    return db.session.execute(statement, values).first() is not None


@functools.cache
def insert_unless_exists_statement(dialect: str, table, unique_columns: tuple[str, ...]):
    # Built once with the values left as parameters: building per call costs more than running it.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(table).on_conflict_do_nothing(index_elements=unique_columns)
            .returning(table.c[unique_columns[0]]))


def add_unless_exists(model, values: dict, unique_columns: list[str]):
    """insert_unless_exists, then the new row as the session's persistent `model` object (None
    when a row with the same unique key was there). `values` must hold every column: the object
    is what the row is, without reading it back (make_transient_to_detached, then add: SQLAlchemy's
    way to make an object that mirrors a row persistent). Later changes to it flush as usual."""
    if not insert_unless_exists(model, values, unique_columns):
        return None
    return adopt(model, values)


def adopt(model, values: dict):
    """The row just inserted with `values` (every column) as the session's persistent `model`
    object, without reading it back."""
    instance = model(**values)
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


def serialize_on(name: str) -> None:
    """Hold a lock named `name` until the transaction ends, so work on one name runs one at a time.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: every writing transaction already
    holds the database's single write lock (BEGIN IMMEDIATE).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
