"""Stripe events parked until what they wait for exists: a member, or the payment itself.

They are applied in the transaction that creates or updates that member or payment, so the
effect is there when that request answers.
"""
from sqlalchemy import bindparam, or_, select

from loyalty.extensions import db
from loyalty.models import PaymentEvent


def member_changed(member) -> None:
    """Apply, in this transaction, every parked event waiting for this member."""
    waiting_for = []
    if member.stripe_customer_id:
        waiting_for.append(PaymentEvent.stripe_customer_id == member.stripe_customer_id)
    if member.email:
        waiting_for.append(PaymentEvent.email == member.email.strip().lower())
    if waiting_for:
        _apply_parked(or_(*waiting_for))


def payment_arrived(payment_keys: list[str]) -> None:
    """Apply the refunds, disputes and other events of a payment that were waiting for it."""
    _apply_parked(WAITING_FOR_PAYMENT, {"payment_keys": payment_keys})  # on every payment: built once


WAITING_FOR_PAYMENT = PaymentEvent.payment_key.in_(bindparam("payment_keys", expanding=True))


def _apply_parked(condition, params: dict | None = None) -> None:
    from loyalty.payments import events  # events imports this module, and members imports it too

    query = (select(PaymentEvent).where(PaymentEvent.status == "parked", condition)
             .order_by(PaymentEvent.stripe_created_at, PaymentEvent.id))
    for row in db.session.execute(query, params).scalars().all():
        events.apply(row)
