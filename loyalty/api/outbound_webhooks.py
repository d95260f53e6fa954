"""/v1/webhook-endpoints and /v1/webhook-deliveries: outbound webhooks (admin)."""
import marshmallow as ma
from flask.views import MethodView

from loyalty import errors
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import StrictBoolean, StrictInteger, Timestamp
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import requires
from loyalty.api.tiers import DeletedSchema
from loyalty.api.transaction import commits
from loyalty.models import WebhookDelivery, WebhookEndpoint
from loyalty.models.webhooks import DELIVERY_STATUSES
from loyalty.outbound import deliveries, endpoints
from loyalty.outbound.events import ALL_TYPES, EVENT_TYPES

blp = Blueprint("outbound_webhooks", __name__, url_prefix="/v1", description="Outbound webhooks (admin)")

EVENT_TYPE = ma.fields.String(validate=ma.validate.OneOf([ALL_TYPES, *EVENT_TYPES]),
                              metadata={"description": "An event type, or * for every type"})


def _url(**kwargs):
    return ma.fields.Url(schemes={"http", "https"}, require_tld=False, validate=ma.validate.Length(max=2000),
                         metadata={"description": "Where events are POSTed: an http or https URL (on "
                                                  "WEBHOOK_ALLOWED_HOSTS when that is set)"}, **kwargs)


def _events(**kwargs):
    return ma.fields.List(EVENT_TYPE, validate=ma.validate.Length(1, len(EVENT_TYPES) + 1), metadata={
        "description": "The event types sent to this endpoint, or [\"*\"] for every type"}, **kwargs)


DESCRIPTION = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=500),
                               metadata={"description": "What the endpoint is for, for people"})


class EndpointCreateSchema(ma.Schema):
    url = _url(required=True)
    events = _events(required=True)
    description = DESCRIPTION


class EndpointPatchSchema(ma.Schema):
    url = _url()
    events = _events()
    description = DESCRIPTION
    active = StrictBoolean(metadata={"description": "false: the endpoint gets no new deliveries and "
                                                    "its pending ones wait"})


class EndpointSchema(ma.Schema):
    id = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.String(), required=True)
    description = ma.fields.String(allow_none=True, required=True)
    active = ma.fields.Boolean(required=True)
    created_at = Timestamp(required=True)
    previous_secret_expires_at = Timestamp(allow_none=True, metadata={
        "description": "Until then deliveries also carry a signature under the previous secret"})


class EndpointWithSecretSchema(EndpointSchema):
    secret = ma.fields.String(required=True, attribute="shown_secret", metadata={
        "description": "The signing secret (whsec_...): shown only here, store it now"})


class RotateInSchema(ma.Schema):
    expire_previous_in_hours = StrictInteger(load_default=24, validate=ma.validate.Range(0, 72), metadata={
        "description": "How long deliveries keep a signature under the previous secret (0-72 hours)"})


class DeliverySchema(ma.Schema):
    id = ma.fields.String(required=True)
    event_id = ma.fields.String(required=True)
    event_type = ma.fields.String(required=True)
    endpoint_id = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(DELIVERY_STATUSES)})
    attempts = ma.fields.Integer(required=True)
    last_status_code = ma.fields.Integer(allow_none=True, required=True)
    last_error = ma.fields.String(allow_none=True, required=True)
    next_attempt_at = Timestamp(allow_none=True, required=True)
    delivered_at = Timestamp(allow_none=True, required=True)
    created_at = Timestamp(required=True)


class AttemptSchema(ma.Schema):
    attempted_at = Timestamp(required=True)
    status_code = ma.fields.Integer(allow_none=True, required=True,
                                    metadata={"description": "The receiver's answer; null when none came"})
    error = ma.fields.String(allow_none=True, required=True)
    duration_ms = ma.fields.Integer(required=True)


class DeliveryDetailSchema(DeliverySchema):
    event = ma.fields.Dict(required=True, metadata={"description": "The event, as its body was sent"})
    attempts_made = ma.fields.List(ma.fields.Nested(AttemptSchema), required=True, data_key="attempt_log",
                                   metadata={"description": "Every attempt, oldest first"})

    @ma.pre_dump
    def flatten(self, detail, **kwargs):
        delivery = detail["delivery"]
        shown = {name: getattr(delivery, name) for name in DeliverySchema._declared_fields}
        return {**shown, "event": detail["event"], "attempts_made": detail["attempts"]}


