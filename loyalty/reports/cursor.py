"""Opaque page cursors for paged reports: the last row's sort key, base64 JSON."""
import base64
import json

from loyalty.errors import ValidationFailed


def encode(key: tuple | None) -> str | None:
    if key is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode(cursor: str | None, types: tuple[type, ...]) -> tuple | None:
    """The key a cursor holds, each part of the expected type; a 422 for anything else."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        key = None
    if not (isinstance(key, list) and len(key) == len(types)
            and all(isinstance(part, kind) and not isinstance(part, bool) for part, kind in zip(key, types))):
        raise ValidationFailed("The cursor is not valid.", fields={"cursor": ["Not a valid cursor."]})
    return tuple(key)
