"""/v1/members: enrolment, profiles, look-ups, ledger, adjustments and tier history."""
import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from loyalty import adjustments, errors, members, tiers
from loyalty.api.common import AUTH_ERRORS, Blueprint, Computed, documents_errors
from loyalty.api.fields import StrictInteger, Timestamp
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import STAFF, STOREFRONT, current_actor, requires
from loyalty.api.transaction import commits
from loyalty.extensions import db
from loyalty.models import LedgerEntry, Member

blp = Blueprint("members", __name__, url_prefix="/v1/members", description="Members and their points")

SHORT = ma.validate.Length(1, 200)


class PointsSchema(ma.Schema):
    balance = ma.fields.Integer(required=True)
    pending = ma.fields.Integer(required=True)


class TierRefSchema(ma.Schema):
    key = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class TierProgressSchema(ma.Schema):
    qualifying_points = ma.fields.Integer(required=True)
    next_tier = ma.fields.String(allow_none=True, required=True)
    points_to_next_tier = ma.fields.Integer(allow_none=True, required=True)
    held_until = Timestamp(allow_none=True, metadata={"description": "The current tier is kept at least until then"})


class MemberFieldsSchema(ma.Schema):
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=320))
    name = ma.fields.String(allow_none=True, validate=SHORT)
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Length(1, 50))
    birthday = ma.fields.Date(allow_none=True)
    stripe_customer_id = ma.fields.String(allow_none=True, validate=ma.validate.Length(1, 255))
    metadata = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(1, 40)),
                              values=ma.fields.String(validate=ma.validate.Length(max=500)),
                              attribute="attributes", validate=ma.validate.Length(max=50))


class MemberInSchema(MemberFieldsSchema):
    external_id = ma.fields.String(required=True, validate=SHORT)


class MemberPatchSchema(MemberFieldsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(["active", "suspended"]), metadata={
        "description": "`suspended`: the member earns and redeems nothing until made `active` again"})


class MemberSchema(MemberInSchema):
    id = ma.fields.String(dump_only=True)
    member_code = ma.fields.String(dump_only=True)
    status = ma.fields.String(dump_only=True)
    enrolled_at = Timestamp(dump_only=True)
    points = Computed(PointsSchema, lambda m: {"balance": m.points_balance, "pending": m.points_pending})
    tier = Computed(TierRefSchema, lambda m: tiers.shown_tier(m), allow_none=True)
    tier_progress = Computed(TierProgressSchema, lambda m: tiers.progress(m))


class MemberQueryArgsSchema(PageArgsSchema):
    external_id = ma.fields.String()
    email = ma.fields.String()
    member_code = ma.fields.String()
    stripe_customer_id = ma.fields.String()
    phone = ma.fields.String(validate=ma.validate.Regexp(r".*[0-9]", error="A phone number needs digits."),
                             metadata={"description": "Matched on its digits alone: `+1 (555) 010-2030` "
                                                      "finds `15550102030`"})


class EntrySchema(ma.Schema):
    id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    points = ma.fields.Integer(required=True)
    balance_after = ma.fields.Integer(required=True)
    created_at = Timestamp(required=True)
    purchase_id = ma.fields.String(allow_none=True)
    redemption_id = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    location = ma.fields.String(allow_none=True)
    actor_type = ma.fields.String(required=True)
    actor_id = ma.fields.String(allow_none=True)


