"""The outbox: an event is recorded in the same transaction as the change that causes it.

One INSERT of the event row; the database's trigger writes, in that same statement, a delivery
for each active endpoint subscribed to the event's type (models/triggers.py). A change that rolls
back takes its event with it, and a committed change always has its event. Nothing is sent here:
`loyalty deliver-webhooks` sends after the commit.
"""
import json
from typing import Callable

from sqlalchemy import insert

from loyalty import clock
from loyalty.extensions import db
from loyalty.ids import new_id
from loyalty.models import WebhookEvent

EVENT_TYPES = (
    "member.enrolled", "member.tier_changed", "member.at_risk",
    "points.expiring", "points.expired",
    "redemption.issued", "redemption.used", "redemption.voided", "redemption.expired",
    "case.opened", "case.resolved", "feedback.received",
)
ALL_TYPES = "*"

# How objects are shown in events: as the API shows them. The API registers its schemas here
# (loyalty.api.init_api), so the domain records events without importing the API.
_shown_as: dict[str, Callable[[object], dict]] = {}


def show_as(kind: str, dump: Callable[[object], dict]) -> None:
    """Show objects of `kind` ("member", "redemption", ...) in events as `dump` makes them."""
    _shown_as[kind] = dump


def shown(kind: str, instance) -> dict:
    try:
        dump = _shown_as[kind]
    except KeyError:
        raise LookupError(f"no event shape for {kind!r}: create_app registers them") from None
    return dump(instance)


INSERT_EVENT = insert(WebhookEvent.__table__)


def record(event_type: str, data: dict) -> str:
    """Record an event whose `data.object` is `data`; returns its id. One statement; never commits."""
    row = _event_row(event_type, data, clock.now())
    db.session.execute(INSERT_EVENT, row)
    return row["id"]


def record_many(event_type: str, objects: list[dict]) -> None:
    """Record one event per object, all in one statement (an import's batch); never commits."""
    if objects:
        now = clock.now()
        db.session.execute(INSERT_EVENT, [_event_row(event_type, data, now) for data in objects])


def _event_row(event_type: str, data: dict, now) -> dict:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    event_id = new_id("evt")
    body = json.dumps({"id": event_id, "type": event_type, "created": int(now.timestamp()),
                       "data": {"object": data}}, separators=(",", ":"), ensure_ascii=False)
    return {"id": event_id, "type": event_type, "created_at": now, "body": body}


def record_object(event_type: str, kind: str, instance) -> str:
    """Record an event about an object (a member, a redemption, a case), shown as the API shows it."""
    db.session.flush()  # the object as it stands now, every change of this transaction included
    return record(event_type, shown(kind, instance))
