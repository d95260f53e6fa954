"""What a Stripe object says, read from old and current API shapes alike.

Stripe renders each event in the API version of its time: a payment intent may embed a
`charges` list (before 2022-11-15) or name only `latest_charge`; a charge may have no payment
intent; any reference may be an id or an expanded object. Nothing here touches the database.
"""
from dataclasses import dataclass

from loyalty.emails import normalise_email

MEMBER_ID_KEY = "loyalty_member_id"
EXTERNAL_ID_KEY = "loyalty_external_id"


@dataclass(frozen=True)
class Buyer:
    """Everything a payment says about who paid, in the order members are matched."""

    member_id: str | None = None
    external_id: str | None = None
    client_reference_id: str | None = None
    customer_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Payment:
    """A succeeded payment: `key` names its purchase whichever event told us first."""

    key: str
    amount: int
    currency: str
    charge_ids: tuple[str, ...]
    buyer: Buyer


@dataclass(frozen=True)
class ChargeRef:
    """How a refund or dispute names its payment: a payment intent, a charge, or both."""

    payment_intent: str | None
    charge_id: str | None


def ref_id(value) -> str | None:
    """The id of a reference that may be a plain id or an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _email(value) -> str | None:
    value = _text(value)
    return normalise_email(value) if value and "@" in value else None


def _first(*values):
    return next((value for value in values if value), None)


def _embedded_charges(payment_intent: dict) -> list[dict]:
    """Charges a payment intent carries: the old `charges` list and an expanded latest_charge."""
    charges = payment_intent.get("charges")
    found = list(charges.get("data") or []) if isinstance(charges, dict) else []
    if isinstance(payment_intent.get("latest_charge"), dict):
        found.append(payment_intent["latest_charge"])
    return [charge for charge in found if isinstance(charge, dict)]


def _charge_email(charge: dict) -> str | None:
    billing = charge.get("billing_details") or {}
    return _first(_email(billing.get("email")), _email(charge.get("receipt_email")))


def _buyer(objects: list[dict], *, client_reference_id=None, emails=()) -> Buyer:
    metadata = [obj.get("metadata") or {} for obj in objects]
    return Buyer(
        member_id=_first(*(_text(m.get(MEMBER_ID_KEY)) for m in metadata)),
        external_id=_first(*(_text(m.get(EXTERNAL_ID_KEY)) for m in metadata)),
        client_reference_id=_text(client_reference_id),
        customer_id=_first(*(ref_id(obj.get("customer")) for obj in objects)),
        email=_first(*emails),
    )


def payment_from_payment_intent(intent: dict) -> Payment | None:
    if intent.get("status") not in (None, "succeeded"):
        return None
    charges = _embedded_charges(intent)
    charge_ids = [ref_id(intent.get("latest_charge")), *(ref_id(charge) for charge in charges)]
    emails = [_email(intent.get("receipt_email")), *(_charge_email(charge) for charge in charges)]
    return _payment(intent["id"], intent.get("amount_received"), intent.get("currency"), charge_ids,
                    _buyer([intent, *charges], emails=emails))


def payment_from_charge(charge: dict) -> Payment | None:
    if charge.get("paid") is False or charge.get("status") == "failed" or charge.get("captured") is False:
        return None  # an authorisation only: the money arrives with charge.captured
    amount = charge.get("amount_captured")
    if amount is None:  # API versions before amount_captured existed
        amount = charge.get("amount")
    key = ref_id(charge.get("payment_intent")) or charge["id"]
    return _payment(key, amount, charge.get("currency"), [charge["id"]],
                    _buyer([charge], emails=[_charge_email(charge)]))


def payment_from_checkout_session(session: dict) -> Payment | None:
    key = ref_id(session.get("payment_intent"))
    if session.get("payment_status") != "paid" or key is None:
        return None  # unpaid yet, or a subscription: its money arrives as a payment intent
    details = session.get("customer_details") or {}
    buyer = _buyer([session], client_reference_id=session.get("client_reference_id"),
                   emails=[_email(details.get("email")), _email(session.get("customer_email"))])
    return _payment(key, session.get("amount_total"), session.get("currency"), [], buyer)


def _payment(key, amount, currency, charge_ids, buyer) -> Payment | None:
    if not isinstance(amount, int) or amount <= 0 or not isinstance(currency, str):
        return None
    return Payment(key=key, amount=amount, currency=currency.lower(),
                   charge_ids=tuple(dict.fromkeys(c for c in charge_ids if c)), buyer=buyer)


def charge_ref(obj: dict, *, is_charge: bool = False) -> ChargeRef:
    """How a charge, refund or dispute names its payment."""
    charge_id = obj.get("id") if is_charge else ref_id(obj.get("charge"))
    return ChargeRef(payment_intent=ref_id(obj.get("payment_intent")), charge_id=charge_id)


def refund_failed(refund: dict) -> bool:
    return refund.get("status") in ("failed", "canceled")
