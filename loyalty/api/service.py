"""The service desk (API.md, Service): feedback, cases and their replies, notes, for staff, storefronts
and customers (/v1/me/...). Overview and timeline are in api/member_story.py."""
import marshmallow as ma
from flask.views import MethodView

from loyalty import errors, members
from loyalty.api.common import AUTH_ERRORS, Blueprint, Computed, documents_errors
from loyalty.api.fields import StrictBoolean, StrictInteger, Timestamp
from loyalty.api.me import my_member_id
from loyalty.api.pagination import PageArgsSchema, page_schema, paginate
from loyalty.api.security import STAFF, STOREFRONT, current_actor, requires
from loyalty.api.transaction import commits
from loyalty.models import Case, CaseReply, Feedback, Note
from loyalty.models.service import CASE_CATEGORIES, CASE_STATUSES, CHANNELS, FEEDBACK_KINDS
from loyalty.service import cases, feedback, notes

blp = Blueprint("service", __name__, url_prefix="/v1", description="Service desk: feedback, cases, notes")

SCORE_RANGES = {"csat": (1, 5), "nps": (0, 10)}
CHANNEL = ma.fields.String(validate=ma.validate.OneOf(CHANNELS), metadata={
    "description": "Where it came from; default `store` with a staff token, otherwise `online`"})


def history_field(what: str):
    return Timestamp(metadata={"description": f"{what}, to import history: admin and storefront keys only, "
                                              "never in the future (default: now)"})


class FeedbackInSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(FEEDBACK_KINDS), metadata={
        "description": "`csat` (satisfaction, score 1–5) or `nps` (would recommend, score 0–10)"})
    score = StrictInteger(required=True, validate=ma.validate.Range(0, 10),
                          metadata={"description": "1-5 for csat, 0-10 for nps"})
    purchase_id = ma.fields.String(validate=ma.validate.Length(1, 40),
                                   metadata={"description": "One of the member's purchases; one answer per kind"})
    channel = CHANNEL
    comment = ma.fields.String(validate=ma.validate.Length(max=2000))
    created_at = history_field("When the answer was given")

    @ma.validates_schema
    def score_fits_kind(self, data, **kwargs):
        if "kind" in data and "score" in data:
            low, high = SCORE_RANGES[data["kind"]]
            if not low <= data["score"] <= high:
                raise ma.ValidationError(f"A {data['kind']} score is {low} to {high}.", "score")


class FeedbackSchema(ma.Schema):
    id = ma.fields.String(required=True)
    member_id = ma.fields.String(required=True)
    purchase_id = ma.fields.String(allow_none=True, required=True)
    kind = ma.fields.String(required=True)
    score = ma.fields.Integer(required=True)
    band = ma.fields.String(required=True, metadata={
        "description": "csat: unhappy 1-2, neutral 3, happy 4-5; nps: detractor 0-6, passive 7-8, promoter 9-10"})
    channel = ma.fields.String(required=True)
    comment = ma.fields.String(allow_none=True, required=True)
    created_at = Timestamp(required=True)


class CaseInSchema(ma.Schema):
    subject = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    description = ma.fields.String(validate=ma.validate.Length(max=5000))
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(CASE_CATEGORIES))
    purchase_id = ma.fields.String(validate=ma.validate.Length(1, 40))
    channel = CHANNEL
    opened_at = history_field("When the case was opened")


class CaseSchema(ma.Schema):
    id = ma.fields.String(required=True)
    member_id = ma.fields.String(required=True)
    purchase_id = ma.fields.String(allow_none=True, required=True)
    subject = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True, required=True)
    category = ma.fields.String(required=True)
    channel = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    opened_at = Timestamp(required=True)
    first_response_at = Timestamp(allow_none=True, required=True,
                                  metadata={"description": "The earliest reply that is not the customer's"})
    resolved_at = Timestamp(allow_none=True, required=True)
    reopened_count = ma.fields.Integer(required=True)
    resolution = ma.fields.String(allow_none=True, required=True)
    goodwill_points = ma.fields.Integer(required=True)
    assignee_id = ma.fields.String(allow_none=True, required=True)


class CaseQueryArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(CASE_STATUSES),
                              metadata={"description": "Only the cases in this state"})
    member_id = ma.fields.String()
    assignee_id = ma.fields.String()


class CasePatchSchema(ma.Schema):
    assignee_id = ma.fields.String(required=True, allow_none=True,
                                   metadata={"description": "An active staff member's id, or null"})


class ReplyInSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(1, 5000))
    created_at = history_field("When the reply was written (not before the case's opened_at)")


class AuthorSchema(ma.Schema):
    type = ma.fields.String(required=True, metadata={"description": "staff, api_key or customer"})
    id = ma.fields.String(allow_none=True, required=True)
    name = ma.fields.String(allow_none=True, required=True)


def author_of(row) -> dict:
    return {"type": row.author_type, "id": row.author_id, "name": row.author_name}


