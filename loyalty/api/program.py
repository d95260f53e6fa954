"""/v1/program: the program's settings."""
import marshmallow as ma
from flask.views import MethodView

from loyalty import settings
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import Amount, Currency, DecimalString, StrictBoolean, StrictInteger, Timestamp
from loyalty.api.security import STOREFRONT, requires
from loyalty.api.transaction import commits
from loyalty.errors import ValidationFailed
from loyalty.program import update_program

blp = Blueprint("program", __name__, url_prefix="/v1/program", description="Program settings")

DAYS = ma.validate.Range(min=0, max=36500)


class MoneySchema(ma.Schema):
    amount = Amount(required=True, validate=ma.validate.Range(min=0))
    currency = Currency(required=True)


class ProgramSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(1, 200))
    earn_rates = ma.fields.Dict(keys=Currency(), values=DecimalString(
        validate=ma.validate.Range(min=0, max=10**6, min_inclusive=False)))
    tier_window_days = StrictInteger(validate=ma.validate.Range(min=1, max=36500))
    tier_retention_days = StrictInteger(validate=DAYS)
    pending_days = StrictInteger(validate=DAYS)
    expiry_policy = ma.fields.String(validate=ma.validate.OneOf(["none", "inactivity", "fixed"]))
    expiry_days = StrictInteger(allow_none=True, validate=ma.validate.Range(min=1, max=36500))
    signup_bonus = StrictInteger(validate=ma.validate.Range(min=0))
    birthday_bonus = StrictInteger(validate=ma.validate.Range(min=0))
    auto_enroll = StrictBoolean()
    goodwill_limit = StrictInteger(validate=ma.validate.Range(min=0, max=10**12),
                                   metadata={"description": "The most goodwill points one case resolution may give"})
    expiring_notice_days = StrictInteger(validate=ma.validate.Range(min=0, max=365), metadata={
        "description": "How many days ahead the points.expiring webhook event warns of points about to "
                       "expire (0-365, default 14)"})
    updated_at = Timestamp(dump_only=True)

    point_value = ma.fields.Nested(MoneySchema)

    @ma.post_load
    def flatten(self, data, **kwargs):
        if "point_value" in data:
            money = data.pop("point_value")
            data["point_value_amount"], data["point_value_currency"] = money["amount"], money["currency"]
        if "earn_rates" in data:
            data["earn_rates"] = {currency: str(rate) for currency, rate in data["earn_rates"].items()}
        return data

    @ma.pre_dump
    def nest(self, program, **kwargs):
        return {
            **{field: getattr(program, field) for field in (
                "name", "tier_window_days", "tier_retention_days", "pending_days", "expiry_policy",
                "expiry_days", "signup_bonus", "birthday_bonus", "auto_enroll", "goodwill_limit",
                "expiring_notice_days", "updated_at")},
            "earn_rates": {currency: rate for currency, rate in sorted(program.earn_rates.items())},
            "point_value": {"amount": program.point_value_amount, "currency": program.point_value_currency},
        }


@blp.route("")
class ProgramSettings(MethodView):
    @requires(*STOREFRONT)
    @documents_errors(blp, *AUTH_ERRORS)
    @blp.response(200, ProgramSchema)
    def get(self):
        """Read the program's settings."""
        return settings.current().program

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, ValidationFailed)
    @blp.arguments(ProgramSchema)
    @blp.response(200, ProgramSchema)
    def patch(self, changes):
        """Change some of the program's settings (admin)."""
        return update_program(changes)
