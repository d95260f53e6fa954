"""Webhook endpoints (admin): where events go, which types each receives, and its secret."""
from datetime import timedelta
from fnmatch import fnmatch
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select

from loyalty import clock
from loyalty.errors import NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import WebhookDelivery, WebhookEndpoint, WebhookSubscription
from loyalty.outbound import secrets
from loyalty.outbound.events import ALL_TYPES, EVENT_TYPES


def host_allowed(url: str, allowed_hosts: list[str]) -> bool:
    """Is the URL's host on the allow-list (names or patterns like `*.example.com`)? No list: any."""
    host = (urlsplit(url).hostname or "").lower()
    return not allowed_hosts or any(fnmatch(host, pattern.lower()) for pattern in allowed_hosts)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("url must be an http or https URL.", fields={"url": ["Must be http or https."]})
    if not host_allowed(url, current_app.config["WEBHOOK_ALLOWED_HOSTS"]):
        raise ValidationFailed("This host is not in WEBHOOK_ALLOWED_HOSTS.",
                               fields={"url": ["Host not allowed by WEBHOOK_ALLOWED_HOSTS."]})


def _event_types(events: list[str]) -> list[str]:
    unknown = [event for event in events if event != ALL_TYPES and event not in EVENT_TYPES]
    if not events or unknown:
        raise ValidationFailed("events must be a non-empty list of event types, or [\"*\"].",
                               fields={"events": [f"Unknown event type {event}." for event in unknown]
                                       or ["Give at least one event type."]})
    return [ALL_TYPES] if ALL_TYPES in events else sorted(set(events))


def _subscribe(endpoint: WebhookEndpoint, events: list[str]) -> None:
    endpoint.subscriptions = [WebhookSubscription(event_type=event) for event in _event_types(events)]


def create(url: str, events: list[str], description: str | None) -> tuple[WebhookEndpoint, str]:
    """A new, active endpoint; returns it and its secret (the only time the secret is shown)."""
    _check_url(url)
    secret = secrets.new_secret()
    endpoint = WebhookEndpoint(url=url, description=description, active=True,
                               secret_encrypted=secrets.encrypt(secret))
    _subscribe(endpoint, events)
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def get(endpoint_id: str) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.")
    return endpoint


def list_query():
    return select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))


def update(endpoint_id: str, changes: dict) -> WebhookEndpoint:
    """Change url, events, description or active. A disabled endpoint gets no new deliveries."""
    endpoint = get(endpoint_id)
    if "url" in changes:
        _check_url(changes["url"])
    if "events" in changes:
        _subscribe(endpoint, changes.pop("events"))
    for field, value in changes.items():
        setattr(endpoint, field, value)
    db.session.flush()
    return endpoint


def delete_endpoint(endpoint_id: str) -> WebhookEndpoint:
    """Delete an endpoint: it gets nothing more, and its pending deliveries are dropped."""
    endpoint = get(endpoint_id)
    endpoint.deleted_at = clock.now()
    endpoint.active = False
    endpoint.subscriptions = []
    db.session.flush()
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                                     WebhookDelivery.status == "pending"))
    return endpoint


def rotate_secret(endpoint_id: str, expire_previous_in_hours: int) -> tuple[WebhookEndpoint, str]:
    """A new secret; deliveries carry a signature under the previous one too until it expires."""
    endpoint = get(endpoint_id)
    secret = secrets.new_secret()
    if expire_previous_in_hours > 0:
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = clock.now() + timedelta(hours=expire_previous_in_hours)
    else:
        endpoint.previous_secret_encrypted = endpoint.previous_secret_expires_at = None
    endpoint.secret_encrypted = secrets.encrypt(secret)
    db.session.flush()
    return endpoint, secret
