"""The HTTP API: every resource blueprint, registered in one list."""
from flask_smorest import Api

from loyalty.api import (campaigns, health, me, member_story, members, outbound_webhooks, payment_events, program,
                         purchases, redemptions, reports, rewards, service, staff, tiers, webhooks)
from loyalty.api.descriptions import describe_by_name
from loyalty.api.errors import ErrorSchema
from loyalty.api.parsing import ApiRequest, StrictJSONProvider
from loyalty.outbound import events

BLUEPRINTS = [health.blp, program.blp, members.blp, purchases.blp, tiers.blp, rewards.blp, redemptions.blp,
              staff.blp, me.blp, campaigns.blp, webhooks.blp, payment_events.blp, outbound_webhooks.blp, reports.blp,
              service.blp, member_story.blp]


class LoyaltyApi(Api):
    """flask-smorest with the contract's error shape (errors are handled in api.errors)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        pass


def init_api(app) -> LoyaltyApi:
    """Attach the API and its OpenAPI document to the app."""
    app.config.setdefault("API_SPEC_OPTIONS", {"security": [{"bearer": []}]})
    app.json = StrictJSONProvider(app)
    app.request_class = ApiRequest
    api = LoyaltyApi(app)
    api.ma_plugin.converter.add_attribute_function(describe_by_name)
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer",
                   "description": "An API key, a staff token or a customer token"})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    register_event_shapes()
    return api


def register_event_shapes() -> None:
    """Webhook events show objects as the API shows them (loyalty.outbound.events)."""
    events.show_as("member", members.MemberSchema().dump)
    events.show_as("redemption", redemptions.RedemptionSchema().dump)
    events.show_as("case", service.CaseSchema().dump)
    events.show_as("feedback", service.FeedbackSchema().dump)


# The API's own blueprints (not /openapi.json, /docs or the pages).
RESOURCE_BLUEPRINTS = {blueprint.name for blueprint in BLUEPRINTS}
