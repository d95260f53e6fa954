"""Cursor pages (API.md, Conventions): {"data": [...], "next_cursor": ...}, newest first."""
import base64
import functools
import json
from datetime import datetime

import marshmallow as ma
from sqlalchemy import literal, tuple_

from loyalty.errors import ValidationFailed
from loyalty.extensions import db


class PageArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(1, 100))
    cursor = ma.fields.String()


@functools.cache
def page_schema(item_schema, name: str | None = None) -> type[ma.Schema]:
    """A {data, next_cursor} schema wrapping `item_schema`: the one builder of every page and
    report-rows schema (`name` keeps the OpenAPI component name a few of them have always had)."""
    name = name or f"{item_schema.__name__.removesuffix('Schema')}PageSchema"
    return type(name, (ma.Schema,), {
        "data": ma.fields.List(ma.fields.Nested(item_schema), required=True),
        "next_cursor": ma.fields.String(allow_none=True, required=True),
    })


def encode_cursor(values) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


BIGINT = range(-2**63, 2**63)


def _fits(value, python_type) -> bool:
    if python_type is datetime:
        return isinstance(value, str) and _timestamp(value) is not None
    if isinstance(value, bool) or not isinstance(value, python_type):
        return False
    return value in BIGINT if isinstance(value, int) else True


def _timestamp(text: str) -> datetime | None:
    """A timestamp a cursor carries (written by encode_cursor, always with its offset)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def decode_cursor(cursor: str, types: list[type]) -> list:
    """The key values a cursor holds; each must have its column's type (a cursor from another list fails)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if not (isinstance(values, list) and len(values) == len(types)
            and all(_fits(value, python_type) for value, python_type in zip(values, types))):
        raise ValidationFailed("The cursor is not valid.", fields={"cursor": ["Not a valid cursor."]})
    return [_timestamp(value) if python_type is datetime else value for value, python_type in zip(values, types)]


def paginate(query, key_columns, limit: int = 20, cursor: str | None = None, ascending: bool = False,
             key_of=None) -> dict:
    """One page of `query`, keyset-ordered on `key_columns` (unique together)."""
    if cursor:
        values = decode_cursor(cursor, [column.type.python_type for column in key_columns])
        position = tuple_(*key_columns)
        given = tuple_(*(literal(value, column.type) for value, column in zip(values, key_columns)))
        query = query.where(position > given if ascending else position < given)
    order = [column.asc() if ascending else column.desc() for column in key_columns]
    rows = db.session.execute(query.order_by(*order).limit(limit + 1)).scalars().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(key_of(last) if key_of else [getattr(last, c.key) for c in key_columns])
    return {"data": rows, "next_cursor": next_cursor}