class DeliveryQueryArgsSchema(PageArgsSchema):
    endpoint_id = ma.fields.String(metadata={"description": "Only deliveries to this endpoint"})
    status = ma.fields.String(validate=ma.validate.OneOf(DELIVERY_STATUSES),
                              metadata={"description": "Only deliveries in this status: pending, delivered or failed"})
    event_type = ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES),
                                  metadata={"description": "Only deliveries of this event type"})


class QueueSchema(ma.Schema):
    pending = ma.fields.Integer(required=True, metadata={"description": "Deliveries not yet delivered or failed"})
    due = ma.fields.Integer(required=True, metadata={"description": "Pending deliveries whose time has come"})
    failed = ma.fields.Integer(required=True)
    oldest_due_at = Timestamp(allow_none=True, required=True)
    oldest_due_seconds = ma.fields.Integer(allow_none=True, required=True, metadata={
        "description": "How long the oldest due delivery has waited: alert when it keeps growing"})


def _with_secret(endpoint, secret):
    endpoint.shown_secret = secret
    return endpoint


@blp.route("/webhook-endpoints")
class Endpoints(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(EndpointSchema))
    def get(self, args):
        """Webhook endpoints, newest first (admin)."""
        return paginate(endpoints.list_query(), [WebhookEndpoint.id], args["limit"], args.get("cursor"))

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(EndpointCreateSchema)
    @blp.response(201, EndpointWithSecretSchema)
    def post(self, data):
        """Add an endpoint (admin). Its signing secret is in this response only."""
        return _with_secret(*endpoints.create(data["url"], data["events"], data.get("description")))


@blp.route("/webhook-endpoints/<endpoint_id>")
class EndpointById(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, EndpointSchema)
    def get(self, endpoint_id):
        """Read one endpoint (admin); never its secret."""
        return endpoints.get(endpoint_id)

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(EndpointPatchSchema)
    @blp.response(200, EndpointSchema)
    def patch(self, changes, endpoint_id):
        """Change an endpoint's url, events, description or active (admin)."""
        return endpoints.update(endpoint_id, changes)

    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, DeletedSchema)
    def delete(self, endpoint_id):
        """Delete an endpoint (admin): its pending deliveries are dropped; sent ones stay listed."""
        endpoint = endpoints.delete_endpoint(endpoint_id)
        return {"id": endpoint.id, "deleted": True}


@blp.route("/webhook-endpoints/<endpoint_id>/rotate-secret")
class EndpointRotateSecret(MethodView):
    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(RotateInSchema)
    @blp.response(200, EndpointWithSecretSchema)
    def post(self, data, endpoint_id):
        """A new signing secret (admin), shown in this response only; until the previous one
        expires, deliveries carry a signature under each."""
        return _with_secret(*endpoints.rotate_secret(endpoint_id, data["expire_previous_in_hours"]))


@blp.route("/webhook-deliveries")
class Deliveries(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(DeliveryQueryArgsSchema, location="query")
    @blp.response(200, page_schema(DeliverySchema))
    def get(self, args):
        """Deliveries, newest first, by endpoint, status and event type (admin)."""
        query = deliveries.list_query(args.get("endpoint_id"), args.get("status"), args.get("event_type"))
        return paginate(query, [WebhookDelivery.id], args["limit"], args.get("cursor"))


@blp.route("/webhook-deliveries/<delivery_id>")
class DeliveryById(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, DeliveryDetailSchema)
    def get(self, delivery_id):
        """One delivery with `event` (the body sent) and `attempt_log` (admin)."""
        return deliveries.detail(delivery_id)


@blp.route("/webhook-deliveries/<delivery_id>/retry")
class DeliveryRetry(MethodView):
    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, deliveries.EndpointDeleted)
    @blp.response(200, DeliverySchema)
    def post(self, delivery_id):
        """Send again now (admin): a failed delivery is pending again, a delivered one is sent once
        more; `attempts` keeps counting."""
        return deliveries.retry(delivery_id)


@blp.route("/webhook-queue")
class Queue(MethodView):
    @requires()
    @documents_errors(blp, *AUTH_ERRORS)
    @blp.response(200, QueueSchema)
    def get(self):
        """What to monitor (admin): pending and due deliveries, and how late the oldest due one is."""
        return deliveries.queue_state()
