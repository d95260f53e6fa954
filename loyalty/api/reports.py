"""/v1/reports: retention and points reports (admin), as JSON or `?format=csv`."""
import marshmallow as ma
from flask import Response
from flask.views import MethodView

from loyalty import errors
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import WindowDays
from loyalty.api.pagination import decode_cursor, encode_cursor, page_schema
from loyalty.api.security import requires
from loyalty.reports import at_risk, cohorts, points, repurchase, retention_feedback, satisfaction, service
from loyalty.reports.period import Period
from loyalty.reports.formatting import json_value, to_csv

blp = Blueprint("reports", __name__, url_prefix="/v1/reports", description="Reports (admin)")

FORMATS = ("json", "csv")
DECIMAL = {"type": "string", "example": "0.4250"}


class FormatArgsSchema(ma.Schema):
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(FORMATS),
                              metadata={"description": "`csv`: the same rows as CSV, nested fields as parent_child"})


class PeriodArgsSchema(FormatArgsSchema):
    from_ = ma.fields.Date(data_key="from", required=True, metadata={"description": "UTC midnight, inclusive"})
    to = ma.fields.Date(required=True, metadata={"description": "UTC midnight, exclusive; after `from`"})


class RepurchaseArgsSchema(PeriodArgsSchema):
    window_days = WindowDays(90)


class AtRiskArgsSchema(FormatArgsSchema):
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(1, 100))
    cursor = ma.fields.String()


class RepurchaseRowSchema(ma.Schema):
    tier = ma.fields.String(required=True, metadata={"description": "A tier key, `none` or `all`"})
    buyers = ma.fields.Integer(required=True, metadata={"description": "Mature members"})
    repurchasers = ma.fields.Integer(required=True)
    repurchase_rate = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    median_days_to_repurchase = ma.fields.String(allow_none=True, required=True, metadata={"example": "23.50"})
    immature = ma.fields.Integer(required=True)


class CohortRowSchema(ma.Schema):
    month = ma.fields.String(required=True, metadata={"example": "2026-03"})
    buyers = ma.fields.Integer(required=True)
    rate_30d = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    rate_60d = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    rate_90d = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    early_churn_rate = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)


class SatisfactionRowSchema(ma.Schema):
    tier = ma.fields.String(required=True, metadata={"description": "A tier key, `none` or `all`"})
    csat_responses = ma.fields.Integer(required=True)
    csat_average = ma.fields.String(allow_none=True, required=True, metadata={"example": "4.25"})
    csat_happy_rate = ma.fields.String(allow_none=True, required=True, metadata={
        **DECIMAL, "description": "Share of CSAT answers of 4 or 5"})
    nps_responses = ma.fields.Integer(required=True)
    promoters = ma.fields.Integer(required=True)
    passives = ma.fields.Integer(required=True)
    detractors = ma.fields.Integer(required=True)
    nps = ma.fields.String(allow_none=True, required=True, metadata={
        "example": "-12.5", "description": "100 × (promoters − detractors) ÷ nps_responses"})


class RetentionByFeedbackRowSchema(ma.Schema):
    kind = ma.fields.String(required=True, metadata={"description": "`csat` or `nps`"})
    band = ma.fields.String(required=True, metadata={"description": "The band of each member's first answer"})
    members = ma.fields.Integer(required=True, metadata={"description": "Mature members"})
    repurchasers = ma.fields.Integer(required=True)
    repurchase_rate = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    immature = ma.fields.Integer(required=True)


class ServiceRowSchema(ma.Schema):
    tier = ma.fields.String(required=True, metadata={"description": "A tier key, `none` or `all`"})
    opened = ma.fields.Integer(required=True, metadata={"description": "Cases opened in the period"})
    open = ma.fields.Integer(required=True, metadata={"description": "Of those, open now"})
    resolved = ma.fields.Integer(required=True, metadata={"description": "Of those, resolved now"})
    median_first_response_minutes = ma.fields.String(allow_none=True, required=True, metadata={"example": "42.5"})
    median_resolution_hours = ma.fields.String(allow_none=True, required=True, metadata={"example": "20.0"})
    reopen_rate = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    goodwill_points = ma.fields.Integer(required=True)
    complainants = ma.fields.Integer(required=True, metadata={"description": "Mature members with a case"})
    recovered = ma.fields.Integer(required=True, metadata={"description": "First case resolved within 48 hours"})
    recovered_repurchase_rate = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    unrecovered_repurchase_rate = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    immature = ma.fields.Integer(required=True)


class LiabilitySchema(ma.Schema):
    amount = ma.fields.Integer(required=True)
    currency = ma.fields.String(required=True)


