"""Writing many rows at once (imports): COPY and one UPDATE from arrays on PostgreSQL, one
executemany elsewhere.

COPY is PostgreSQL's fastest way in; it runs on the session's own connection, so the rows are
part of the session's transaction like any other statement (and go with a rollback).
"""
import functools
import operator

from sqlalchemy import ARRAY, Table, any_, bindparam, insert, text, update

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


def update_rows(table: Table, rows: list[dict]) -> None:
    """Set columns of many rows found by their primary key `id` (dicts with the same keys, `id`
    among them); never commits. PostgreSQL: one UPDATE ... FROM unnest(one array per column),
    a statement whatever the count; elsewhere one executemany."""
    if not rows:
        return
    connection = db.session.connection()
    columns = tuple(name for name in rows[0] if name != "id")
    if connection.dialect.name != "postgresql":
        connection.execute(_update_by_id(table, columns), [{**row, "key_id": row["id"]} for row in rows])
        return
    values = {name: [row[name] for row in rows] for name in ("id", *columns)}
    connection.execute(_update_from_arrays(table, columns, connection.dialect), values)


@functools.cache
def _update_by_id(table: Table, columns: tuple[str, ...]):
    return update(table).where(table.c.id == bindparam("key_id")).values({name: bindparam(name) for name in columns})


@functools.cache
def _update_from_arrays(table: Table, columns: tuple[str, ...], dialect):
    names = ("id", *columns)
    arrays = ", ".join(f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in names)
    sets = ", ".join(f"{name} = v.{name}" for name in columns)
    return text(f"UPDATE {table.name} SET {sets} FROM unnest({arrays}) AS v({', '.join(names)}) "
                f"WHERE {table.name}.id = v.id").bindparams(
        *[bindparam(name, type_=ARRAY(table.c[name].type)) for name in names])


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
