"""/console/dashboard (managers): the program's reports for a period, each drawn as a chart with
its numbers in a table beside it and a CSV download of the same rows."""
from flask import Response, render_template, request

from loyalty.errors import ValidationFailed
from loyalty.reports import cohorts, dashboard as reports, points, repurchase, satisfaction, service
from loyalty.reports.formatting import json_value, to_csv
from loyalty.reports.period import Period
from loyalty.web.access import signed_in
from loyalty.web.console import bp
from loyalty.web.forms import PeriodForm

POINTS_COLUMNS = ["month", *points.COLUMNS]


def _period(form: PeriodForm) -> tuple[Period | None, str | None]:
    """The period asked for (the last 12 months when none is), or an error in words."""
    if not request.args.get("from") and not request.args.get("to"):
        form.from_.data, form.to.data = reports.default_dates()
    elif not form.validate():
        return None, "Give both dates as YYYY-MM-DD."
    try:
        period = Period.of_dates(form.from_.data, form.to.data)
        reports.month_periods(period)
    except ValidationFailed as error:
        return None, error.message
    return period, None


@bp.route("/dashboard")
@signed_in("manager")
def dashboard():
    form = PeriodForm(request.args)
    period, message = _period(form)
    if period is None:
        return render_template("dashboard.html", form=form, message=message, board=None), 422
    board = reports.dashboard(period)
    return render_template("dashboard.html", form=form, board=board, message=None,
                           repurchase_rows=json_value(board.repurchase), cohort_rows=json_value(board.cohorts),
                           points_rows=_points_rows(board.points),
                           satisfaction_rows=json_value(board.satisfaction), service_rows=json_value(board.service),
                           dates={"from": form.from_.data.isoformat(), "to": form.to.data.isoformat()})


def _points_rows(months) -> list[dict]:
    return [{"month": month.month, **json_value(month.report)} for month in months]


CSV_REPORTS = {
    "repurchase-by-tier": (lambda period: repurchase.report(period, reports.WINDOW_DAYS), repurchase.COLUMNS),
    "cohorts": (cohorts.report, cohorts.COLUMNS),
    "points-by-month": (lambda period: _points_rows(reports.points_by_month(period)), POINTS_COLUMNS),
    "satisfaction": (satisfaction.report, satisfaction.COLUMNS),
    "service": (lambda period: service.report(period, reports.WINDOW_DAYS), service.COLUMNS),
}


@bp.route("/dashboard/<any(" + ", ".join(f'"{name}"' for name in CSV_REPORTS) + "):name>.csv")
@signed_in("manager")
def dashboard_csv(name):
    """The rows of one chart as CSV: the same as the report's `?format=csv` in the API."""
    form = PeriodForm(request.args)
    period, message = _period(form)
    if period is None:
        raise ValidationFailed(message)
    rows_of, columns = CSV_REPORTS[name]
    return Response(to_csv(rows_of(period), columns), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
