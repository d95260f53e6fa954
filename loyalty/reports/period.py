"""Report parameters (a period of whole UTC days, a window) and the contract's number formats."""
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from fractions import Fraction

from loyalty.errors import ValidationFailed
from loyalty.reports.sql import DAY_US

WINDOW_DAYS = range(1, 366)
RATE_PLACES = 4
DAYS_PLACES = 2


@dataclass(frozen=True)
class Period:
    """[start, end): `from` and `to` dates taken as UTC midnight."""

    start: datetime
    end: datetime

    @classmethod
    def of_dates(cls, from_date: date, to_date: date) -> "Period":
        if from_date >= to_date:
            raise ValidationFailed("`from` must be before `to`.", fields={"to": ["Must be after from."]})
        return cls(_midnight(from_date), _midnight(to_date))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def check_window_days(window_days: int) -> int:
    if window_days not in WINDOW_DAYS:
        raise ValidationFailed("window_days must be from 1 to 365.",
                               fields={"window_days": ["Must be from 1 to 365."]})
    return window_days


def rounded(value: Fraction, places: int) -> Decimal:
    """An exact fraction rounded half away from zero to `places` decimals, every place shown ("0.5000").

    Away from zero, so that a negative figure (an NPS of -12.25) rounds as its positive twin does.
    """
    scaled = abs(value) * 10**places
    whole, remainder = divmod(scaled.numerator, scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        whole += 1
    if value < 0:
        whole = -whole
    return (Decimal(whole) / 10**places).quantize(Decimal(1).scaleb(-places))


def rate(part: int, whole: int) -> Decimal | None:
    """part ÷ whole to 4 places; None when there is nothing to divide by."""
    return rounded(Fraction(part, whole), RATE_PLACES) if whole else None


def median(values: list[int]) -> Fraction | None:
    """The middle value; of an even count, the mean of the two middle ones (Rules); None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return Fraction(ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2], 2)


def median_days(gaps_us: list[int]) -> Decimal | None:
    """The median of gaps (microseconds) in days, to 2 places; None for no gaps."""
    middle = median(gaps_us)
    return None if middle is None else days(middle)


def days(duration_us: Fraction | int) -> Decimal:
    """A duration in microseconds as days, to 2 places."""
    return rounded(Fraction(duration_us) / DAY_US, DAYS_PLACES)
