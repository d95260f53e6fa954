"""The statements nearly every request runs, executed on the driver's cursor.

Authentication, the balance read and an earn's own statements run on nearly every request. For a
one-row statement, SQLAlchemy's execution layer (execution context, result metadata, events)
costs about twice the driver's own work: the API-key look-up takes 377k CPU instructions through
`Connection.execute` and 121k on the cursor (callgrind, PostgreSQL; bench/README.md).

A DirectQuery is a Core statement (a SELECT, or DML with RETURNING) compiled once per dialect and
run on the cursor of the session's connection: same transaction (savepoints included), same pool,
the columns' own bind and result processing (UTC datetimes, exact decimals), and driver errors
handed to SQLAlchemy's own handling (wrapping, disconnect detection, pool invalidation). Callers
see what `db.session.execute(statement).first()` would give; tests/test_direct_sql.py holds them
to that. What it skips: the session's autoflush, and column defaults computed in Python at
execution (refused when compiling), so every value must be given. When something watches the
engine's statements (`before_cursor_execute`/`after_cursor_execute` listeners, echo), the
statement runs through SQLAlchemy instead, so that logging, query recording and statement counts
see it.
"""
import functools
from collections import namedtuple

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value

from loyalty.extensions import db, insert_unless_exists_statement


class DirectQuery:
    """A prebuilt statement whose first row is read on the driver's cursor (see the module)."""

    def __init__(self, statement, name: str = "Row"):
        self.statement = statement
        self.row_class = namedtuple(name, statement.exported_columns.keys())
        self._compiled: dict[str, tuple] = {}

    def first(self, **params):
        """The first row (a `row_class`, fields named as the statement's columns), or None."""
        connection = db.session.connection()
        if _watched(connection.engine):  # listeners and echo expect SQLAlchemy's own execution
            row = connection.execute(self.statement, params).first()
            return None if row is None else self.row_class._make(row)
        sql, arguments, process_row = self._compiled.get(connection.dialect.name) or self._compile(connection)
        values = arguments(params)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        except connection.dialect.loaded_dbapi.Error as error:
            # Raises SQLAlchemy's exception, and invalidates the connection if it was lost.
            connection._handle_dbapi_exception(error, sql, values, cursor, None)
        finally:
            cursor.close()
        return None if row is None else process_row(row)

    def _compile(self, connection: Connection) -> tuple:
        dialect = connection.dialect
        compiled = self.statement.compile(dialect=dialect)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Column defaults computed in Python at execution time: only SQLAlchemy runs them.
            raise ValueError(f"a DirectQuery needs every value given: {compiled.string}")
        binds = {name: _processor(bind.type, dialect, "bind") for name, bind in compiled.binds.items()}
        names = compiled.positiontup if compiled.positional else None

        def arguments(params: dict):
            values = compiled.construct_params(params)
            for name, process in binds.items():
                if process is not None:
                    values[name] = process(values[name])
            return [values[name] for name in names] if names is not None else values

        results = [_processor(column.type, dialect, "result") for column in self.statement.exported_columns]
        make = self.row_class._make

        def process_row(row):
            return make([value if process is None else process(value) for process, value in zip(results, row)])

        self._compiled[dialect.name] = (compiled.string, arguments, process_row)
        return self._compiled[dialect.name]


def _watched(engine) -> bool:
    dispatch = engine.dispatch
    return bool(engine.echo or dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _processor(type_, dialect: Dialect, kind: str):
    implementation = type_.dialect_impl(dialect)
    if kind == "bind":
        return implementation.bind_processor(dialect)
    return implementation.result_processor(dialect, None)


def add_unless_exists(model, values: dict, unique_columns: list[str]):
    """INSERT ... ON CONFLICT DO NOTHING of a `model` row, every column given in `values`.

    Returns the new object, in the session as loaded (no flush, no read back), or None when a row
    with the same unique key was there. Safe against a concurrent insert of the same key.
    """
    dialect = db.session.get_bind().dialect.name
    if _insert_unless_exists(dialect, model.__table__, tuple(unique_columns)).first(**values) is None:
        return None
    return as_loaded(model, values)


def as_loaded(model, values: dict):
    """A `model` object holding `values` (its row's columns) as if this session had loaded it.

    What building it with the constructor, make_transient_to_detached() and Session.add() give,
    without the constructor's change event for every attribute (two dozen on each earn): the
    values go into the instance's dict the way the ORM's own loading puts them there.
    """
    instance = model.__mapper__.class_manager.new_instance()
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


@functools.cache
def _insert_unless_exists(dialect: str, table, unique_columns: tuple[str, ...]) -> DirectQuery:
    return DirectQuery(insert_unless_exists_statement(dialect, table, unique_columns))


def write_columns(instance, **values) -> None:
    """UPDATE the instance's row with `values` now and set them on it as loaded: what changing
    the attributes and flushing would do, without the unit of work. `values` are named by column
    key, and a column with an onupdate must be among them (DirectQuery cannot run it)."""
    table = instance.__table__
    [key_column] = table.primary_key.columns
    written = _update(table, tuple(values)).first(**values, row_key=getattr(instance, key_column.key))
    if written is None:
        raise LookupError(f"no {table.name} row {getattr(instance, key_column.key)}")
    for name, value in values.items():
        set_committed_value(instance, name, value)


@functools.cache
def _update(table, columns: tuple[str, ...]) -> DirectQuery:
    [key_column] = table.primary_key.columns
    return DirectQuery(update(table).where(key_column == bindparam("row_key"))
                       .values({name: bindparam(name) for name in columns}).returning(key_column))
