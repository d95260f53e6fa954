"""Template helpers: numbers, money, dates and reasons as a person reads them."""
from datetime import date, datetime, timezone
from decimal import Decimal

from flask import Flask

from loyalty import clock
from loyalty.currency import exponent
from loyalty.errors import LoyaltyError
from loyalty.rewards import REFUSAL_ERRORS

REASONS = {code: error.message for code, error in REFUSAL_ERRORS.items()}


def points(value) -> str:
    return "—" if value is None else f"{int(value):,}"


def money(amount: int, currency: str) -> str:
    """1250 usd -> "12.50 USD"."""
    places = exponent(currency)
    return f"{Decimal(amount).scaleb(-places):,.{places}f} {currency.upper()}"


def when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def age(since: datetime) -> str:
    """How long ago, roughly: "3 d 4 h", "2 h 5 min", "12 min"."""
    minutes = max(0, int((clock.now() - since).total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def reason(code: str | None) -> str:
    """A refusal code (rewards.REFUSAL_ERRORS) in words."""
    return REASONS.get(code, LoyaltyError.message) if code else ""


def grouped_code(code: str) -> str:
    """A member code in groups of four, easier to read aloud: ABCD EFGH."""
    return " ".join(code[index:index + 4] for index in range(0, len(code), 4))


def percent(value) -> str:
    """A rate as a decimal string ("0.4250") -> "42.5%"; null -> "—"."""
    if value is None:
        return "—"
    return f"{Decimal(value) * 100:.1f}%"


def register(app: Flask) -> None:
    for name, function in {"points": points, "money": money, "when": when, "reason": reason,
                           "grouped_code": grouped_code, "percent": percent, "age": age}.items():
        app.add_template_filter(function, name)
