"""One-row reads that run on every request, executed on the driver's cursor.

Authentication and the balance read run on nearly every request. For a one-row SELECT,
SQLAlchemy's execution layer (execution context, result metadata, events) costs about twice the
driver's own work: the API-key look-up takes 377k CPU instructions through `Connection.execute`
and 121k on the cursor (callgrind, PostgreSQL; bench/README.md). A DirectQuery is a Core SELECT
compiled once per dialect and run on the cursor of the session's connection: same transaction,
same pool, the columns' own bind and result processing (UTC datetimes, exact decimals), and
driver errors handed to SQLAlchemy's own handling (wrapping, disconnect detection, pool
invalidation), so callers see exactly what `db.session.execute(statement).first()` would give.
tests/test_direct_sql.py holds every DirectQuery to that.
"""
from collections import namedtuple

from sqlalchemy.engine import Connection, Dialect

from loyalty.extensions import db


class DirectQuery:
    def __init__(self, statement, row_class=None):
        self.statement = statement
        self.row_class = row_class or namedtuple("Row", statement.selected_columns.keys())
        self._compiled: dict[str, tuple] = {}

    def first(self, **params):
        """The first row (a `row_class`, fields named as the statement's columns), or None."""
        connection = db.session.connection()
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
        binds = {name: _processor(bind.type, dialect, "bind") for name, bind in compiled.binds.items()}
        names = compiled.positiontup if compiled.positional else None

        def arguments(params: dict):
            values = compiled.construct_params(params)
            for name, process in binds.items():
                if process is not None:
                    values[name] = process(values[name])
            return [values[name] for name in names] if names is not None else values

        results = [_processor(column.type, dialect, "result") for column in self.statement.selected_columns]
        make = self.row_class._make

        def process_row(row):
            return make([value if process is None else process(value) for process, value in zip(results, row)])

        self._compiled[dialect.name] = (compiled.string, arguments, process_row)
        return self._compiled[dialect.name]


def _processor(type_, dialect: Dialect, kind: str):
    implementation = type_.dialect_impl(dialect)
    if kind == "bind":
        return implementation.bind_processor(dialect)
    return implementation.result_processor(dialect, None)
