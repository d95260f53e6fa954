"""Appending many rows at once (imports): COPY on PostgreSQL, one executemany elsewhere.

COPY is PostgreSQL's fastest way in; it runs on the session's own connection, so the rows are
part of the session's transaction like any other statement (and go with a rollback).
"""
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
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])


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
