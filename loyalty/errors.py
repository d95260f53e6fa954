"""Domain errors. Each carries its HTTP status and machine code (API.md, Conventions)."""


class LoyaltyError(Exception):
    status = 400
    code = "bad_request"
    message = "The request could not be processed."
    headers: dict[str, str] = {}

    def __init__(self, message: str | None = None, **details):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details


class ValidationFailed(LoyaltyError):
    status, code, message = 422, "validation_error", "The request is not valid."


class NotFound(LoyaltyError):
    status, code, message = 404, "not_found", "No such resource."


class Unauthenticated(LoyaltyError):
    status, code, message = 401, "unauthenticated", "A valid credential is required."
    headers = {"WWW-Authenticate": "Bearer"}  # RFC 6750: how to authenticate


class Forbidden(LoyaltyError):
    status, code, message = 403, "forbidden", "This credential may not do that."


class InvalidCredentials(LoyaltyError):
    status, code, message = 401, "invalid_credentials", "Wrong email or password."


class RateLimited(LoyaltyError):
    status, code, message = 429, "rate_limited", "Too many attempts; try again later."


class Conflict(LoyaltyError):
    status, code = 409, "conflict"


class MemberExists(Conflict):
    code, message = "member_exists", "A member with this external_id is already enrolled."


class OrderExists(Conflict):
    code, message = "order_exists", "This order_id was already recorded with other content."


class IdempotencyKeyReused(Conflict):
    code, message = "idempotency_key_reused", "This Idempotency-Key was used with another request."


class CurrencyNotEnabled(LoyaltyError):
    status, code, message = 422, "currency_not_enabled", "The program has no earn rate for this currency."


class RefundExceedsPurchase(LoyaltyError):
    status, code, message = 422, "refund_exceeds_purchase", "The refund is more than what is left of the purchase."


class RefundInStripe(Conflict):
    code, message = ("refund_in_stripe",
                     "This purchase was paid through Stripe: refund it in Stripe, and its events bring the refund.")


class MemberInactive(Conflict):
    code, message = "member_inactive", "The member is not active."


class InsufficientPoints(Conflict):
    code, message = "insufficient_points", "The member does not have enough points."


class TierRequired(Conflict):
    code, message = "tier_required", "The member's tier is too low for this reward."


class OutOfStock(Conflict):
    code, message = "out_of_stock", "The reward is out of stock."


class LimitReached(Conflict):
    code, message = "limit_reached", "The member has redeemed this reward as often as allowed."


class RewardInactive(Conflict):
    code, message = "reward_inactive", "The reward is not active."


class AlreadyUsed(Conflict):
    code, message = "already_used", "The redemption was already used."


class Voided(Conflict):
    code, message = "voided", "The redemption was voided."


class Expired(Conflict):
    code, message = "expired", "The redemption has expired."


class InvalidSignature(LoyaltyError):
    status, code, message = 400, "invalid_signature", "The Stripe signature is missing or invalid."


class UnreadableEvent(LoyaltyError):
    status, code, message = 400, "bad_request", "The signed body cannot be read as JSON."


class ServiceUnavailable(LoyaltyError):
    status, code, message = 503, "service_unavailable", "The service is temporarily unavailable."


class TierExists(Conflict):
    code, message = "tier_exists", "Another tier already has this key."


class ThresholdTaken(Conflict):
    code, message = "threshold_taken", "Another tier already starts at this number of qualifying points."


class StaffExists(Conflict):
    code, message = "staff_exists", "A staff member with this email already exists."


class FeedbackExists(Conflict):
    code, message = "feedback_exists", "This purchase already has an answer of this kind."


class CaseResolved(Conflict):
    code, message = "case_resolved", "The case is already resolved."


class CaseOpen(Conflict):
    code, message = "case_open", "The case is open: only a resolved case can be reopened."
