"""Redemptions: issuing vouchers for a member, looking them up by code, using and voiding them."""
from datetime import datetime, time, timezone

import marshmallow as ma
from flask.views import MethodView

from loyalty import errors, members, redemptions
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import StrictBoolean, Timestamp
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import STAFF, STOREFRONT, current_actor, requires
from loyalty.api.transaction import commits
from loyalty.models import Redemption

blp = Blueprint("redemptions", __name__, url_prefix="/v1", description="Redemptions")

LOCATION = ma.fields.String(validate=ma.validate.Length(1, 200))
REFUSALS = (errors.InsufficientPoints, errors.TierRequired, errors.OutOfStock, errors.LimitReached,
            errors.RewardInactive, errors.MemberInactive)
USE_REFUSALS = (errors.AlreadyUsed, errors.Voided, errors.Expired)
TILL = (*STOREFRONT, *STAFF)


class RedemptionInSchema(ma.Schema):
    reward_id = ma.fields.String(required=True)
    use_now = StrictBoolean(load_default=False)
    location = LOCATION


class UseInSchema(ma.Schema):
    order_id = ma.fields.String(validate=ma.validate.Length(1, 255))
    location = LOCATION


class VoidInSchema(ma.Schema):
    location = LOCATION


class RedemptionSchema(ma.Schema):
    id = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    reward_id = ma.fields.String(required=True)
    member_id = ma.fields.String(required=True)
    points = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    issued_at = Timestamp(required=True)
    expires_at = Timestamp(required=True)
    used_at = Timestamp(allow_none=True)
    voided_at = Timestamp(allow_none=True)
    channel = ma.fields.String(required=True)
    staff_id = ma.fields.String(allow_none=True)
    location = ma.fields.String(allow_none=True)
    used_location = ma.fields.String(allow_none=True)
    used_order_id = ma.fields.String(allow_none=True)


class LocationDayArgsSchema(PageArgsSchema):
    location = ma.fields.String(required=True)
    date = ma.fields.Date(required=True, metadata={"description": "A UTC day, YYYY-MM-DD"})


@blp.route("/members/<member_id>/redemptions")
class MemberRedemptions(MethodView):
    @requires(*TILL)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed, *REFUSALS)
    @blp.arguments(RedemptionInSchema)
    @blp.response(201, RedemptionSchema)
    def post(self, data, member_id):
        """Spend points on a reward: issue a voucher (`use_now` also uses it, at the till)."""
        return redemptions.issue(member_id, data["reward_id"], current_actor(), use_now=data["use_now"],
                                 location=data.get("location"))

    @requires(*TILL)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(RedemptionSchema))
    def get(self, args, member_id):
        """The member's redemptions, newest first."""
        members.get_member(member_id)
        return paginate(redemptions.member_query(member_id), [Redemption.id], args["limit"], args.get("cursor"))


@blp.route("/redemptions")
class LocationRedemptions(MethodView):
    @requires("manager")
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(LocationDayArgsSchema, location="query")
    @blp.response(200, page_schema(RedemptionSchema))
    def get(self, args):
        """Redemptions issued or used at a location on a day: what a shop checks at closing."""
        day_start = datetime.combine(args["date"], time.min, tzinfo=timezone.utc)
        query = redemptions.location_day_query(args["location"], day_start)
        return paginate(query, [Redemption.id], args["limit"], args.get("cursor"))


@blp.route("/redemptions/<code>")
class RedemptionByCode(MethodView):
    @requires(*TILL)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, RedemptionSchema)
    def get(self, code):
        """Look a voucher up by its code (any case, spaces and dashes ignored)."""
        return redemptions.get_by_code(code)


@blp.route("/redemptions/<code>/use")
class RedemptionUse(MethodView):
    @requires(*TILL)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed, *USE_REFUSALS)
    @blp.arguments(UseInSchema)
    @blp.response(200, RedemptionSchema)
    def post(self, data, code):
        """Use a voucher, once."""
        return redemptions.use(code, current_actor(), order_id=data.get("order_id"), location=data.get("location"))


@blp.route("/redemptions/<code>/void")
class RedemptionVoid(MethodView):
    @requires("storefront", "manager")
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed, *USE_REFUSALS)
    @blp.arguments(VoidInSchema)
    @blp.response(200, RedemptionSchema)
    def post(self, data, code):
        """Void an unused voucher: its points and stock come back."""
        return redemptions.void(code, current_actor(), location=data.get("location"))
