"""/v1/reports: retention and points reports (admin)."""
from flask_smorest import Blueprint

blp = Blueprint("reports", __name__, url_prefix="/v1/reports", description="Reports (admin)")
