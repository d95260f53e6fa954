"""/v1/staff: staff accounts (admin) and staff sessions (login, logout)."""
from datetime import timedelta

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from loyalty import auth, errors, staff
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import StrictBoolean, Timestamp
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import STAFF, current_actor, no_credential, requires
from loyalty.api.transaction import commits
from loyalty.extensions import db, login_attempts
from loyalty.models import Staff

blp = Blueprint("staff", __name__, url_prefix="/v1/staff", description="Staff accounts and sessions")

ROLE = ma.validate.OneOf(["cashier", "manager"])
PASSWORD = ma.validate.Length(10, 200)


class StaffSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=320))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    role = ma.fields.String(required=True, validate=ROLE)
    password = ma.fields.String(required=True, load_only=True, validate=PASSWORD)
    active = StrictBoolean(dump_only=True)


class StaffPatchSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(1, 200))
    role = ma.fields.String(validate=ROLE)
    active = StrictBoolean()
    password = ma.fields.String(load_only=True, validate=PASSWORD)


class LoginSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(1, 320))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(1, 200))


class TokenSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expires_at = Timestamp(required=True)


@blp.route("")
class StaffAccounts(MethodView):
    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.StaffExists, errors.ValidationFailed)
    @blp.arguments(StaffSchema)
    @blp.response(201, StaffSchema)
    def post(self, data):
        """Create a cashier or manager account (admin)."""
        return staff.create_staff(**data)

    @requires()
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(StaffSchema))
    def get(self, args):
        """Every staff account (admin)."""
        return paginate(db.select(Staff), [Staff.id], args["limit"], args.get("cursor"))


@blp.route("/<staff_id>")
class StaffAccount(MethodView):
    @requires()
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(StaffPatchSchema)
    @blp.response(200, StaffSchema)
    def patch(self, changes, staff_id):
        """Change a role, rename, reset a password or deactivate (which ends every session)."""
        return staff.update_staff(staff_id, changes)


@blp.route("/sessions")
class StaffSessions(MethodView):
    @login_attempts
    @documents_errors(blp, errors.InvalidCredentials, errors.RateLimited, errors.ValidationFailed)
    @blp.arguments(LoginSchema)
    @blp.response(201, TokenSchema)
    @blp.doc(security=[])
    @no_credential("this is how a staff member gets one")
    def post(self, data):
        """Log in with email and password: a staff token valid for at most 12 hours."""
        lifetime = timedelta(hours=current_app.config["STAFF_TOKEN_HOURS"])
        login = staff.log_in(data["email"], data["password"], lifetime)
        db.session.commit()  # a failure too: it counts towards the lockout
        if login.refusal is not None:
            raise login.refusal
        return {"token": login.plain, "expires_at": login.token.expires_at}


@blp.route("/sessions/current")
class CurrentStaffSession(MethodView):
    @requires(*STAFF)
    @commits
    @documents_errors(blp, *AUTH_ERRORS)
    @blp.response(204)
    def delete(self):
        """Log out: the token stops working at once."""
        actor = current_actor()
        if actor.token_id is None:
            raise errors.Forbidden("Only a staff session (manager or cashier) can be ended here.")
        auth.revoke_token(actor.token_id)
