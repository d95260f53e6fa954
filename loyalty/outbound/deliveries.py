"""Deliveries (admin): what was sent where, each attempt, retries by hand, and the queue's state."""
import json
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select

from loyalty import clock
from loyalty.errors import Conflict, NotFound
from loyalty.extensions import db
from loyalty.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class EndpointDeleted(Conflict):
    code, message = "endpoint_deleted", "The delivery's endpoint was deleted; it cannot be sent again."


def list_query(endpoint_id: str | None = None, status: str | None = None, event_type: str | None = None):
    query = select(WebhookDelivery)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if event_type is not None:
        query = query.where(WebhookDelivery.event_type == event_type)
    return query


def get(delivery_id: str) -> WebhookDelivery:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"No webhook delivery {delivery_id}.")
    return delivery


def detail(delivery_id: str) -> dict:
    """The delivery with the event body it sends and its attempts, oldest first."""
    delivery = get(delivery_id)
    body = db.session.execute(select(WebhookEvent.body).where(WebhookEvent.id == delivery.event_id)).scalar_one()
    attempts = db.session.execute(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                  .order_by(WebhookAttempt.id)).scalars().all()
    return {"delivery": delivery, "event": json.loads(body), "attempts": attempts}


def retry(delivery_id: str) -> WebhookDelivery:
    """Make the delivery due now: a failed one is pending again (with a new round of retries), a
    delivered one is sent once more. `attempts` keeps counting."""
    delivery = get(delivery_id)
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint.deleted_at is not None:
        raise EndpointDeleted(endpoint_id=endpoint.id)
    delivery.status = "pending"
    delivery.next_attempt_at = clock.now()
    delivery.round_start = delivery.attempts
    db.session.flush()
    return delivery


def queue_state() -> dict:
    """What to watch: pending deliveries, how many are due, and how late the oldest due one is.
    Each figure is read through the (status, next_attempt_at) index."""
    now = clock.now()
    pending = select(WebhookDelivery.id).where(WebhookDelivery.status == "pending")
    due = pending.where(WebhookDelivery.next_attempt_at <= now)
    failed = select(WebhookDelivery.id).where(WebhookDelivery.status == "failed")
    oldest_due = (select(func.min(WebhookDelivery.next_attempt_at))
                  .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now))
    counts = [select(func.count()).select_from(query.subquery()).scalar_subquery() for query in (pending, due, failed)]
    pending_count, due_count, failed_count, oldest = db.session.execute(
        select(*counts, oldest_due.scalar_subquery())).one()
    return {"pending": pending_count, "due": due_count, "failed": failed_count, "oldest_due_at": oldest,
            "oldest_due_seconds": None if oldest is None else max(int((now - oldest).total_seconds()), 0)}


def prune(now: datetime, keep_days: int) -> int:
    """Forget events older than `keep_days` whose deliveries are all done (delivered or failed),
    with their deliveries and attempts; returns how many events went."""
    old = (select(WebhookEvent.id)
           .where(WebhookEvent.created_at < now - timedelta(days=keep_days),
                  ~exists().where(WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status == "pending"))
           .scalar_subquery())
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(old)).scalar_subquery()
    db.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(old)))
    return db.session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(old))).rowcount
