"""/healthz: is the service up and can it reach its database?"""
import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import text

from loyalty.api.common import Blueprint, documents_errors
from loyalty.api.security import no_credential
from loyalty.errors import ServiceUnavailable
from loyalty.extensions import db

blp = Blueprint("health", __name__, description="Operations")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)


@blp.route("/healthz")
class Health(MethodView):
    @documents_errors(blp, ServiceUnavailable)
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    @no_credential("for load balancers and monitoring")
    def get(self):
        """200 when the database answers, 503 when it does not."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as error:
            db.session.rollback()
            raise ServiceUnavailable("The database is unreachable.") from error
        return {"status": "ok"}
