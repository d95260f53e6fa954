"""`flask --app wsgi loyalty report NAME ...`: the reports of /v1/reports, for a terminal."""
import json
from datetime import timedelta

import click
from flask.cli import AppGroup

from loyalty import clock
from loyalty.api.pagination import encode_cursor
from loyalty.errors import LoyaltyError
from loyalty.reports import at_risk, cohorts, points, repurchase, retention_feedback, satisfaction, service
from loyalty.reports.period import Period
from loyalty.reports.formatting import json_value, to_csv, to_table

# Gathered into `flask loyalty ...` by cli/__init__.py.
commands = AppGroup("reports")


DEFAULT_PERIOD_DAYS = 365


def _repurchase(period, window_days, limit):
    rows = repurchase.report(period, window_days)
    return {"data": rows, "next_cursor": None}, rows, repurchase.COLUMNS


def _cohorts(period, window_days, limit):
    rows = cohorts.report(period)
    return {"data": rows, "next_cursor": None}, rows, cohorts.COLUMNS


def _satisfaction(period, window_days, limit):
    rows = satisfaction.report(period)
    return {"data": rows, "next_cursor": None}, rows, satisfaction.COLUMNS


def _retention_by_feedback(period, window_days, limit):
    rows = retention_feedback.report(period, window_days)
    return {"data": rows, "next_cursor": None}, rows, retention_feedback.COLUMNS


def _service(period, window_days, limit):
    rows = service.report(period, window_days)
    return {"data": rows, "next_cursor": None}, rows, service.COLUMNS


def _points(period, window_days, limit):
    report = points.report(period)
    return report, [report], points.COLUMNS


def _at_risk(period, window_days, limit):
    rows, next_key = at_risk.report(limit)
    return {"data": rows, "next_cursor": next_key and encode_cursor(list(next_key))}, rows, at_risk.COLUMNS


# NAME -> build(period, window_days, limit) -> (JSON body as the API gives it, rows, CSV columns)
REPORTS = {"repurchase-by-tier": _repurchase, "cohorts": _cohorts, "points": _points, "at-risk": _at_risk,
           "satisfaction": _satisfaction, "retention-by-feedback": _retention_by_feedback, "service": _service}


def _days(period: Period) -> str:
    """The period's days, both ends included: `to` is exclusive."""
    last = (period.end - timedelta(days=1)).date()
    return f"{period.start.date()} to {last} (UTC, both included)"


# NAME -> title(period, window_days, limit): what the table above covers, for a person.
TITLES = {
    "repurchase-by-tier": lambda period, window_days, limit: (
        f"Repurchase rate by tier: first purchases {_days(period)}; "
        f"repurchase window {window_days} days"),
    "cohorts": lambda period, window_days, limit: (
        f"Cohorts: first purchases ever {_days(period)}; windows 30, 60 and 90 days"),
    "points": lambda period, window_days, limit: (
        f"Points: ledger entries {_days(period)}; outstanding, pending and liability now"),
    "satisfaction": lambda period, window_days, limit: (
        f"Satisfaction by tier: feedback {_days(period)}"),
    "retention-by-feedback": lambda period, window_days, limit: (
        f"Repurchase after feedback by band: first answers {_days(period)}; window {window_days} days"),
    "service": lambda period, window_days, limit: (
        f"Service by tier: cases opened {_days(period)}; recovery within 48 hours, "
        f"repurchase window {window_days} days"),
    "at-risk": lambda period, window_days, limit: (
        f"Members at risk: the {limit} most valuable, by qualifying points of the last "
        f"{at_risk.RECENT_DAYS} days"),
}


def _period(from_day, to_day) -> Period:
    """--from/--to as dates; by default the last year, today included."""
    to_day = to_day.date() if to_day else clock.now().date() + timedelta(days=1)
    from_day = from_day.date() if from_day else to_day - timedelta(days=DEFAULT_PERIOD_DAYS)
    return Period.of_dates(from_day, to_day)


@commands.command("report")
@click.argument("name", type=click.Choice(list(REPORTS)))
@click.option("--from", "from_day", type=click.DateTime(["%Y-%m-%d"]),
              help="First day (UTC), inclusive. Default: a year before --to.")
@click.option("--to", "to_day", type=click.DateTime(["%Y-%m-%d"]),
              help="Day after the last (UTC), exclusive. Default: tomorrow, so today is included.")
@click.option("--window-days", default=90, show_default=True, type=click.IntRange(1, 365),
              help="repurchase-by-tier, retention-by-feedback, service: days after the first purchase, "
                   "answer or case that count.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="at-risk: how many members.")
@click.option("--format", "output", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json"]))
def report(name, from_day, to_day, window_days, limit, output):
    """Print a report (repurchase-by-tier, cohorts, points, at-risk, satisfaction, retention-by-feedback,
    service) as the API computes it."""
    try:
        period = _period(from_day, to_day)
        body, rows, columns = REPORTS[name](period, window_days, limit)
    except LoyaltyError as error:
        raise click.UsageError(error.message) from None
    if output == "json":
        click.echo(json.dumps(json_value(body), indent=2))
    elif output == "csv":
        click.echo(to_csv(rows, columns, line_end="\n"), nl=False)
    else:
        now = clock.now().strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"{TITLES[name](period, window_days, limit)} (as of {now})")
        click.echo(to_table(rows, columns))
