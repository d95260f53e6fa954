"""The newest state Stripe stated for each payment, and the amounts a purchase follows from it.

Every fact is kept with the `created` of the event that stated it, and only a newer statement
replaces it, so merging the same event twice, or an old one late, changes nothing.
"""
from sqlalchemy import bindparam, select

from loyalty import clock
from loyalty.extensions import add_unless_exists, db, insert_unless_exists
from loyalty.models import StripeCharge, StripePayment
from loyalty.payments.shapes import ChargeRef

# Dispute statuses that hold the money back from the merchant: its points stay reversed.
# Inquiries (warning_*) move nothing; `won` gives the points back.
HOLDING_DISPUTE_STATUSES = frozenset({"needs_response", "under_review", "lost"})
FINAL_DISPUTE_STATUSES = frozenset({"won", "lost", "warning_closed", "prevented"})


LOCK_PAYMENT = (select(StripePayment).where(StripePayment.payment_key == bindparam("payment_key"))
                .with_for_update().execution_options(populate_existing=True))


def lock(payment_key: str) -> StripePayment:
    """The payment's row, created when new and locked until commit.

    Events of one payment then apply one at a time, however many workers receive them. A row
    this transaction inserts is its own until commit (a concurrent insert of the key waits on the
    unique index), so only one that was there already needs SELECT ... FOR UPDATE.
    """
    new = add_unless_exists(StripePayment, {
        "payment_key": payment_key, "purchase_id": None, "amount_refunded": 0, "refunds_as_of": None,
        "failed_refunds": {}, "disputes": {}, "updated_at": clock.now()}, ["payment_key"])
    if new is not None:
        return new
    return db.session.execute(LOCK_PAYMENT, {"payment_key": payment_key}).scalar_one()


def remember_charges(payment_key: str, charge_ids) -> None:
    """Note which payment each charge belongs to (for refunds and disputes naming only a charge)."""
    for charge_id in charge_ids:
        if charge_id != payment_key:
            insert_unless_exists(StripeCharge, {"charge_id": charge_id, "payment_key": payment_key},
                                 ["charge_id"])


def payment_key_of(ref: ChargeRef) -> str | None:
    """The key of the payment a refund or dispute belongs to."""
    if ref.payment_intent:
        return ref.payment_intent
    if not ref.charge_id:
        return None
    known = db.session.get(StripeCharge, ref.charge_id)
    return known.payment_key if known else ref.charge_id


def note_refund_total(payment: StripePayment, amount_refunded: int, as_of: int) -> bool:
    """The charge's cumulative amount_refunded, kept only when newer than what we hold; True if kept."""
    held = (payment.refunds_as_of, payment.amount_refunded)
    if payment.refunds_as_of is None or (as_of, amount_refunded) > held:
        payment.amount_refunded, payment.refunds_as_of = amount_refunded, as_of
        return True
    return False


def note_failed_refund(payment: StripePayment, refund_id: str, amount: int, created: int, failed_at: int) -> bool:
    """A refund that failed or was cancelled, once per refund id (earliest report of it wins); True if kept."""
    known = payment.failed_refunds.get(refund_id)
    if known is not None and known["failed_at"] <= failed_at:
        return False
    payment.failed_refunds = {**payment.failed_refunds,
                              refund_id: {"amount": amount, "created": created, "failed_at": failed_at}}
    return True


def note_dispute(payment: StripePayment, dispute_id: str, amount: int, status: str, as_of: int) -> bool:
    """A dispute's status, kept only when newer (a closing status beats an open one of the same second);
    True if kept."""
    known = payment.disputes.get(dispute_id)
    if known is not None and _dispute_order(known["as_of"], known["status"]) >= _dispute_order(as_of, status):
        return False
    payment.disputes = {**payment.disputes, dispute_id: {"amount": amount, "status": status, "as_of": as_of}}
    return True


def _dispute_order(as_of: int, status: str) -> tuple[int, int, str]:
    return as_of, status in FINAL_DISPUTE_STATUSES, status


def refunded_amount(payment: StripePayment) -> int:
    """What went back to the buyer: the newest amount_refunded less the refunds that failed since.

    Stripe takes a failed refund out of the charge's amount_refunded, so a charge state from
    after the failure already leaves it out; only states between the refund and its failure
    still count it, and for those it is taken out here.
    """
    if payment.refunds_as_of is None:
        return 0
    as_of = payment.refunds_as_of
    failed = sum(refund["amount"] for refund in payment.failed_refunds.values()
                 if refund["created"] <= as_of < refund["failed_at"])
    return max(payment.amount_refunded - failed, 0)


def disputed_amount(payment: StripePayment) -> int:
    """What open or lost disputes hold back."""
    return sum(dispute["amount"] for dispute in payment.disputes.values()
               if dispute["status"] in HOLDING_DISPUTE_STATUSES)