class ReplySchema(ma.Schema):
    id = ma.fields.String(required=True)
    case_id = ma.fields.String(required=True)
    text = ma.fields.String(required=True)
    author = Computed(AuthorSchema, author_of)
    created_at = Timestamp(required=True)


class ResolveInSchema(ma.Schema):
    resolution = ma.fields.String(required=True, validate=ma.validate.Length(1, 2000))
    goodwill_points = StrictInteger(load_default=0, validate=ma.validate.Range(0, 10**12), metadata={
        "description": "Points given to the member (admin, manager), at most the program's goodwill_limit"})
    resolved_at = history_field("When the case was resolved (not before its opened_at)")


class NoteInSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(1, 2000))
    pinned = StrictBoolean(load_default=False, metadata={"description": "Pinned notes show on the overview"})


class NotePatchSchema(ma.Schema):
    text = ma.fields.String(validate=ma.validate.Length(1, 2000))
    pinned = StrictBoolean(metadata={"description": "Pinned notes show on the overview"})


class NoteSchema(ma.Schema):
    id = ma.fields.String(required=True)
    member_id = ma.fields.String(required=True)
    text = ma.fields.String(required=True)
    pinned = ma.fields.Boolean(required=True)
    author = Computed(AuthorSchema, author_of)
    created_at = Timestamp(required=True)


READERS = (*STOREFRONT, *STAFF)
NEWEST_FEEDBACK = [Feedback.created_at, Feedback.id]
NEWEST_CASES = [Case.opened_at, Case.id]
NEWEST_NOTES = [Note.created_at, Note.id]
OLDEST_REPLIES = [CaseReply.created_at, CaseReply.id]


def _page(query, keys, args, ascending=False):
    return paginate(query, keys, args["limit"], args.get("cursor"), ascending=ascending)


def _existing_member(member_id: str) -> str:
    members.get_member(member_id)
    return member_id


# -- feedback ---------------------------------------------------------------------------------

WRITE_ERRORS = (*AUTH_ERRORS, errors.NotFound, errors.ValidationFailed, errors.MemberInactive)


@blp.route("/members/<member_id>/feedback")
class MemberFeedback(MethodView):
    @requires(*READERS)
    @commits
    @documents_errors(blp, *WRITE_ERRORS, errors.FeedbackExists)
    @blp.arguments(FeedbackInSchema)
    @blp.response(201, FeedbackSchema)
    def post(self, data, member_id):
        """Record a CSAT or NPS answer of the member (admin, storefront, manager, cashier)."""
        return feedback.record_feedback(member_id, data.pop("kind"), data.pop("score"), current_actor(), **data)

    @requires(*READERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(FeedbackSchema))
    def get(self, args, member_id):
        """The member's feedback, newest first (admin, storefront, manager, cashier)."""
        return _page(feedback.member_feedback_query(_existing_member(member_id)), NEWEST_FEEDBACK, args)


@blp.route("/me/feedback")
class MyFeedback(MethodView):
    @requires("customer")
    @commits
    @documents_errors(blp, *WRITE_ERRORS, errors.FeedbackExists)
    @blp.arguments(FeedbackInSchema)
    @blp.response(201, FeedbackSchema)
    def post(self, data):
        """Give feedback on the shop or one of your purchases (customer)."""
        return feedback.record_feedback(my_member_id(), data.pop("kind"), data.pop("score"), current_actor(), **data)

    @requires("customer")
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(FeedbackSchema))
    def get(self, args):
        """Your feedback, newest first (customer)."""
        return _page(feedback.member_feedback_query(my_member_id()), NEWEST_FEEDBACK, args)


# -- cases ------------------------------------------------------------------------------------

@blp.route("/members/<member_id>/cases")
class MemberCases(MethodView):
    @requires(*READERS)
    @commits
    @documents_errors(blp, *WRITE_ERRORS)
    @blp.arguments(CaseInSchema)
    @blp.response(201, CaseSchema)
    def post(self, data, member_id):
        """Open a complaint or request for the member (admin, storefront, manager, cashier)."""
        return cases.open_case(member_id, data, current_actor())

    @requires(*READERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(CaseSchema))
    def get(self, args, member_id):
        """The member's cases, newest first (admin, storefront, manager, cashier)."""
        return _page(cases.queue_query(member_id=_existing_member(member_id)), NEWEST_CASES, args)


@blp.route("/me/cases")
class MyCases(MethodView):
    @requires("customer")
    @commits
    @documents_errors(blp, *WRITE_ERRORS)
    @blp.arguments(CaseInSchema)
    @blp.response(201, CaseSchema)
    def post(self, data):
        """Open a complaint or request (customer)."""
        return cases.open_case(my_member_id(), data, current_actor())

    @requires("customer")
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(CaseSchema))
    def get(self, args):
        """Your cases, newest first (customer)."""
        return _page(cases.queue_query(member_id=my_member_id()), NEWEST_CASES, args)


