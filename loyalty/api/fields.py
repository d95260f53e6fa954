"""Marshmallow fields for the contract's formats: offset timestamps, decimal strings, currencies."""
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import marshmallow as ma

from loyalty.currency import is_code
from loyalty.reports.period import WINDOW_DAYS


EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


class Timestamp(ma.fields.DateTime):
    """RFC 3339 with an offset on input (a naive timestamp is a 422); UTC `Z` on output."""

    default_error_messages = {"naive": "Timestamp must include a UTC offset, e.g. 2026-03-01T10:00:00Z.",
                              "range": "Timestamp must be between 1970 and 2200."}

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            raise self.make_error("naive")
        try:
            result = result.astimezone(timezone.utc)
        except (OverflowError, ValueError):  # e.g. year 9999 with a negative offset
            raise self.make_error("range") from None
        if not EARLIEST <= result < LATEST:  # room for date arithmetic on either side
            raise self.make_error("range")
        return result

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def decimal_string(value: Decimal) -> str:
    """Decimal to a plain string without exponent or trailing zeros: 1.50 -> "1.5", 100 -> "100"."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class DecimalString(ma.fields.Field):
    """A decimal carried as a JSON string ("1.5"), never a float."""

    default_error_messages = {"invalid": "Must be a decimal number written as a string, e.g. \"1.5\"."}

    def __init__(self, places: int = 6, **kwargs):
        self.places = places
        kwargs.setdefault("metadata", {}).setdefault("type", "string")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else decimal_string(Decimal(value))

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not result.is_finite() or -result.as_tuple().exponent > self.places:
            raise self.make_error("invalid")
        return result


class Currency(ma.fields.String):
    """ISO 4217 code, any case in, lowercase out."""

    default_error_messages = {"currency": "Must be a currency code that ISO 4217 lists, e.g. usd or jpy."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_code(text):
            raise self.make_error("currency")
        return text.lower()


def StrictInteger(**kwargs):
    """An integer that refuses 1.0, "1" and true."""
    return ma.fields.Integer(strict=True, **kwargs)


MINOR_UNITS = ("Amounts are integers in the currency's minor unit: 2599 for 25.99 usd, "
               "2599 for 2,599 jpy (no decimals), 25990 for 25.990 kwd.")


def Amount(**kwargs):
    """Money: a whole number of the currency's minor unit (cents for usd, yen for jpy), never 25.99."""
    kwargs.setdefault("metadata", {}).setdefault("description", "In the currency's minor unit (cents for usd)")
    return StrictInteger(error_messages={"invalid": MINOR_UNITS}, **kwargs)


class StrictBoolean(ma.fields.Boolean):
    """true or false only: not 1, "yes" or "true"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def WindowDays(default: int, **kwargs):
    """A report's `window_days`: 1 to 365 on every report (the reports check it again)."""
    return ma.fields.Integer(load_default=default, validate=ma.validate.Range(WINDOW_DAYS[0], WINDOW_DAYS[-1]),
                             metadata={"description": f"Days after each starting event that count, "
                                                      f"{WINDOW_DAYS[0]} to {WINDOW_DAYS[-1]}"}, **kwargs)