class PointsReportSchema(ma.Schema):
    opening = ma.fields.Integer(required=True)
    issued = ma.fields.Integer(required=True)
    redeemed = ma.fields.Integer(required=True)
    expired = ma.fields.Integer(required=True)
    reversed = ma.fields.Integer(required=True)
    adjusted = ma.fields.Integer(required=True)
    closing = ma.fields.Integer(required=True)
    outstanding = ma.fields.Integer(required=True)
    pending = ma.fields.Integer(required=True)
    liability = ma.fields.Nested(LiabilitySchema, required=True)
    redemption_rate = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)
    breakage_rate = ma.fields.String(allow_none=True, required=True, metadata=DECIMAL)


class AtRiskRowSchema(ma.Schema):
    member_id = ma.fields.String(required=True)
    email = ma.fields.String(allow_none=True, required=True)
    tier = ma.fields.String(allow_none=True, required=True)
    last_purchase_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    usual_gap_days = ma.fields.String(allow_none=True, required=True, metadata={"example": "21.00"})
    days_since_last_purchase = ma.fields.Integer(required=True)
    recent_qualifying_points = ma.fields.Integer(required=True)
    balance = ma.fields.Integer(required=True)


# The same 200 response may come as CSV (?format=csv).
also_csv = blp.alt_response(200, schema={"type": "string"}, content_type="text/csv", success=True,
                            description="The report as JSON, or with format=csv as CSV (a header line, one line a row)")


def rows_schema(row_schema) -> type[ma.Schema]:
    return page_schema(row_schema, f"{row_schema.__name__.removesuffix('Schema')}ListSchema")


def period_of(args: dict) -> Period:
    return Period.of_dates(args["from_"], args["to"])


def respond(name: str, args: dict, rows: list[dict], columns: list[str], next_key=None):
    """The rows as `{data, next_cursor}` JSON, or as a CSV download with `format=csv`."""
    if args["format"] == "csv":
        return Response(to_csv(rows, columns), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return {"data": json_value(rows), "next_cursor": next_key and encode_cursor(list(next_key))}


@blp.route("/repurchase-by-tier")
class RepurchaseByTier(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(RepurchaseArgsSchema, location="query")
    @blp.response(200, rows_schema(RepurchaseRowSchema))
    @also_csv
    def get(self, args):
        """Repurchase rate by the tier held at each member's first purchase of the period (Rules)."""
        rows = repurchase.report(period_of(args), args["window_days"])
        return respond("repurchase-by-tier", args, rows, repurchase.COLUMNS)


@blp.route("/cohorts")
class Cohorts(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PeriodArgsSchema, location="query")
    @blp.response(200, rows_schema(CohortRowSchema))
    @also_csv
    def get(self, args):
        """Members by month of first qualifying purchase: who came back within 30, 60 and 90 days."""
        return respond("cohorts", args, cohorts.report(period_of(args)), cohorts.COLUMNS)


@blp.route("/points")
class Points(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PeriodArgsSchema, location="query")
    @blp.response(200, PointsReportSchema)
    @also_csv
    def get(self, args):
        """The period's points roll-forward by ledger time, and outstanding points and liability now."""
        report = points.report(period_of(args))
        if args["format"] == "csv":
            return respond("points", args, [report], points.COLUMNS)
        return json_value(report)


@blp.route("/at-risk")
class AtRisk(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(AtRiskArgsSchema, location="query")
    @blp.response(200, rows_schema(AtRiskRowSchema))
    @also_csv
    def get(self, args):
        """Members gone quiet (Rules: At risk), highest recent qualifying points first; paged."""
        after = tuple(decode_cursor(args["cursor"], [int, str])) if args.get("cursor") else None
        rows, next_key = at_risk.report(args["limit"], after)
        return respond("at-risk", args, rows, at_risk.COLUMNS, next_key)


@blp.route("/satisfaction")
class Satisfaction(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PeriodArgsSchema, location="query")
    @blp.response(200, rows_schema(SatisfactionRowSchema))
    @also_csv
    def get(self, args):
        """CSAT and NPS of the period's feedback, by the tier each member held when answering."""
        return respond("satisfaction", args, satisfaction.report(period_of(args)), satisfaction.COLUMNS)


@blp.route("/retention-by-feedback")
class RetentionByFeedback(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(RepurchaseArgsSchema, location="query")
    @blp.response(200, rows_schema(RetentionByFeedbackRowSchema))
    @also_csv
    def get(self, args):
        """Repurchase after feedback, by the band of each member's first answer (Rules: Retention after feedback)."""
        rows = retention_feedback.report(period_of(args), args["window_days"])
        return respond("retention-by-feedback", args, rows, retention_feedback.COLUMNS)


@blp.route("/service")
class Service(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(RepurchaseArgsSchema, location="query")
    @blp.response(200, rows_schema(ServiceRowSchema))
    @also_csv
    def get(self, args):
        """Cases by the tier held when opened: volumes, response and resolution times, reopens, goodwill,
        and service recovery (Rules)."""
        rows = service.report(period_of(args), args["window_days"])
        return respond("service", args, rows, service.COLUMNS)
