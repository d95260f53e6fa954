"""The `Loyalty-Signature` header: Stripe's scheme, so `stripe.WebhookSignature.verify_header`
verifies it. `t` is the Unix time of sending; each `v1` is the hex HMAC-SHA256 of "<t>.<body>"
under one of the endpoint's secrets (two while a rotated-out secret is still valid)."""
import hashlib
import hmac

HEADER = "Loyalty-Signature"


def signature(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secrets: list[str], timestamp: int) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={signature(body, secret, timestamp)}" for secret in secrets)])
