"""Extension singletons, created unbound and attached in create_app."""
import functools
from contextvars import ContextVar

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSqlalchemySession
from sqlalchemy import MetaData, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Where the app keeps its PostgreSQL engine for read-only requests (app.extensions; read_without_transaction).
AUTOCOMMIT = "autocommit"


class RoutedSession(FlaskSqlalchemySession):
    """Flask-SQLAlchemy's session, which a read-only request points at the autocommit engine."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        engine = self.info.get(AUTOCOMMIT)
        if engine is not None and bind is None:
            return engine
        return super().get_bind(mapper, clause, bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutedSession})
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address)

# Signing in, by the API's POST /v1/staff/sessions or the console's form: one budget per client
# address (LOGIN_RATE_LIMIT), on top of the per-email lockout that staff.log_in counts.
login_attempts = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="staff-login",
                                      methods=["POST"])


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
    """Take SQLite transactions out of pysqlite's hands (see _begin_immediate)."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Set for requests that only read (GET): on SQLite they may run beside the writer.
reading_only: ContextVar[bool] = ContextVar("reading_only", default=False)


@event.listens_for(Engine, "begin")
def _begin_immediate(connection):
    # SQLite ignores SELECT ... FOR UPDATE, and a deferred transaction that reads and then
    # writes fails at once when another writer got in between. BEGIN IMMEDIATE takes the
    # write lock up front, so every writing transaction runs alone and check-then-write is
    # safe; reads (WAL mode) need no lock and take a plain BEGIN.
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN" if reading_only.get() else "BEGIN IMMEDIATE")


def autocommit_engine(database_uri: str, options: dict) -> Engine | None:
    """The engine of read-only requests: PostgreSQL only, with the main engine's options.

    A pool of its own, so its connections are put in autocommit once, when they are opened:
    switching a pooled connection per request cost about 6% of a balance read's CPU (bench/README.md).
    """
    if make_url(database_uri).get_backend_name() != "postgresql":
        return None
    return create_engine(database_uri, isolation_level="AUTOCOMMIT", **options)


def recover_together(*engines: Engine) -> None:
    """When one engine finds its connections lost (a database restart), replace the others' pools too.

    SQLAlchemy replaces the pool that saw the error. Without this, the other pool of the same
    worker would fail one more request on a connection the outage broke.
    """
    for engine in engines:
        others = [other for other in engines if other is not engine]

        @event.listens_for(engine, "handle_error")
        def _replace_other_pools(context, others=others):
            if context.is_disconnect:
                for other in others:
                    other.dispose()


def read_without_transaction() -> None:
    """Let a read-only request run its statements without BEGIN and ROLLBACK (PostgreSQL).

    Under READ COMMITTED every statement takes its own snapshot anyway, so a transaction gives a
    read nothing but two round trips, which cost PostgreSQL more than the statement itself. A
    session other than RoutedSession (the tests', joined to an outer transaction) keeps its bind.
    """
    engine = current_app.extensions.get(AUTOCOMMIT)
    if engine is not None:
        db.session().info[AUTOCOMMIT] = engine


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


def serialize_on(name: str) -> None:
    """Hold a lock named `name` until the transaction ends, so work on one name runs one at a time.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: every writing transaction already
    holds the database's single write lock (BEGIN IMMEDIATE).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def per_transaction(session: Session) -> dict:
    """A dict that lives as long as the session's current transaction."""
    return session.info.setdefault("per_transaction", {})


def once_per_transaction(key: str, load):
    """load() once per database transaction: settings read several times in one request."""
    cache = per_transaction(db.session())
    if key not in cache:
        cache[key] = load()
    return cache[key]


def forget(*keys: str) -> None:
    for key in keys:
        per_transaction(db.session()).pop(key, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_per_transaction(session, transaction):
    if transaction.parent is None:
        session.info.pop("per_transaction", None)
