"""Every table. Models import nothing from loyalty beyond extensions, ids and each other."""
from loyalty.extensions import db
from loyalty.models.auth import ApiKey, AuthToken, LoginFailure, Staff
from loyalty.models.campaigns import Campaign
from loyalty.models.idempotency import IdempotencyKey
from loyalty.models.members import LedgerEntry, Member, Purchase, Refund
from loyalty.models.payments import PaymentEvent, StripeCharge, StripePayment
from loyalty.models.program import Program
from loyalty.models.rewards import Redemption, Reward
from loyalty.models.service import Case, CaseEvent, CaseReply, Feedback, Note
from loyalty.models.tiers import Tier, TierChange
from loyalty.models.triggers import install_settings_revision, install_webhook_fan_out
from loyalty.models.webhooks import (MemberNotice, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent,
                                     WebhookSubscription)

install_settings_revision(db.metadata)
install_webhook_fan_out(db.metadata)

__all__ = [
    "ApiKey", "AuthToken", "Campaign", "Case", "CaseEvent", "CaseReply", "Feedback", "IdempotencyKey",
    "LedgerEntry", "LoginFailure", "Member", "Note", "PaymentEvent", "Program", "Purchase", "Redemption", "Refund", "Reward", "Staff", "Tier",
    "TierChange",
    "MemberNotice", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent", "WebhookSubscription",
]
