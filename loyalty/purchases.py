"""Purchases and refunds: the points a purchase earns, and what a refund takes back."""
import hashlib
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from loyalty import campaigns, clock, earning, ledger, settings, tiers
from loyalty.reports import at_risk
from loyalty.actors import SYSTEM, Actor
from loyalty.currency import is_code
from loyalty.errors import (MemberInactive, NotFound, OrderExists, RefundExceedsPurchase, RefundInStripe,
                            ValidationFailed)
from loyalty.extensions import add_unless_exists, adopt, db, insert_unless_exists
from loyalty.ids import new_id, new_ids
from loyalty.models import Member, Purchase, Refund
from loyalty.program import earn_rate


def fingerprint_of(member_id: str, amount: int, currency: str, occurred_at: datetime | None) -> str:
    stamp = occurred_at.isoformat() if occurred_at else "-"
    return hashlib.sha256(f"{member_id}|{amount}|{currency}|{stamp}".encode()).hexdigest()


# How far ahead of our clock a purchase may be dated (clock skew), from any writer.
FUTURE_TOLERANCE = timedelta(minutes=5)


def is_in_future(occurred_at: datetime, now: datetime | None = None) -> bool:
    """Dated more than FUTURE_TOLERANCE ahead of now: no writer may record it (API, Stripe, imports)."""
    return occurred_at > (now or clock.now()) + FUTURE_TOLERANCE


def check_not_in_future(occurred_at: datetime) -> None:
    """A purchase dated ahead of now would keep points alive and tiers held: 422."""
    if is_in_future(occurred_at):
        raise ValidationFailed("occurred_at is in the future.",
                               fields={"occurred_at": ["Must not be more than 5 minutes in the future."]})


def find_order(source: str, order_id: str) -> Purchase | None:
    return db.session.execute(
        select(Purchase).where(Purchase.source == source, Purchase.order_id == order_id)
    ).scalar_one_or_none()


def record_purchase(member: Member, *, order_id: str, amount: int, currency: str,
                    occurred_at: datetime | None, source: str, actor: Actor) -> tuple[Purchase, bool]:
    """Record a purchase and earn its points; returns (purchase, created).

    The same order_id with the same content returns the first purchase (created False);
    with other content it is an OrderExists.
    """
    currency = currency.lower()
    if not is_code(currency):  # the API checks it too; Stripe and imports come here directly
        raise ValidationFailed(f"{currency} is not an ISO 4217 currency.",
                               fields={"currency": ["Must be a currency code that ISO 4217 lists."]})
    if occurred_at is not None:
        check_not_in_future(occurred_at)
    fingerprint = fingerprint_of(member.id, amount, currency, occurred_at)
    if member.status != "active":
        existing = find_order(source, order_id)
        if existing is None:
            raise MemberInactive(member_id=member.id)
        return _same_order(existing, fingerprint), False
    values = priced(member, order_id=order_id, amount=amount, currency=currency,
                     occurred_at=occurred_at or clock.now(), source=source, fingerprint=fingerprint)
    purchase = _record_and_credit(member, values, actor)
    if purchase is None:
        return _same_order(find_order(source, order_id), fingerprint), False
    tiers.after_purchase(member, purchase)
    return purchase, True


def priced(member: Member, *, order_id, amount, currency, occurred_at, source, fingerprint) -> dict:
    """The columns of a new purchase, its points worked out (Rules: Earning)."""
    program = settings.current().program
    return _columns(program, clock.now(), member.id, order_id=order_id, amount=amount, currency=currency,
                    occurred_at=occurred_at, source=source, fingerprint=fingerprint,
                    rate=earn_rate(program, currency), tier_multiplier=tiers.multiplier_at(member, occurred_at),
                    campaign_multiplier=campaigns.multiplier_for(member, occurred_at))


def _columns(program, now: datetime, member_id: str, *, order_id, amount, currency, occurred_at, source,
             fingerprint, rate, tier_multiplier, campaign_multiplier, purchase_id=None) -> dict:
    points = earning.earned_points(amount, currency, rate, tier_multiplier, campaign_multiplier)
    vests_at = occurred_at + timedelta(days=program.pending_days) if program.pending_days else None
    return dict(
        id=purchase_id or new_id("pur"), member_id=member_id, order_id=order_id, source=source, amount=amount,
        currency=currency, occurred_at=occurred_at, created_at=now, fingerprint=fingerprint,
        refunded_amount=0, disputed_amount=0, earn_rate=rate, tier_multiplier=tier_multiplier,
        campaign_multiplier=campaign_multiplier, points_earned=points,
        qualifying_points=earning.qualifying_points(amount, currency, rate),
        vests_at=vests_at, pending_points=points if vests_at is not None and vests_at > now else 0,
    )


