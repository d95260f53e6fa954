"""/v1/payment-events: what arrived from Stripe and what it did (admin)."""
import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from loyalty import errors
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import Timestamp
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import requires
from loyalty.api.transaction import commits
from loyalty.models import PaymentEvent
from loyalty.models.payments import EVENT_STATUSES
from loyalty.payments import events

blp = Blueprint("payment_events", __name__, url_prefix="/v1/payment-events", description="Stripe payment events (admin)")


class PaymentEventSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "Stripe's event id"})
    type = ma.fields.String(required=True)
    received_at = Timestamp(required=True)
    created = Timestamp(attribute="stripe_created_at", required=True,
                        metadata={"description": "When Stripe created the event"})
    status = ma.fields.String(required=True, metadata={"enum": list(EVENT_STATUSES)})
    detail = ma.fields.Dict(required=True, metadata={"description": "What applying the event did, or waits for"})
    error = ma.fields.String(allow_none=True, required=True, metadata={"description": "Why it failed"})
    attempts = ma.fields.Integer(required=True)
    processed_at = Timestamp(allow_none=True, required=True)


class PaymentEventQueryArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(EVENT_STATUSES),
                              metadata={"description": "Only the events in this state"})


@blp.route("")
class PaymentEvents(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PaymentEventQueryArgsSchema, location="query")
    @blp.response(200, page_schema(PaymentEventSchema))
    def get(self, args):
        """Stripe events as received, newest first, optionally of one status."""
        query = select(PaymentEvent)
        if "status" in args:
            query = query.where(PaymentEvent.status == args["status"])
        return paginate(query, [PaymentEvent.receipt_id], args["limit"], args.get("cursor"))


@blp.route("/<event_id>/replay")
class PaymentEventReplay(MethodView):
    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, PaymentEventSchema)
    def post(self, event_id):
        """Apply a recorded event again (safe for any event: nothing is applied twice)."""
        return events.replay(event_id)
