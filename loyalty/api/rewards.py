"""/v1/rewards: the catalogue, with each reward's eligibility for a member."""
import marshmallow as ma
from flask.views import MethodView

from loyalty import errors, members, rewards
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import Amount, Currency, DecimalString, StrictBoolean, StrictInteger
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import EVERYONE, STAFF, STOREFRONT, require_own_member, requires
from loyalty.api.transaction import commits
from loyalty.models import Reward

blp = Blueprint("rewards", __name__, url_prefix="/v1/rewards", description="Rewards catalogue")

KIND_VALUES = {
    "discount_amount": {"amount", "currency"},
    "discount_percent": {"percent"},
    "free_item": {"sku"},
    "custom": set(),
}


KIND_DOC = {"description": "What the reward gives; decides which `value` fields it takes"}
VALUE_DOC = {"description": "By `kind`: `discount_amount` {amount, currency}; `discount_percent` {percent}; "
                            "`free_item` {sku}; `custom` {} (the other fields are refused)"}


class RewardValueSchema(ma.Schema):
    """What the reward is worth, by kind: {amount, currency} | {percent} | {sku} | {}."""

    amount = Amount(validate=ma.validate.Range(1, 10**12))
    currency = Currency()
    percent = DecimalString(places=2, validate=ma.validate.Range(0, 100, min_inclusive=False),
                            metadata={"description": "For `discount_percent`: the discount, e.g. \"10\" (a decimal string)"})
    sku = ma.fields.String(validate=ma.validate.Length(1, 100),
                           metadata={"description": "For `free_item`: the shop's product code of the item"})


class RewardPatchSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(1, 200))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))
    cost_points = StrictInteger(validate=ma.validate.Range(1, 10**12))
    kind = ma.fields.String(validate=ma.validate.OneOf(list(KIND_VALUES)), metadata=KIND_DOC)
    value = ma.fields.Nested(RewardValueSchema, metadata=VALUE_DOC)
    min_tier = ma.fields.String(allow_none=True, metadata={"description": "A tier key, or null"})
    stock = StrictInteger(allow_none=True, validate=ma.validate.Range(0, 10**12),
                          metadata={"description": "What is left; null = unlimited"})
    per_member_limit = StrictInteger(allow_none=True, validate=ma.validate.Range(1, 10**6))
    voucher_valid_days = StrictInteger(validate=ma.validate.Range(1, 3650))
    active = StrictBoolean()

    @ma.validates_schema
    def value_fits_kind(self, data, **kwargs):
        if "value" not in data or "kind" not in data:
            return
        expected, given = KIND_VALUES[data["kind"]], set(data["value"])
        if given != expected:
            raise ma.ValidationError(
                f"A {data['kind']} reward's value has exactly: {', '.join(sorted(expected)) or 'nothing'}.",
                "value")

    @ma.post_load
    def plain_value(self, data, **kwargs):
        if "value" in data and "percent" in data["value"]:
            data["value"] = {"percent": str(data["value"]["percent"])}
        return data


class RewardInSchema(RewardPatchSchema):
    """A new reward: name, cost, kind and value required."""

    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    cost_points = StrictInteger(required=True, validate=ma.validate.Range(1, 10**12))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(list(KIND_VALUES)), metadata=KIND_DOC)
    value = ma.fields.Nested(RewardValueSchema, required=True, metadata=VALUE_DOC)


class RewardSchema(ma.Schema):
    """A reward as the API shows it (with ?member_id=, whether that member may redeem it)."""

    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    cost_points = StrictInteger(required=True)
    kind = ma.fields.String(required=True, metadata=KIND_DOC)
    value = ma.fields.Nested(RewardValueSchema, required=True, metadata=VALUE_DOC)
    min_tier = ma.fields.Function(lambda reward: reward.min_tier.key if reward.min_tier else None,
                                  allow_none=True, metadata={"type": "string", "description": "A tier key, or null"})
    stock = StrictInteger(allow_none=True, metadata={"description": "What is left; null = unlimited"})
    per_member_limit = StrictInteger(allow_none=True)
    voucher_valid_days = StrictInteger()
    active = StrictBoolean()
    eligible = ma.fields.Boolean(metadata={"description": "With ?member_id= only"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "With ?member_id=: the refusal code, or null"})


class RewardQuerySchema(PageArgsSchema):
    member_id = ma.fields.String()


@blp.route("")
class Rewards(MethodView):
    @requires(*EVERYONE)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(RewardQuerySchema, location="query")
    @blp.response(200, page_schema(RewardSchema))
    def get(self, args):
        """The catalogue; with member_id, whether that member may redeem each reward and why not."""
        page = paginate(rewards.list_query(active_only=False), [Reward.id], args["limit"], args.get("cursor"))
        if "member_id" in args:
            require_own_member(args["member_id"])
            rewards.mark_eligibility(page["data"], members.get_member(args["member_id"]))
        return page

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(RewardInSchema)
    @blp.response(201, RewardSchema)
    def post(self, data):
        """Add a reward (admin)."""
        return rewards.create_reward(data)


@blp.route("/<reward_id>")
class RewardById(MethodView):
    @requires(*STOREFRONT, *STAFF)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, RewardSchema)
    def get(self, reward_id):
        """Read a reward."""
        return rewards.get_reward(reward_id)

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(RewardPatchSchema)
    @blp.response(200, RewardSchema)
    def patch(self, changes, reward_id):
        """Change a reward (admin); `active: false` withdraws it."""
        return rewards.update_reward(reward_id, changes)