class Pricing:
    """priced() for the many purchases of one transaction (an import), the settings read once:
    the caller knows the tier each purchase's member held at its moment (the ladder's, or None)."""

    def __init__(self):
        snapshot = settings.current()
        self.program, self.now, self.rates = snapshot.program, clock.now(), {}
        self.any_campaign = bool(snapshot.campaigns)
        self.ids: list[str] = []

    def priced(self, member, tier, *, order_id, amount, currency, occurred_at, source, fingerprint) -> dict:
        rate = self.rates.get(currency)
        if rate is None:
            rate = self.rates[currency] = earn_rate(self.program, currency)
        campaign_multiplier = campaigns.multiplier_for(member, occurred_at) if self.any_campaign else ONE
        if not self.ids:
            self.ids = new_ids("pur", 1000)[::-1]  # popped from the end: in the order made
        return _columns(self.program, self.now, member.id, order_id=order_id, amount=amount, currency=currency,
                        occurred_at=occurred_at, source=source, fingerprint=fingerprint, rate=rate,
                        tier_multiplier=tiers.multiplier_of(tier), campaign_multiplier=campaign_multiplier,
                        purchase_id=self.ids.pop())


ONE = Decimal(1)


def _same_order(existing: Purchase, fingerprint: str) -> Purchase:
    if existing.fingerprint != fingerprint:
        raise OrderExists(purchase_id=existing.id)
    return existing


ORDER_KEY = ("source", "order_id")


def _record_and_credit(member: Member, values: dict, actor: Actor) -> Purchase | None:
    """Record the purchase unless its order is recorded (None: it was, and nothing changed), and
    earn its points now or hold them pending until the return window has passed.

    One statement records the order and tells a repeat (or a concurrent twin) apart; on
    PostgreSQL the same statement also posts the points it earns now (ledger.NewRow).
    """
    moved = _member_moments(member, values["occurred_at"])
    if values["points_earned"] and not values["pending_points"]:
        posted = ledger.post_entry(member.id, "earn", values["points_earned"], actor, purchase_id=values["id"],
                                   earned_at=values["occurred_at"], member_changes=moved,
                                   along_with=ledger.NewRow(Purchase, values, ORDER_KEY))
        return None if posted is None else adopt(Purchase, values)
    purchase = add_unless_exists(Purchase, values, list(ORDER_KEY))
    if purchase is None:
        return None
    if purchase.pending_points:
        ledger.move_pending(member.id, purchase.pending_points)
    for field, value in moved.items():
        setattr(member, field, value)
    return purchase


def _member_moments(member: Member, occurred_at: datetime) -> dict:
    """The member columns a new purchase moves: the latest purchase, when the member may next be at
    risk (a new latest purchase starts a new quiet spell; an earlier one may shorten the gaps), and
    their at-risk summary marked stale (run-jobs works it out again: nothing more for an earn)."""
    soonest = at_risk.soonest_at_risk(occurred_at)
    if member.last_purchase_at is None or occurred_at > member.last_purchase_at:
        return {"last_purchase_at": occurred_at, "at_risk_at": soonest, "at_risk_stale": True}
    if member.at_risk_at is None or soonest < member.at_risk_at:
        return {"at_risk_at": soonest, "at_risk_stale": True}
    return {"at_risk_stale": True}


def _vests_later(vests_at: datetime | None) -> bool:
    return vests_at is not None and vests_at > clock.now()


