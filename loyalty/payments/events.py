"""Stripe events: each verified event is recorded once and applied exactly once.

The PaymentEvent primary key is the guard against repeats: a second delivery of an event id
fails its insert and is answered without applying anything. Applying is also safe to repeat
(replays, parked events released later): a payment is recorded once per payment key, and
refunds and disputes set the purchase to the newest state Stripe stated, never add to it.
"""
import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from loyalty import clock, purchases, signals
from loyalty.actors import SYSTEM
from loyalty.errors import LoyaltyError, NotFound, OrderExists
from loyalty.extensions import add_unless_exists, db
from loyalty.ids import new_id
from loyalty.models import Member, PaymentEvent, Purchase, StripePayment
from loyalty.payments import buyers, parking, shapes, state
from loyalty.payments.shapes import Payment

log = logging.getLogger(__name__)

PAYMENT_EVENTS = {
    "payment_intent.succeeded": shapes.payment_from_payment_intent,
    "charge.succeeded": shapes.payment_from_charge,
    "charge.captured": shapes.payment_from_charge,
    "checkout.session.completed": shapes.payment_from_checkout_session,
    "checkout.session.async_payment_succeeded": shapes.payment_from_checkout_session,
}
REFUND_TOTAL_EVENTS = frozenset({"charge.refunded"})
REFUND_UPDATE_EVENTS = frozenset({"refund.updated", "refund.failed", "charge.refund.updated"})
DISPUTE_EVENTS = frozenset({
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
})
HANDLED_EVENTS = sorted({*PAYMENT_EVENTS, *REFUND_TOTAL_EVENTS, *REFUND_UPDATE_EVENTS, *DISPUTE_EVENTS})

# Events being applied in this context: releasing parked events from inside an application
# must not re-enter the event that released them.
_applying: ContextVar[frozenset] = ContextVar("applying_payment_events", default=frozenset())


@dataclass
class Outcome:
    """What applying an event did, and for a parked one what it waits for."""

    status: str
    detail: dict = field(default_factory=dict)
    payment_key: str | None = None
    customer_id: str | None = None
    email: str | None = None
    error: str | None = None


def receive(event: dict, payload: str) -> tuple[PaymentEvent, bool]:
    """Record a verified event and apply it; a repeat delivery returns the first record, unapplied."""
    row = add_unless_exists(PaymentEvent, {
        "id": event["id"], "receipt_id": new_id("pev"), "type": event["type"], "status": "failed",
        "payload": payload, "detail": {}, "attempts": 0, "stripe_created_at": _moment(event.get("created")),
        "received_at": clock.now(), "processed_at": None, "error": None, "payment_key": None,
        "stripe_customer_id": None, "email": None}, ["id"])
    if row is None:
        # Delivered before (on PostgreSQL a concurrent delivery waited for it to commit).
        return db.session.get(PaymentEvent, event["id"]), False
    apply(row)
    return row, True


def replay(event_id: str) -> PaymentEvent:
    """Apply a recorded event again (a failed or parked one, usually); safe for any event."""
    row = db.session.get(PaymentEvent, event_id)
    if row is None:
        raise NotFound(f"No payment event {event_id}.")
    return apply(row)


def apply(row: PaymentEvent) -> PaymentEvent:
    """Apply a recorded event in a savepoint; a failure is kept on the row, an outage raises."""
    if row.id in _applying.get():
        return row
    token = _applying.set(_applying.get() | {row.id})
    try:
        outcome = _outcome_of(json.loads(row.payload))
        _keep(row, outcome)
    finally:
        _applying.reset(token)
    return row


def _outcome_of(event: dict) -> Outcome:
    try:
        with db.session.begin_nested():
            return _dispatch(event)
    except (OperationalError, InterfaceError):
        raise  # the database is unreachable or busy: no 2xx, so Stripe delivers again
    except DBAPIError as error:
        if error.connection_invalidated:
            raise
        return _failed(error)
    except LoyaltyError as error:
        return _failed(error, detail={"code": error.code, **error.details})
    except Exception as error:  # a payload we cannot read must not make Stripe retry forever
        log.exception("payment event %s could not be applied", event.get("id"))
        return _failed(error)


def _failed(error: Exception, detail: dict | None = None) -> Outcome:
    return Outcome("failed", detail or {}, error=f"{type(error).__name__}: {error}"[:2000])


def _keep(row: PaymentEvent, outcome: Outcome) -> None:
    row.attempts = (row.attempts or 0) + 1
    row.status, row.detail, row.error = outcome.status, outcome.detail, outcome.error
    row.payment_key = outcome.payment_key or row.payment_key
    # Only an event waiting for its member is released by a member's customer id or email.
    row.stripe_customer_id, row.email = outcome.customer_id, outcome.email
    row.processed_at = clock.now() if outcome.status == "processed" else None


def _moment(created) -> datetime:
    if isinstance(created, int):
        return datetime.fromtimestamp(created, timezone.utc)
    return clock.now()


def _dispatch(event: dict) -> Outcome:
    kind, obj, created = event["type"], event["data"]["object"], event["created"]
    if kind in PAYMENT_EVENTS:
        return _apply_payment(PAYMENT_EVENTS[kind](obj), _moment(created))
    if kind in REFUND_TOTAL_EVENTS:
        return _apply_refund_total(obj, created)
    if kind in REFUND_UPDATE_EVENTS:
        return _apply_refund_update(obj, created)
    if kind in DISPUTE_EVENTS:
        return _apply_dispute(obj, created)
    if kind.startswith("invoice."):
        return Outcome("ignored", {"reason": "Invoice events are ignored: the money arrives as a payment intent."})
    return Outcome("ignored", {"reason": "Not a payment event."})


