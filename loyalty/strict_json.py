"""JSON as the API accepts it: UTF-8, sensibly nested, numbers that fit, real Unicode text.

Python's json parses what RFC 8259 allows and more, and some of what it parses fails later, far
from the request: 1,000 nested brackets raise RecursionError, a 5,000-digit integer raises a
ValueError from int(), `"\\ud800"` gives a string the database driver cannot encode, `NaN` is
not JSON at all. Every JSON body (the API's, through Flask and webargs, and Stripe's webhooks) is
read here, so each of these is one clear MalformedJson (a ValueError) in one place.
"""
import json

MAX_DEPTH = 32          # arrays and objects inside each other; the API's deepest body needs 3
MAX_NUMBER_LENGTH = 40  # characters of one number; amounts go up to 16 digits


class MalformedJson(ValueError):
    """The body is not JSON the API accepts; the message says why, for a person."""


def loads(data: bytes | str):
    """Parse a JSON document, refusing what the module docstring lists."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedJson("The body is not valid UTF-8.") from None
    try:
        value = json.loads(data, parse_int=_integer, parse_float=_number, parse_constant=_constant)
    except RecursionError:
        raise MalformedJson(f"The body is nested more than {MAX_DEPTH} levels deep.") from None
    except MalformedJson:
        raise
    except ValueError as error:  # json.JSONDecodeError and int()'s own limits
        raise MalformedJson(f"The body is not valid JSON: {error}") from None
    # Walking the parsed value costs only when the text could hold a problem at all.
    if data.count("[") + data.count("{") > MAX_DEPTH or "\\u" in data or "\\U" in data:
        _check_nesting_and_text(value)
    return value


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise MalformedJson(f"A number in the body has more than {MAX_NUMBER_LENGTH} digits.")
    return int(text)


def _number(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise MalformedJson(f"A number in the body has more than {MAX_NUMBER_LENGTH} digits.")
    result = float(text)
    if result in (float("inf"), float("-inf")):
        raise MalformedJson("A number in the body is too large.")
    return result


def _constant(text: str):
    raise MalformedJson(f"{text} is not JSON.")


def _check_nesting_and_text(value) -> None:
    """Depth at most MAX_DEPTH, and every string (keys too) encodable as UTF-8 (no lone surrogate)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, (list, dict)):
            continue
        if depth > MAX_DEPTH:
            raise MalformedJson(f"The body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(item, dict):
            for key in item:
                _check_text(key)
            item = item.values()
        pending.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedJson("A string in the body is not valid Unicode (a lone surrogate such as \\ud800).") from None
