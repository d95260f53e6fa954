"""The only module that imports the stripe library: webhook signatures and listing events."""
from collections.abc import Iterator
from datetime import datetime

import stripe

from loyalty import strict_json
from loyalty.errors import InvalidSignature, UnreadableEvent, ValidationFailed


def verified_event(payload: bytes, signature_header: str | None, secrets: list[str],
                   tolerance: int) -> dict:
    """The event in `payload` once its Stripe-Signature matches one of `secrets`.

    Several secrets are tried so that an endpoint secret can be rotated without a gap; with
    none configured every request is refused (fail closed).
    """
    if not secrets or not signature_header or not _signed_by_any(payload, signature_header, secrets, tolerance):
        raise InvalidSignature()
    try:
        event = strict_json.loads(payload)
    except strict_json.MalformedJson as error:
        # 400, not 5xx: Stripe would retry a 5xx for days, and this body never parses.
        raise UnreadableEvent(f"The signed body cannot be read: {error}") from None
    if not (isinstance(event, dict) and event.get("object") == "event"
            and isinstance(event.get("id"), str) and isinstance(event.get("type"), str)):
        raise ValidationFailed("The signed body is not a Stripe event.")
    return event


def _signed_by_any(payload: bytes, header: str, secrets: list[str], tolerance: int) -> bool:
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
            return True
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            continue
    return False


class StripeApiError(Exception):
    """Stripe's API refused or could not be reached (a wrong key, the network)."""


def list_events(*, api_key: str, since: datetime, types: list[str], api_base: str | None = None,
                api_version: str | None = None) -> Iterator[dict]:
    """Every event of `types` Stripe created at or after `since`, as plain dicts (newest first)."""
    client = stripe.StripeClient(api_key, stripe_version=api_version,
                                 base_addresses={"api": api_base} if api_base else None)
    try:
        page = client.v1.events.list({"created": {"gte": int(since.timestamp())}, "types": types, "limit": 100})
        for event in page.auto_paging_iter():
            yield event.to_dict()
    except stripe.StripeError as error:
        raise StripeApiError(error.user_message or str(error)) from error
