"""The manager's dashboard (loyalty.web): the reports of a period, and points month by month.

Each figure is the same report function the API's /v1/reports endpoints call, so a table on the
dashboard and the endpoint's JSON for the same dates say the same thing.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from loyalty import clock
from loyalty.errors import ValidationFailed
from loyalty.reports import cohorts, points, repurchase, satisfaction, service
from loyalty.reports.period import Period

DEFAULT_MONTHS = 12
MOST_MONTHS = 36  # points are read one month at a time
WINDOW_DAYS = 90  # the reports' default window


@dataclass(frozen=True)
class MonthOfPoints:
    month: str  # YYYY-MM
    period: Period
    report: dict  # as points.report gives it


def default_dates(today: date | None = None) -> tuple[date, date]:
    """The last 12 months: from the same day a year ago up to and including today."""
    today = today or clock.now().date()
    end = today + timedelta(days=1)
    return _months_before(end, DEFAULT_MONTHS), end


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, 28))


def month_periods(period: Period) -> list[tuple[str, Period]]:
    """The calendar months the period touches, each cut to the period: [(YYYY-MM, Period)]."""
    months, start = [], period.start
    while start < period.end:
        year, month = divmod(start.year * 12 + start.month, 12)
        next_month = datetime(year, month + 1, 1, tzinfo=timezone.utc)
        end = min(next_month, period.end)
        months.append((start.strftime("%Y-%m"), Period(start, end)))
        start = end
    if len(months) > MOST_MONTHS:
        raise ValidationFailed(f"Choose a period of at most {MOST_MONTHS} months.",
                               fields={"from": [f"At most {MOST_MONTHS} months before to."]})
    return months


def points_by_month(period: Period) -> list[MonthOfPoints]:
    return [MonthOfPoints(month, part, points.report(part)) for month, part in month_periods(period)]


@dataclass(frozen=True)
class Dashboard:
    period: Period
    repurchase: list[dict]
    cohorts: list[dict]
    points: list[MonthOfPoints]
    satisfaction: list[dict]
    service: list[dict]


def dashboard(period: Period) -> Dashboard:
    """Every report the dashboard draws, for one period."""
    return Dashboard(period=period, repurchase=repurchase.report(period, WINDOW_DAYS),
                     cohorts=cohorts.report(period), points=points_by_month(period),
                     satisfaction=satisfaction.report(period), service=service.report(period, WINDOW_DAYS))
