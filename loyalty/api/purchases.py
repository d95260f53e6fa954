"""/v1/purchases: recording purchases and refunding them."""
import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from loyalty import errors, members, purchases
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import Amount, Currency, Timestamp
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import STAFF, STOREFRONT, current_actor, requires
from loyalty.api.transaction import commits
from loyalty.models import Purchase

blp = Blueprint("purchases", __name__, url_prefix="/v1", description="Purchases and refunds")

MONEY = ma.validate.Range(min=1, max=10**15)


class PurchaseInSchema(ma.Schema):
    member_id = ma.fields.String(metadata={"description": "The buyer's member `id`; give this or `external_id`, "
                                                          "exactly one"})
    external_id = ma.fields.String(metadata={"description": "The buyer's id in the shop's system; give this or "
                                                            "`member_id`, exactly one"})
    order_id = ma.fields.String(required=True, validate=ma.validate.Length(1, 255))
    amount = Amount(required=True, validate=MONEY)
    currency = Currency(required=True)
    occurred_at = Timestamp()

    @ma.validates_schema
    def names_one_member(self, data, **kwargs):
        if ("member_id" in data) == ("external_id" in data):
            raise ma.ValidationError("Give exactly one of member_id and external_id.", "member_id")


class PurchaseSchema(ma.Schema):
    id = ma.fields.String(required=True)
    member_id = ma.fields.String(required=True)
    order_id = ma.fields.String(required=True)
    amount = ma.fields.Integer(required=True)
    currency = ma.fields.String(required=True)
    refunded_amount = ma.fields.Integer(required=True)
    disputed_amount = ma.fields.Integer(required=True)
    occurred_at = Timestamp(required=True)
    created_at = Timestamp(required=True)
    source = ma.fields.String(required=True)
    points_earned = ma.fields.Integer(required=True)
    points_pending = ma.fields.Integer(attribute="pending_points", required=True)
    qualifying_points = ma.fields.Integer(required=True)


class RefundInSchema(ma.Schema):
    amount = Amount(required=True, validate=MONEY)
    reference = ma.fields.String(validate=ma.validate.Length(1, 255), metadata={
        "description": "The shop's refund id: the same reference again on this purchase returns 200 "
                       "with the purchase and refunds nothing more"})


WRITERS = (*STOREFRONT, *STAFF)


@blp.route("/purchases")
class Purchases(MethodView):
    @requires(*WRITERS)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.OrderExists, errors.MemberInactive,
                      errors.CurrencyNotEnabled, errors.ValidationFailed)
    @blp.arguments(PurchaseInSchema)
    @blp.response(201, PurchaseSchema)
    @blp.alt_response(200, schema=PurchaseSchema, description="The same order_id was already recorded")
    def post(self, data):
        """Record a purchase and earn its points (200 for a repeat of the same order)."""
        actor = current_actor()
        member = members.resolve(data.pop("member_id", None), data.pop("external_id", None), lock=True)
        data.setdefault("occurred_at", None)
        purchase, created = purchases.record_purchase(
            member, **data, source="pos" if actor.type == "staff" else "api", actor=actor)
        return purchase, 201 if created else 200


@blp.route("/purchases/<purchase_id>")
class PurchaseById(MethodView):
    @requires(*WRITERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, PurchaseSchema)
    def get(self, purchase_id):
        """Read a purchase."""
        return purchases.get_purchase(purchase_id)


@blp.route("/purchases/<purchase_id>/refunds")
class PurchaseRefunds(MethodView):
    @requires(*STOREFRONT)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.RefundExceedsPurchase, errors.RefundInStripe,
                      errors.ValidationFailed)
    @blp.arguments(RefundInSchema)
    @blp.response(201, PurchaseSchema)
    @blp.alt_response(200, schema=PurchaseSchema, description="This reference was refunded before: nothing more")
    def post(self, data, purchase_id):
        """Refund part or all of a purchase; its points follow the net amount."""
        purchase, refunded = purchases.refund_purchase(purchase_id, data["amount"], current_actor(),
                                                       reference=data.get("reference"))
        return purchase, 201 if refunded else 200


@blp.route("/members/<member_id>/purchases")
class MemberPurchases(MethodView):
    @requires(*WRITERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(PurchaseSchema))
    def get(self, args, member_id):
        """The member's purchases, newest first."""
        members.get_member(member_id)
        query = select(Purchase).where(Purchase.member_id == member_id)
        return paginate(query, [Purchase.id], args["limit"], args.get("cursor"))
