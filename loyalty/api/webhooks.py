"""/webhooks/stripe: verified Stripe events, each applied exactly once."""
from functools import wraps

import marshmallow as ma
from flask import current_app, g, request
from flask.views import MethodView

from loyalty import errors
from loyalty.actors import SYSTEM
from loyalty.api.common import Blueprint, documents_errors
from loyalty.api.security import no_credential
from loyalty.api.transaction import commits
from loyalty.payments import events
from loyalty.payments.stripe import verified_event

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Stripe webhooks")


class WebhookAnswerSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "Stripe's event id"})
    status = ma.fields.String(required=True, metadata={"description": "processed, ignored, parked or failed"})
    duplicate = ma.fields.Boolean(required=True, metadata={"description": "Delivered before: nothing was applied again"})


def signed_by_stripe(view):
    """Verify the Stripe-Signature on the raw body before anything is stored; pass the event on."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        event = verified_event(request.get_data(), request.headers.get("Stripe-Signature"),
                               current_app.config["STRIPE_WEBHOOK_SECRETS"],
                               current_app.config["STRIPE_WEBHOOK_TOLERANCE"])
        g.actor = SYSTEM  # what Stripe changes is recorded as the system's doing
        return view(*args, event, **kwargs)

    return wrapper


@blp.route("/stripe")
class StripeWebhook(MethodView):
    @signed_by_stripe
    @commits
    @documents_errors(blp, errors.InvalidSignature, errors.UnreadableEvent, errors.ValidationFailed, errors.ServiceUnavailable)
    @blp.doc(security=[])
    @blp.response(200, WebhookAnswerSchema)
    @no_credential("Stripe signs each request instead: the Stripe-Signature header, checked with "
                   "STRIPE_WEBHOOK_SECRET")
    def post(self, event):
        """Receive a Stripe event: 200 once it is recorded and applied (or was before)."""
        row, first_delivery = events.receive(event, request.get_data(as_text=True))
        return {"id": row.id, "status": row.status, "duplicate": not first_delivery}
