"""Stripe events parked until what they wait for exists: a member, or the payment itself.

They are applied in the transaction that creates or updates that member or payment, so the
effect is there when that request answers.
"""
import functools

from sqlalchemy import bindparam, or_, select

from loyalty.emails import normalise_email
from loyalty.extensions import db
from loyalty.models import PaymentEvent


def waiting_for_member(member) -> list[PaymentEvent]:
    """The parked events waiting for this member (by Stripe customer or email), oldest first."""
    waiting_for = []
    if member.stripe_customer_id:
        waiting_for.append(PaymentEvent.stripe_customer_id == member.stripe_customer_id)
    if member.email:
        waiting_for.append(PaymentEvent.email == normalise_email(member.email))
    return _parked(or_(*waiting_for)) if waiting_for else []


def waiting_for_members(members: list) -> list[PaymentEvent]:
    """waiting_for_member for many new members at once (an import): one look for any parked event
    naming their emails or Stripe customers first, as there is rarely one."""
    emails = {normalise_email(member.email) for member in members if member.email}
    customers = {member.stripe_customer_id for member in members if member.stripe_customer_id}
    if not emails and not customers:
        return []
    waiting = db.session.execute(
        select(PaymentEvent.email, PaymentEvent.stripe_customer_id)
        .where(PaymentEvent.status == "parked",
               or_(PaymentEvent.email.in_(emails), PaymentEvent.stripe_customer_id.in_(customers)))
    ).all()
    named = {email for email, _ in waiting} | {customer for _, customer in waiting}
    return [row for member in members
            if (member.email and normalise_email(member.email) in named) or member.stripe_customer_id in named
            for row in waiting_for_member(member)]


def waiting_for_payment(payment_keys: list[str]) -> list[PaymentEvent]:
    """The refunds, disputes and other events of a payment that were waiting for it."""
    # On every payment, and there is rarely anything parked for it: one cheap look first.
    keys = {f"key_{n}": key for n, key in enumerate(payment_keys)}
    if db.session.execute(_first_parked_for(len(keys)), keys).first() is not None:
        return _parked(PaymentEvent.payment_key.in_(payment_keys))
    return []


@functools.cache
def _first_parked_for(key_count: int):
    keys = [bindparam(f"key_{n}") for n in range(key_count)]
    return (select(PaymentEvent.id)
            .where(PaymentEvent.status == "parked", PaymentEvent.payment_key.in_(keys)).limit(1))


def _parked(condition) -> list[PaymentEvent]:
    query = (select(PaymentEvent).where(PaymentEvent.status == "parked", condition)
             .order_by(PaymentEvent.stripe_created_at, PaymentEvent.id))
    return list(db.session.execute(query).scalars().all())
