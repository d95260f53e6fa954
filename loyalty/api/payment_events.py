"""/v1/payment-events: what arrived from Stripe and what it did (admin)."""
from flask_smorest import Blueprint

blp = Blueprint("payment_events", __name__, url_prefix="/v1/payment-events", description="Stripe payment events (admin)")
