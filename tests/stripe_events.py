"""Real Stripe-written payloads (tests/fixtures/stripe, provenance in its SOURCES.md) with our own
ids, amounts and metadata."""
import copy
import itertools
import json
import time
from pathlib import Path

import stripe

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe"
SECRET = "whsec_test_secret"
T0 = 1_780_000_000  # a fixed Stripe `created`, so event order is ours to choose
_counter = itertools.count(1)


def fixture(name: str) -> dict:
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


def unique(prefix: str) -> str:
    return f"{prefix}_test{next(_counter):06d}{int(time.time() * 1000) % 10**9}"


def payment_intent(pi_id, amount, currency="usd", *, customer=None, email=None, metadata=None,
                   latest_charge=None, created=T0):
    obj = fixture("openapi_payment_intent")
    obj.update(id=pi_id, amount=amount, amount_received=amount, currency=currency, status="succeeded",
               customer=customer, receipt_email=email, metadata=metadata or {},
               latest_charge=latest_charge, created=created)
    return obj


def charge(ch_id, amount, currency="usd", *, payment_intent=None, customer=None, email=None,
           metadata=None, amount_refunded=0, created=T0):
    """A charge in the current API shape (zulip's real test-mode charge.succeeded)."""
    obj = fixture("zulip_event_charge_succeeded_with_pi")["data"]["object"]
    obj.update(id=ch_id, amount=amount, amount_captured=amount, amount_refunded=amount_refunded,
               currency=currency, payment_intent=payment_intent, customer=customer, receipt_email=None,
               metadata=metadata or {}, refunded=amount_refunded == amount, created=created)
    obj["billing_details"]["email"] = email
    return obj


def refund(re_id, amount, *, charge_id, payment_intent=None, status="succeeded", created=T0):
    obj = fixture("openapi_refund")
    obj.update(id=re_id, amount=amount, charge=charge_id, payment_intent=payment_intent, status=status,
               created=created)
    return obj


def dispute(dp_id, amount, *, charge_id, payment_intent=None, status="needs_response", created=T0):
    obj = fixture("openapi_dispute")
    obj.update(id=dp_id, amount=amount, charge=charge_id, payment_intent=payment_intent, status=status,
               created=created)
    return obj


def checkout_session(cs_id, amount, currency="usd", *, payment_intent=None, payment_status="paid",
                     client_reference_id=None, customer=None, email=None, metadata=None):
    obj = fixture("openapi_checkout_session")
    obj.update(id=cs_id, amount_total=amount, currency=currency, payment_intent=payment_intent,
               payment_status=payment_status, status="complete", client_reference_id=client_reference_id,
               customer=customer, customer_email=None, metadata=metadata or {})
    obj["customer_details"]["email"] = email
    return obj


def event(event_type, obj, *, created=T0, event_id=None):
    """The Event envelope Stripe wraps every webhook in (its own fixture's shape)."""
    envelope = fixture("openapi_event_plan_created")
    envelope.update(id=event_id or unique("evt"), type=event_type, created=created,
                    data={"object": obj})
    return envelope


def signed(event_or_payload, secret=SECRET, timestamp=None) -> tuple[str, dict]:
    payload = event_or_payload if isinstance(event_or_payload, str) else json.dumps(event_or_payload)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


def deliver(client, event_or_payload, secret=SECRET, timestamp=None):
    payload, headers = signed(event_or_payload, secret, timestamp)
    return client.post("/webhooks/stripe", data=payload, headers=headers)
