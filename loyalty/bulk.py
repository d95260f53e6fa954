"""Appending many rows at once (imports): COPY on PostgreSQL, one executemany elsewhere.

COPY is PostgreSQL's fastest way in; it runs on the session's own connection, so the rows are
part of the session's transaction like any other statement (and go with a rollback).
"""
import operator

from sqlalchemy import ARRAY, Table, any_, bindparam, insert

from loyalty.extensions import db


def append_rows(table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys: column names) into `table`; never commits."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    names = ", ".join(table.c[name].name for name in columns)
    types = _column_types(connection, table)
    values = operator.itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    with connection.connection.driver_connection.cursor() as cursor:
        # Binary: PostgreSQL reads each value as it is stored, with no text to parse.
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([types[name] for name in columns])
            for row in rows:
                copy.write_row(values(row))


_types: dict[str, dict[str, int]] = {}


def _column_types(connection, table: Table) -> dict[str, int]:
    """The table's column type oids (a binary COPY names them), read once per process."""
    if table.name not in _types:
        found = connection.exec_driver_sql(
            "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %(table)s::regclass AND attnum > 0",
            {"table": table.name}).all()
        _types[table.name] = dict(found)
    return _types[table.name]


def refresh_statistics(tables: list[Table]) -> None:
    """ANALYZE tables that a bulk load has grown (PostgreSQL): without it the planner may keep
    believing they are small and scan them whole for a look-up (autovacuum may be off, or lag
    far behind a load). Runs in the session's transaction; the caller commits."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("ANALYZE " + ", ".join(table.name for table in tables))


def one_of(column, values):
    """`column IN values` for a batch's thousands of values: on PostgreSQL `= ANY` of one array
    parameter (one value to bind and send, one statement text whatever the count); elsewhere IN."""
    values = list(values)
    if db.session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
