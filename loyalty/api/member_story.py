"""What a till reads about a member (API.md, Service): the overview, and the timeline of everything."""
from datetime import datetime

import marshmallow as ma
from flask.views import MethodView

from loyalty import errors, members
from loyalty.api.common import AUTH_ERRORS, Blueprint, documents_errors
from loyalty.api.fields import Timestamp
from loyalty.api.members import MemberSchema
from loyalty.api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from loyalty.api.rewards import RewardSchema
from loyalty.api.security import STAFF, STOREFRONT, current_actor, requires
from loyalty.api.service import AuthorSchema, CaseSchema, FeedbackSchema, NoteSchema
from loyalty.service import overview, timeline

blp = Blueprint("member_story", __name__, url_prefix="/v1/members", description="Member overview and timeline")


class LastFeedbackSchema(ma.Schema):
    csat = ma.fields.Nested(FeedbackSchema, allow_none=True, required=True)
    nps = ma.fields.Nested(FeedbackSchema, allow_none=True, required=True)


class OverviewSchema(ma.Schema):
    member = ma.fields.Nested(MemberSchema, required=True)
    rewards = ma.fields.List(ma.fields.Nested(RewardSchema), required=True,
                             metadata={"description": "The active rewards, each with eligible and reason"})
    open_cases = ma.fields.List(ma.fields.Nested(CaseSchema), required=True, metadata={"description": "Oldest first"})
    pinned_notes = ma.fields.List(ma.fields.Nested(NoteSchema), required=True,
                                  metadata={"description": "Newest first; empty for a storefront"})
    last_feedback = ma.fields.Nested(LastFeedbackSchema, required=True)
    at_risk = ma.fields.Boolean(required=True, metadata={"description": "Rules: At risk, as of now"})


class RefSchema(ma.Schema):
    type = ma.fields.String(required=True)
    id = ma.fields.String(allow_none=True, required=True)


class TimelineItemSchema(ma.Schema):
    at = Timestamp(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "One of: " + ", ".join(timeline.KINDS)})
    summary = ma.fields.String(required=True, metadata={"description": "A sentence for a person"})
    points = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "Signed; null when none moved"})
    ref = ma.fields.Nested(RefSchema, required=True)
    actor = ma.fields.Nested(AuthorSchema, allow_none=True, required=True)


TimelinePageSchema = page_schema(TimelineItemSchema, "TimelinePageSchema")


class TimelineArgsSchema(PageArgsSchema):
    kinds = ma.fields.String(metadata={"description": "Comma-separated kinds to keep (default: all)"})

    @ma.validates("kinds")
    def known_kinds(self, value, **kwargs):
        unknown = sorted(set(value.split(",")) - set(timeline.KINDS))
        if unknown:
            raise ma.ValidationError(f"Unknown kinds: {', '.join(unknown)}.")


@blp.route("/<member_id>/overview")
class MemberOverview(MethodView):
    @requires(*STOREFRONT, *STAFF)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound)
    @blp.response(200, OverviewSchema)
    def get(self, member_id):
        """Everything to know before serving the member, in one call (admin, storefront, manager, cashier)."""
        return overview.overview(member_id, current_actor())


@blp.route("/<member_id>/timeline")
class MemberTimeline(MethodView):
    @requires(*STAFF)
    @documents_errors(blp, *AUTH_ERRORS, errors.NotFound, errors.ValidationFailed)
    @blp.arguments(TimelineArgsSchema, location="query")
    @blp.response(200, TimelinePageSchema)
    def get(self, args, member_id):
        """The member's whole story, newest first, each item with a sentence (admin, manager, cashier)."""
        members.get_member(member_id)
        kinds = frozenset(args["kinds"].split(",")) if args.get("kinds") else None
        after = None
        if args.get("cursor"):
            after = timeline.Position(*decode_cursor(args["cursor"], [datetime, int, str]))
        items, last = timeline.timeline(member_id, kinds, args["limit"], after)
        next_cursor = encode_cursor([last.at, last.rank, last.item_id]) if last else None
        return {"data": items, "next_cursor": next_cursor}
