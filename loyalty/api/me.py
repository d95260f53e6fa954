"""Customers: access tokens issued by a storefront, and /v1/me for the member who holds one."""
from datetime import timedelta

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from loyalty import clock, customers, errors, members, redemptions, rewards
from loyalty.api.common import AUTH_ERRORS, Blueprint, Computed, documents_errors
from loyalty.api.members import EntrySchema, MemberSchema, ledger_page
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.redemptions import REFUSALS, RedemptionSchema
from loyalty.api.rewards import RewardSchema
from loyalty.api.security import STOREFRONT, current_actor, requires
from loyalty.api.staff import TokenSchema
from loyalty.api.transaction import commits
from loyalty.models import Redemption, Reward

blp = Blueprint("customers", __name__, url_prefix="/v1", description="Customers' own view")


class ExpiringSchema(ma.Schema):
    points = ma.fields.Integer(required=True)
    on = ma.fields.Date(required=True)


class MeSchema(MemberSchema):
    expiring = Computed(ExpiringSchema, lambda member: customers.expiring(member, clock.now()), allow_none=True)


class MyRedemptionInSchema(ma.Schema):
    reward_id = ma.fields.String(required=True)


def my_member_id() -> str:
    """The member behind this request's customer token (anyone else is refused)."""
    member_id = current_actor().member_id
    if member_id is None:
        raise errors.Forbidden("Only a customer may use /v1/me; other roles use /v1/members/{id}.")
    return member_id


@blp.route("/members/<member_id>/access-tokens")
class AccessTokens(MethodView):
    @requires(*STOREFRONT)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.MemberInactive)
    @blp.response(201, TokenSchema)
    def post(self, member_id):
        """A short-lived token with which the customer sees and spends their own points only."""
        lifetime = timedelta(minutes=current_app.config["CUSTOMER_TOKEN_MINUTES"])
        token, plain = customers.issue_access_token(member_id, lifetime)
        return {"token": plain, "expires_at": token.expires_at}


@blp.route("/me")
class Me(MethodView):
    @requires("customer")
    @documents_errors(blp, *AUTH_ERRORS)
    @blp.response(200, MeSchema)
    def get(self):
        """The customer's membership: balance, pending points, tier, progress and what expires next."""
        return members.get_member_with_progress(my_member_id())


@blp.route("/me/transactions")
class MyTransactions(MethodView):
    @requires("customer")
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(EntrySchema))
    def get(self, args):
        """The customer's points history, newest first."""
        return ledger_page(my_member_id(), args)


@blp.route("/me/rewards")
class MyRewards(MethodView):
    @requires("customer")
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(RewardSchema))
    def get(self, args):
        """The catalogue, each reward saying whether the customer can redeem it and why not."""
        page = paginate(rewards.list_query(active_only=True), [Reward.id], args["limit"], args.get("cursor"))
        rewards.mark_eligibility(page["data"], members.get_member(my_member_id()))
        return page


@blp.route("/me/redemptions")
class MyRedemptions(MethodView):
    @requires("customer")
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed, *REFUSALS)
    @blp.arguments(MyRedemptionInSchema)
    @blp.response(201, RedemptionSchema)
    def post(self, data):
        """Spend points on a reward; the voucher code is used at checkout or the till."""
        return redemptions.issue(my_member_id(), data["reward_id"], current_actor())

    @requires("customer")
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(RedemptionSchema))
    def get(self, args):
        """Every redemption of the customer's, whoever issued it."""
        return paginate(redemptions.member_query(my_member_id()), [Redemption.id], args["limit"],
                        args.get("cursor"))