class AdjustmentInSchema(ma.Schema):
    points = StrictInteger(required=True, validate=ma.validate.Range(-10**12, 10**12), metadata={
        "description": "Points to add (positive) or take away (negative); not 0. A balance may go negative"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(1, 500),
                              metadata={"description": "Why, for the ledger entry's note (shown in the history)"})
    location = ma.fields.String(validate=SHORT)

    @ma.validates("points")
    def not_zero(self, value, **kwargs):
        if value == 0:
            raise ma.ValidationError("An adjustment moves at least one point.")


class TierHistoryRowSchema(ma.Schema):
    tier = ma.fields.Function(lambda row: row.tier.key if row.tier else None, required=True, allow_none=True,
                              metadata={"type": "string", "description": "The tier's key, or null"})
    effective_at = Timestamp(required=True)
    reason = ma.fields.String(required=True)
    note = ma.fields.String(allow_none=True)
    override_until = Timestamp(allow_none=True)


READERS = (*STOREFRONT, *STAFF)


@blp.route("")
class Members(MethodView):
    @requires(*STOREFRONT)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.MemberExists, errors.ValidationFailed)
    @blp.arguments(MemberInSchema)
    @blp.response(201, MemberSchema)
    def post(self, data):
        """Enrol a member (pays the signup bonus)."""
        return members.enroll(data, current_actor())

    @requires(*READERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(MemberQueryArgsSchema, location="query")
    @blp.response(200, page_schema(MemberSchema))
    def get(self, args):
        """Look members up by external_id, email, member_code, stripe_customer_id or phone (all given must match)."""
        query = members.lookup_query(args)
        return paginate(query, [Member.id], args["limit"], args.get("cursor"))


@blp.route("/<member_id>")
class MemberById(MethodView):
    @requires(*READERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, MemberSchema)
    def get(self, member_id):
        """Read a member, with balance, tier and tier progress."""
        return members.get_member_with_progress(member_id)

    @requires("storefront", "manager")
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(MemberPatchSchema)
    @blp.response(200, MemberSchema)
    def patch(self, changes, member_id):
        """Change a member's profile or status."""
        return members.update_member(member_id, changes)

    @requires(*STOREFRONT)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, MemberSchema)
    def delete(self, member_id):
        """Close a member: anonymise personal data, keep the ledger."""
        return members.close_member(member_id)


@blp.route("/<member_id>/transactions")
class MemberTransactions(MethodView):
    @requires(*READERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(EntrySchema))
    def get(self, args, member_id):
        """The member's ledger entries, newest first."""
        members.get_member(member_id)
        return ledger_page(member_id, args)


def ledger_page(member_id: str, args: dict) -> dict:
    query = select(LedgerEntry).where(LedgerEntry.member_id == member_id)
    return paginate(query, [LedgerEntry.id], args["limit"], args.get("cursor"))


@blp.route("/<member_id>/adjustments")
class MemberAdjustments(MethodView):
    @requires("manager")
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.InsufficientPoints, errors.ValidationFailed)
    @blp.arguments(AdjustmentInSchema)
    @blp.response(201, EntrySchema)
    def post(self, data, member_id):
        """Add or remove points by hand, with a reason (admin, manager)."""
        return adjustments.adjust(member_id, data["points"], data["reason"], current_actor(),
                                  location=data.get("location"))


@blp.route("/<member_id>/tier-history")
class MemberTierHistory(MethodView):
    @requires(*READERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, page_schema(TierHistoryRowSchema))
    def get(self, member_id):
        """Every tier change of the member, oldest first (the enrolment row leads)."""
        members.get_member(member_id)
        rows = db.session.execute(tiers.history_query(member_id)).scalars().all()
        return {"data": rows, "next_cursor": None}


class ManualTierSchema(ma.Schema):
    tier = ma.fields.String(required=True, allow_none=True, metadata={"description": "A tier key, or null"})
    until = Timestamp(required=True, metadata={"description": "When normal tier rules resume"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(1, 500),
                              metadata={"description": "Why the tier is set by hand (kept in the tier history)"})


@blp.route("/<member_id>/tier")
class MemberTier(MethodView):
    @requires("manager")
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(ManualTierSchema)
    @blp.response(200, MemberSchema)
    def put(self, data, member_id):
        """Set the member's tier by hand until a date (admin, manager); recorded in tier history."""
        return members.set_tier(member_id, data["tier"], data["until"], data["reason"], current_actor())