def vest(purchase_id: str, now: datetime) -> int:
    """Make a purchase's pending points spendable once its return window is over; returns them."""
    purchase = db.session.get(Purchase, purchase_id, populate_existing=True)
    points = purchase.pending_points
    # Conditional, so two run-jobs at once vest it once.
    vested = db.session.execute(
        update(Purchase)
        .where(Purchase.id == purchase_id, Purchase.pending_points == points, Purchase.vests_at <= now)
        .values(pending_points=0).execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(purchase, ["pending_points"])
    if not vested or not points:
        return 0
    ledger.move_pending(purchase.member_id, -points)
    ledger.post_entry(purchase.member_id, "earn", points, SYSTEM, purchase_id=purchase.id,
                      earned_at=purchase.occurred_at, note="Pending points vested")
    return points


def due_to_vest_query(now: datetime):
    return select(Purchase.id).where(Purchase.pending_points > 0, Purchase.vests_at <= now)


def get_purchase(purchase_id: str) -> Purchase:
    purchase = db.session.get(Purchase, purchase_id)
    if purchase is None:
        raise NotFound(f"No purchase {purchase_id}.")
    return purchase


def refund_purchase(purchase_id: str, amount: int, actor: Actor, *,
                    reference: str | None = None) -> tuple[Purchase, bool]:
    """Refund part of a purchase and reverse the points its net amount no longer earns.

    Returns (purchase, refunded): a `reference` (the shop's refund id) seen before on this
    purchase refunds nothing more, so a till that retries cannot refund twice.
    """
    purchase = get_purchase(purchase_id)
    if purchase.source == "stripe":
        # Stripe is the truth for its payments: its events set the refunded amount.
        raise RefundInStripe(purchase_id=purchase_id)
    refund = {"id": new_id("ref"), "purchase_id": purchase_id, "amount": amount, "created_at": clock.now(),
              "actor_type": actor.type, "actor_id": actor.id, "reference": reference,
              "status": "succeeded"}
    # The unique (purchase_id, reference) index tells a retry apart, concurrent twins included
    # (on PostgreSQL the second insert waits for the first to commit, then does nothing).
    if not insert_unless_exists(Refund, refund, ["purchase_id", "reference"]):
        return db.session.get(Purchase, purchase_id, populate_existing=True), False
    # One conditional UPDATE: concurrent refunds of one purchase can never exceed it.
    result = db.session.execute(
        update(Purchase)
        .where(Purchase.id == purchase_id,
               Purchase.refunded_amount + amount <= Purchase.amount)
        .values(refunded_amount=Purchase.refunded_amount + amount)
        .execution_options(synchronize_session=False)
    )
    purchase = db.session.get(Purchase, purchase_id, populate_existing=True)
    if result.rowcount != 1:
        raise RefundExceedsPurchase(purchase_id=purchase_id,
                                    refundable=purchase.amount - purchase.refunded_amount)
    settle_points(purchase, actor, reason="refund")
    return purchase, True


def settle_points(purchase: Purchase, actor: Actor, *, reason: str) -> None:
    """Make the purchase have given exactly what its net amount earns (Rules: Refunds).

    The difference is one `reversal` entry: negative when money went back to the buyer,
    positive when it came back (a refund that failed, a dispute won).
    """
    # The member is locked before its balance moves: taking FOR UPDATE after our own balance
    # UPDATE would upgrade the row lock, which deadlocks with a concurrent posting queued on it.
    member = ledger.lock_member(purchase.member_id)
    # Whether it still qualifies may change the gaps between purchases: look again at the next run,
    # and work the at-risk summary out again.
    now = clock.now()
    if member.at_risk_at is None or member.at_risk_at > now:
        member.at_risk_at = now
    member.at_risk_stale = True
    net = purchase.net_amount
    target = earning.earned_points(net, purchase.currency, purchase.earn_rate,
                                   purchase.tier_multiplier, purchase.campaign_multiplier)
    purchase.qualifying_points = earning.qualifying_points(net, purchase.currency, purchase.earn_rate)
    delta = target - purchase.points_earned
    purchase.points_earned = target
    delta = _settle_pending(purchase, delta)
    if delta:
        ledger.post_entry(purchase.member_id, "reversal", delta, actor, purchase_id=purchase.id,
                          earned_at=purchase.occurred_at, note=f"{reason}: net amount now {net}")
    db.session.flush()
    tiers.after_refund(member)


def _settle_pending(purchase: Purchase, delta: int) -> int:
    """Take a reversal from points still pending first (or, inside the window, give back to them);
    returns what is left to post to the ledger."""
    if delta < 0 and purchase.pending_points:
        cancelled = min(purchase.pending_points, -delta)
        purchase.pending_points -= cancelled
        ledger.move_pending(purchase.member_id, -cancelled)
        return delta + cancelled
    if delta > 0 and _vests_later(purchase.vests_at):
        purchase.pending_points += delta
        ledger.move_pending(purchase.member_id, delta)
        return 0
    return delta


def set_returned_amounts(purchase: Purchase, *, actor: Actor, reason: str,
                         refunded_amount: int | None = None, disputed_amount: int | None = None) -> int:
    """Make a purchase follow what its payment provider says went back; returns the points moved.

    Only the amounts given are set (an event changes only what it reports). They are set, not
    added: the provider's newest state is the truth, and a refund that failed or a dispute that
    was won lowers them again.
    """
    new = {"refunded_amount": refunded_amount, "disputed_amount": disputed_amount}
    new = {name: min(max(value, 0), purchase.amount) for name, value in new.items() if value is not None}
    if all(getattr(purchase, name) == value for name, value in new.items()):
        return 0
    before = purchase.points_earned
    for name, value in new.items():
        setattr(purchase, name, value)
    settle_points(purchase, actor, reason=reason)
    return purchase.points_earned - before