def _apply_payment(payment: Payment | None, occurred_at: datetime) -> Outcome:
    if payment is None:
        return Outcome("ignored", {"reason": "Nothing was paid yet (not succeeded, not captured or unpaid)."})
    held = state.lock(payment.key)
    state.remember_charges(payment.key, payment.charge_ids)
    if held.purchase_id is not None:
        purchase = db.session.get(Purchase, held.purchase_id)
        buyers.learn(db.session.get(Member, purchase.member_id), payment.buyer)
        return Outcome("processed", {"action": "payment_already_recorded", **_describe(purchase)},
                       payment_key=payment.key)
    member = buyers.find_member(payment.buyer) or buyers.enroll_if_allowed(payment.buyer)
    if member is None:
        return Outcome("parked", {"waiting_for": "member", "payment_key": payment.key},
                       payment_key=payment.key, customer_id=payment.buyer.customer_id,
                       email=payment.buyer.email)
    purchase = _record_purchase(member, payment, occurred_at)
    held.purchase_id, held.updated_at = purchase.id, clock.now()
    buyers.learn(member, payment.buyer)
    # Refunds and disputes that came first were parked for this payment: apply them now.
    _apply_all(parking.waiting_for_payment([payment.key, *payment.charge_ids]))
    if state.refunded_amount(held) or state.disputed_amount(held):
        _follow(held, reason="stripe", refunds=True, disputes=True)
    return Outcome("processed", {"action": "purchase_recorded", **_describe(purchase)}, payment_key=payment.key)


def _record_purchase(member: Member, payment: Payment, occurred_at: datetime) -> Purchase:
    """The payment's purchase for the (locked) member; one recorded before this payment's state
    row existed is taken as it is."""
    try:
        purchase, _ = purchases.record_purchase(
            member, order_id=payment.key, amount=payment.amount, currency=payment.currency,
            occurred_at=occurred_at, source="stripe", actor=SYSTEM)
    except OrderExists as exists:  # the same payment, stated by an event with another moment
        purchase = purchases.get_purchase(exists.details["purchase_id"])
    return purchase


def _describe(purchase: Purchase) -> dict:
    return {"purchase_id": purchase.id, "member_id": purchase.member_id, "amount": purchase.amount,
            "currency": purchase.currency, "refunded_amount": purchase.refunded_amount,
            "disputed_amount": purchase.disputed_amount, "points_earned": purchase.points_earned}


def _apply_refund_total(charge: dict, created: int) -> Outcome:
    held = _lock_payment_of(shapes.charge_ref(charge, is_charge=True))
    newer = state.note_refund_total(held, charge["amount_refunded"], created)
    return _follow(held, reason="stripe refund", refunds=newer)


def _apply_refund_update(refund: dict, created: int) -> Outcome:
    if not shapes.refund_failed(refund):
        return Outcome("ignored", {"reason": f"Refund {refund.get('status')}: charge.refunded carries the amount."})
    held = _lock_payment_of(shapes.charge_ref(refund))
    newer = state.note_failed_refund(held, refund["id"], refund["amount"], refund["created"], created)
    return _follow(held, reason=f"stripe refund {refund['status']}", refunds=newer)


def _apply_dispute(dispute: dict, created: int) -> Outcome:
    held = _lock_payment_of(shapes.charge_ref(dispute))
    newer = state.note_dispute(held, dispute["id"], dispute["amount"], dispute["status"], created)
    # An inquiry (warning_*) holds no money back: disputed_amount stays what it was.
    return _follow(held, reason=f"stripe dispute {dispute['status']}", disputes=newer)


def _lock_payment_of(ref: shapes.ChargeRef) -> StripePayment:
    key = state.payment_key_of(ref)
    if key is None:
        raise ValueError("The object names neither a payment intent nor a charge.")
    return state.lock(key)


def _follow(held: StripePayment, *, reason: str, refunds: bool = False, disputes: bool = False) -> Outcome:
    """Make the payment's purchase follow the state held for it, or park until the payment arrives.

    Only what the event reported and made newer is followed (`refunds`, `disputes`): an event
    never changes an amount it does not report, and an older one changes nothing.
    """
    if held.purchase_id is None:
        return Outcome("parked", {"waiting_for": "payment", "payment_key": held.payment_key},
                       payment_key=held.payment_key)
    # Locked and fresh: a vesting may have changed it since it was read.
    purchase = db.session.get(Purchase, held.purchase_id, with_for_update=True, populate_existing=True)
    moved = purchases.set_returned_amounts(
        purchase, actor=SYSTEM, reason=reason,
        refunded_amount=state.refunded_amount(held) if refunds else None,
        disputed_amount=state.disputed_amount(held) if disputes else None)
    return Outcome("processed", {"action": "purchase_updated", "points_moved": moved, **_describe(purchase)},
                   payment_key=held.payment_key)


# -- parked events, applied when what they wait for arrives ---------------------------------------

def _apply_all(parked: list[PaymentEvent]) -> None:
    for row in parked:
        apply(row)


def _member_changed(member, **_) -> None:
    _apply_all(parking.waiting_for_member(member))


def _members_arrived(_sender, members: list, **_) -> None:
    _apply_all(parking.waiting_for_members(members))


def connect_signals() -> None:
    """Apply parked events when members announce a change (loyalty/signals.py); create_app calls it."""
    signals.member_changed.connect(_member_changed)
    signals.members_arrived.connect(_members_arrived)
