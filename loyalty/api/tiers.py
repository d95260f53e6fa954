"""/v1/tiers: the tier ladder (read by every role, written by admins)."""
import marshmallow as ma
from flask.views import MethodView

from loyalty import errors, tier_settings, tiers
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import DecimalString, StrictInteger
from loyalty.api.security import EVERYONE, requires
from loyalty.api.pagination import page_schema
from loyalty.api.transaction import commits

blp = Blueprint("tiers", __name__, url_prefix="/v1/tiers", description="Tiers")

KEY = ma.validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$", error="Lowercase letters, digits, _ and -; at most 40.")


class TierPatchSchema(ma.Schema):
    key = ma.fields.String(validate=KEY, metadata={"description": "The tier's name in the API and reports, e.g. `gold`; unique"})
    name = ma.fields.String(validate=ma.validate.Length(1, 200))
    min_qualifying_points = StrictInteger(validate=ma.validate.Range(0, 10**12))
    multiplier = DecimalString(validate=ma.validate.Range(1, 100), metadata={"example": "1.5"})
    benefits = ma.fields.List(ma.fields.String(validate=ma.validate.Length(1, 200)),
                              validate=ma.validate.Length(max=50))


class TierInSchema(TierPatchSchema):
    """A new tier: what a change may hold, key, name and threshold required."""

    key = ma.fields.String(required=True, validate=KEY, metadata={"description": "The tier's name in the API and reports, e.g. `gold`; unique"})
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    min_qualifying_points = StrictInteger(required=True, validate=ma.validate.Range(0, 10**12))


class TierSchema(ma.Schema):
    """A tier as the API shows it."""

    id = ma.fields.String(required=True)
    key = ma.fields.String(required=True, metadata={"description": "The tier's name in the API and reports, e.g. `gold`; unique"})
    name = ma.fields.String(required=True)
    min_qualifying_points = StrictInteger(required=True)
    multiplier = DecimalString(required=True, metadata={"example": "1.5"})
    benefits = ma.fields.List(ma.fields.String(), required=True)


TierListSchema = page_schema(TierSchema, "TierListSchema")


class DeletedSchema(ma.Schema):
    id = ma.fields.String(required=True)
    deleted = ma.fields.Boolean(required=True)


TIER_CONFLICTS = (errors.TierExists, errors.ThresholdTaken, errors.ValidationFailed)


@blp.route("")
class Tiers(MethodView):
    @requires(*EVERYONE)
    @documents_errors(blp, *AUTH_ERRORS)
    @blp.response(200, TierListSchema)
    def get(self):
        """The tiers by rank (ascending min_qualifying_points)."""
        return {"data": tiers.ladder(), "next_cursor": None}

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, *TIER_CONFLICTS)
    @blp.arguments(TierInSchema)
    @blp.response(201, TierSchema)
    def post(self, data):
        """Add a tier (admin). Members move into it on the next run-jobs or purchase."""
        return tier_settings.create_tier(data)


@blp.route("/<tier_id>")
class TierById(MethodView):
    @requires(*EVERYONE)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, TierSchema)
    def get(self, tier_id):
        """Read one tier."""
        return tier_settings.get_tier(tier_id)

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, *TIER_CONFLICTS)
    @blp.arguments(TierPatchSchema)
    @blp.response(200, TierSchema)
    def patch(self, changes, tier_id):
        """Change a tier (admin); a new threshold re-evaluates members on run-jobs."""
        return tier_settings.update_tier(tier_id, changes)

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, DeletedSchema)
    def delete(self, tier_id):
        """Retire a tier (admin); its members are re-evaluated on run-jobs. History keeps its key."""
        tier = tier_settings.delete_tier(tier_id)
        return {"id": tier.id, "deleted": True}