@blp.route("/cases")
class CaseQueue(MethodView):
    @requires(*STAFF)
    @documents_errors(blp, *AUTH_ERRORS, errors.ValidationFailed)
    @blp.arguments(CaseQueryArgsSchema, location="query")
    @blp.response(200, page_schema(CaseSchema))
    def get(self, args):
        """The work queue: cases oldest opened first, by status, member or assignee (admin, manager, cashier)."""
        query = cases.queue_query(args.get("status"), args.get("member_id"), args.get("assignee_id"))
        return _page(query, NEWEST_CASES, args, ascending=True)


@blp.route("/cases/<case_id>")
class CaseById(MethodView):
    @requires(*READERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """Read a case (admin, storefront, manager, cashier)."""
        return cases.get_case(case_id)

    @requires("manager")
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(CasePatchSchema)
    @blp.response(200, CaseSchema)
    def patch(self, data, case_id):
        """Assign the case to an active staff member, or to nobody (admin, manager)."""
        return cases.assign(case_id, data["assignee_id"])


@blp.route("/me/cases/<case_id>")
class MyCase(MethodView):
    @requires("customer")
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """Read one of your cases (customer; another member's case is 404)."""
        return cases.get_case(case_id, member_id=my_member_id())


@blp.route("/cases/<case_id>/replies")
class CaseReplies(MethodView):
    @requires(*READERS)
    @commits
    @documents_errors(blp, *WRITE_ERRORS)
    @blp.arguments(ReplyInSchema)
    @blp.response(201, ReplySchema)
    def post(self, data, case_id):
        """Reply on a case; the shop's first reply stamps first_response_at (admin, storefront, manager, cashier)."""
        return cases.reply(case_id, data["text"], current_actor(), created_at=data.get("created_at"))

    @requires(*READERS)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(ReplySchema))
    def get(self, args, case_id):
        """The case's replies, oldest first (admin, storefront, manager, cashier)."""
        return _page(cases.replies_query(cases.get_case(case_id).id), OLDEST_REPLIES, args, ascending=True)


@blp.route("/me/cases/<case_id>/replies")
class MyCaseReplies(MethodView):
    @requires("customer")
    @commits
    @documents_errors(blp, *WRITE_ERRORS)
    @blp.arguments(ReplyInSchema)
    @blp.response(201, ReplySchema)
    def post(self, data, case_id):
        """Reply on one of your cases (customer)."""
        return cases.reply(case_id, data["text"], current_actor(), created_at=data.get("created_at"),
                           member_id=my_member_id())

    @requires("customer")
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(ReplySchema))
    def get(self, args, case_id):
        """The replies on one of your cases, oldest first (customer)."""
        case = cases.get_case(case_id, member_id=my_member_id())
        return _page(cases.replies_query(case.id), OLDEST_REPLIES, args, ascending=True)


@blp.route("/cases/<case_id>/resolve")
class ResolveCase(MethodView):
    @requires(*STAFF)
    @commits
    @documents_errors(blp, *WRITE_ERRORS, errors.CaseResolved)
    @blp.arguments(ResolveInSchema)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id):
        """Resolve a case, optionally with goodwill points (admin, manager, cashier; goodwill: admin, manager)."""
        return cases.resolve(case_id, data["resolution"], current_actor(), goodwill_points=data["goodwill_points"],
                             resolved_at=data.get("resolved_at"))


@blp.route("/cases/<case_id>/reopen")
class ReopenCase(MethodView):
    @requires(*READERS)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.MemberInactive, errors.CaseOpen)
    @blp.response(200, CaseSchema)
    def post(self, case_id):
        """Reopen a resolved case (admin, storefront, manager, cashier)."""
        return cases.reopen(case_id, current_actor())


@blp.route("/me/cases/<case_id>/reopen")
class ReopenMyCase(MethodView):
    @requires("customer")
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.MemberInactive, errors.CaseOpen)
    @blp.response(200, CaseSchema)
    def post(self, case_id):
        """Reopen one of your resolved cases (customer)."""
        return cases.reopen(case_id, current_actor(), member_id=my_member_id())


# -- notes ------------------------------------------------------------------------------------

@blp.route("/members/<member_id>/notes")
class MemberNotes(MethodView):
    @requires(*STAFF)
    @commits
    @documents_errors(blp, *WRITE_ERRORS)
    @blp.arguments(NoteInSchema)
    @blp.response(201, NoteSchema)
    def post(self, data, member_id):
        """Add a staff note on the member, never shown to customers (admin, manager, cashier)."""
        return notes.add_note(member_id, data["text"], current_actor(), pinned=data["pinned"])

    @requires(*STAFF)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(NoteSchema))
    def get(self, args, member_id):
        """The member's notes, newest first (admin, manager, cashier)."""
        return _page(notes.member_notes_query(_existing_member(member_id)), NEWEST_NOTES, args)


@blp.route("/notes/<note_id>")
class NoteById(MethodView):
    @requires(*STAFF)
    @commits
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(NotePatchSchema)
    @blp.response(200, NoteSchema)
    def patch(self, changes, note_id):
        """Change a note's text or pin (its author, a manager or an admin)."""
        return notes.edit_note(note_id, changes, current_actor())
