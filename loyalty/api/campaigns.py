"""/v1/campaigns: bonus multipliers with a holdout, and what they did (admin)."""
import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from loyalty import campaigns, errors, members
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import DecimalString, StrictInteger, Timestamp, WindowDays
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import requires
from loyalty.api.transaction import commits
from loyalty.models import Campaign

blp = Blueprint("campaigns", __name__, url_prefix="/v1/campaigns", description="Campaigns (admin)")


class CampaignPatchSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(1, 200))
    multiplier = DecimalString(validate=ma.validate.Range(1, 100, min_inclusive=False), metadata={"example": "2"})
    tiers = ma.fields.List(ma.fields.String(), attribute="tier_keys",
                           metadata={"description": "Tier keys; empty = every tier"})
    starts_at = Timestamp()
    ends_at = Timestamp()
    holdout_percent = StrictInteger(validate=ma.validate.Range(0, 50))


class CampaignInSchema(CampaignPatchSchema):
    """A new campaign: name, multiplier and both moments required."""

    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    multiplier = DecimalString(required=True, validate=ma.validate.Range(1, 100, min_inclusive=False))
    tiers = ma.fields.List(ma.fields.String(), attribute="tier_keys", load_default=list,
                           metadata={"description": "Tier keys; empty = every tier"})
    starts_at = Timestamp(required=True)
    ends_at = Timestamp(required=True)
    holdout_percent = StrictInteger(load_default=0, validate=ma.validate.Range(0, 50))


class CampaignSchema(ma.Schema):
    """A campaign as the API shows it."""

    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    multiplier = DecimalString(required=True, metadata={"example": "2"})
    tiers = ma.fields.List(ma.fields.String(), attribute="tier_keys", required=True,
                           metadata={"description": "Tier keys; empty = every tier"})
    starts_at = Timestamp(required=True)
    ends_at = Timestamp(required=True)
    holdout_percent = StrictInteger(required=True)
    created_at = Timestamp(required=True)


class GroupSchema(ma.Schema):
    campaign_id = ma.fields.String(required=True)
    member_id = ma.fields.String(required=True)
    group = ma.fields.String(required=True, allow_none=True,
                             metadata={"description": "treated, holdout, or null when not in scope"})


class ResultsArgsSchema(ma.Schema):
    window_days = WindowDays(30)


class GroupResultSchema(ma.Schema):
    members = ma.fields.Integer(required=True)
    buyers = ma.fields.Integer(required=True)
    purchase_rate = ma.fields.String(required=True, allow_none=True)


class ResultsSchema(ma.Schema):
    campaign_id = ma.fields.String(required=True)
    window_days = ma.fields.Integer(required=True)
    treated = ma.fields.Nested(GroupResultSchema, required=True)
    holdout = ma.fields.Nested(GroupResultSchema, required=True)
    difference = ma.fields.String(required=True, allow_none=True)
    ci95 = ma.fields.List(ma.fields.String(), required=True, allow_none=True)


@blp.route("")
class Campaigns(MethodView):
    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(CampaignInSchema)
    @blp.response(201, CampaignSchema)
    def post(self, data):
        """Start a campaign: a bonus multiplier for a time, optionally for some tiers, with a holdout."""
        return campaigns.create_campaign(data)

    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(CampaignSchema))
    def get(self, args):
        """Every campaign, newest first."""
        return paginate(select(Campaign), [Campaign.id], args["limit"], args.get("cursor"))


@blp.route("/<campaign_id>")
class CampaignById(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id):
        """Read a campaign."""
        return campaigns.get_campaign(campaign_id)

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(CampaignPatchSchema)
    @blp.response(200, CampaignSchema)
    def patch(self, changes, campaign_id):
        """Change a campaign."""
        return campaigns.update_campaign(campaign_id, changes)


@blp.route("/<campaign_id>/members/<member_id>")
class CampaignMember(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, GroupSchema)
    def get(self, campaign_id, member_id):
        """Whether the member is treated or held out (stable for the campaign's life)."""
        campaign = campaigns.get_campaign(campaign_id)
        member = members.get_member(member_id)
        return {"campaign_id": campaign.id, "member_id": member.id, "group": campaigns.group(campaign, member)}


@blp.route("/<campaign_id>/results")
class CampaignResults(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(ResultsArgsSchema, location="query")
    @blp.response(200, ResultsSchema)
    def get(self, args, campaign_id):
        """Purchase rates of treated and holdout members, their difference and its 95% interval."""
        return campaigns.results(campaign_id, args["window_days"])
