"""Feedback (API.md, Service: Feedback): CSAT 1-5 and NPS 0-10 answers, with their bands."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from loyalty.actors import Actor
from loyalty.errors import FeedbackExists
from loyalty.extensions import db
from loyalty.models import Feedback
from loyalty.outbound import events as outbox
from loyalty.service.common import active_member, check_purchase, default_channel, moment

SCORES = {"csat": range(1, 6), "nps": range(0, 11)}


def band(kind: str, score: int) -> str:
    """csat: unhappy 1-2, neutral 3, happy 4-5; nps: detractor 0-6, passive 7-8, promoter 9-10."""
    if kind == "csat":
        return "unhappy" if score <= 2 else "neutral" if score == 3 else "happy"
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


def record_feedback(member_id: str, kind: str, score: int, actor: Actor, *, purchase_id: str | None = None,
                    channel: str | None = None, comment: str | None = None, created_at=None) -> Feedback:
    """Record one answer; a second answer of the same kind about one purchase is 409 feedback_exists."""
    active_member(member_id)
    check_purchase(member_id, purchase_id)
    feedback = Feedback(
        member_id=member_id, purchase_id=purchase_id, kind=kind, score=score, band=band(kind, score),
        channel=channel or default_channel(actor), comment=comment,
        created_at=moment(created_at, actor, "created_at"), actor_type=actor.type, actor_id=actor.id)
    try:
        with db.session.begin_nested():  # the unique (purchase_id, kind) decides, even between two at once
            db.session.add(feedback)
    except IntegrityError:
        raise FeedbackExists(purchase_id=purchase_id, kind=kind) from None
    outbox.record_object("feedback.received", "feedback", feedback)
    return feedback


def member_feedback_query(member_id: str):
    """The member's feedback, for a page newest first on (created_at, id)."""
    return select(Feedback).where(Feedback.member_id == member_id)


def latest_of_each_kind(member_id: str) -> dict[str, Feedback | None]:
    """{"csat": the newest csat answer or None, "nps": ...}, in one statement: one indexed
    newest-first look-up per kind, not a ranking of all the member's answers."""
    newest = [select(Feedback.id).where(Feedback.member_id == member_id, Feedback.kind == kind)
              .order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(1).scalar_subquery()
              for kind in SCORES]
    rows = db.session.execute(select(Feedback).where(Feedback.id.in_(newest))).scalars()
    latest = {kind: None for kind in SCORES}
    latest.update({feedback.kind: feedback for feedback in rows})
    return latest
