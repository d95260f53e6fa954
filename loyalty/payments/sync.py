"""Reconciliation: Stripe events this server never received (it was down), oldest first."""
from collections.abc import Iterator
from datetime import datetime

from loyalty.extensions import db
from loyalty.models import PaymentEvent
from loyalty.payments import events
from loyalty.payments.stripe import list_events


def missed_events(since: datetime, *, api_key: str, api_base: str | None = None,
                  api_version: str | None = None) -> Iterator[dict]:
    """Payment events Stripe created since `since` that are not recorded here, oldest first."""
    listed = list_events(api_key=api_key, since=since, types=events.HANDLED_EVENTS,
                         api_base=api_base, api_version=api_version)
    # Stripe lists newest first; applying in creation order reads like the live stream did.
    for event in sorted(listed, key=lambda event: (event.get("created") or 0, event["id"])):
        if db.session.get(PaymentEvent, event["id"]) is None:
            yield event


def parked_or_failed(status: str) -> list[str]:
    """Ids of the events in `status`, oldest first (for stripe-replay)."""
    return list(db.session.scalars(
        db.select(PaymentEvent.id).where(PaymentEvent.status == status)
        .order_by(PaymentEvent.stripe_created_at, PaymentEvent.id)
    ))
