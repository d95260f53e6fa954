"""/webhooks/stripe: verified Stripe events, each applied exactly once."""
from flask_smorest import Blueprint

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Stripe webhooks")
