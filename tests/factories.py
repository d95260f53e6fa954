"""Factories for the rows most tests need: members, purchases (and refunds) and rewards.

Each goes through the domain function the API uses, so a made row is one the code could have
made; each flushes and never commits (the test's transaction is rolled back afterwards).
Pass `on` to set the clock for the change, as if it happened at that moment.
"""
from contextlib import nullcontext
from datetime import datetime
from itertools import count

from loyalty import clock, members, purchases, rewards
from loyalty.actors import Actor
from loyalty.extensions import db
from loyalty.models import Member, Purchase, Reward

ADMIN = Actor("api_key", "test-admin", role="admin")
_numbers = count(1)


def _at(on: datetime | None):
    return clock.frozen(on) if on is not None else nullcontext()


def member(on: datetime | None = None, **fields) -> Member:
    """An enrolled member; fields as POST /v1/members takes them (external_id made up if missing)."""
    fields.setdefault("external_id", f"factory-{next(_numbers)}")
    with _at(on):
        made = members.enroll(fields, ADMIN)
        db.session.flush()
        return made


def purchase(member: Member, cents: int, on: datetime | None = None, *, currency: str = "usd",
             order_id: str | None = None, source: str = "api") -> Purchase:
    """A purchase of `cents` by the member (occurred at `on`), with its points earned."""
    with _at(on):
        made, _ = purchases.record_purchase(
            db.session.get(Member, member.id), order_id=order_id or f"order-{next(_numbers)}", amount=cents,
            currency=currency, occurred_at=on, source=source, actor=ADMIN)
        db.session.flush()
        return made


def refund(purchase_id: str, cents: int, on: datetime | None = None) -> Purchase:
    """A refund of `cents` of the purchase, its points reversed."""
    with _at(on):
        refunded, _ = purchases.refund_purchase(purchase_id, cents, ADMIN)
        return refunded


def reward(**fields) -> Reward:
    """A catalogue reward: a 100-point free coffee unless fields say otherwise."""
    return rewards.create_reward({"name": "Coffee", "cost_points": 100, "kind": "free_item",
                                  "value": {"sku": "COF"}, **fields})
