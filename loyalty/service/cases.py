"""Cases (API.md, Service: Cases): complaints and requests, their replies, resolution and reopening.

A case's row holds its present (status, the first response, the latest resolution, how often it
was reopened); each resolve and reopen is also kept as a case_events row for the timeline.
State changes are conditional UPDATEs (`... WHERE status = 'open'`), so of two managers resolving
one case at once exactly one succeeds and goodwill is posted once; the other gets case_resolved.
"""
from datetime import datetime

from sqlalchemy import case as sql_case, select, update

from loyalty import clock, ledger, settings
from loyalty.actors import Actor
from loyalty.errors import CaseOpen, CaseResolved, Forbidden, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Case, CaseEvent, CaseReply, Staff
from loyalty.outbound import events as outbox
from loyalty.service.common import (active_member, check_purchase, default_channel, load_with_author, moment,
                                   with_author_name)

GOODWILL_ROLES = ("admin", "manager")


def open_case(member_id: str, fields: dict, actor: Actor) -> Case:
    """Open a case for the member (a customer opens their own)."""
    active_member(member_id)
    check_purchase(member_id, fields.get("purchase_id"))
    case = Case(
        member_id=member_id, purchase_id=fields.get("purchase_id"), subject=fields["subject"],
        description=fields.get("description"), category=fields["category"],
        channel=fields.get("channel") or default_channel(actor), status="open",
        opened_at=moment(fields.get("opened_at"), actor, "opened_at"), reopened_count=0, goodwill_points=0,
        actor_type=actor.type, actor_id=actor.id)
    db.session.add(case)
    db.session.flush()
    outbox.record_object("case.opened", "case", case)
    return case


def get_case(case_id: str, *, member_id: str | None = None) -> Case:
    """The case; with `member_id` (a customer's own view), another member's case is 404 too."""
    case = db.session.get(Case, case_id)
    if case is None or (member_id is not None and case.member_id != member_id):
        raise NotFound(f"No case {case_id}.")
    return case


def reply(case_id: str, text: str, actor: Actor, *, created_at: datetime | None = None,
          member_id: str | None = None) -> CaseReply:
    """Add a reply; the shop's earliest reply (not the customer's) is the case's first response."""
    case = get_case(case_id, member_id=member_id)
    active_member(case.member_id)
    at = moment(created_at, actor, "created_at", not_before=case.opened_at)
    row = CaseReply(case_id=case.id, member_id=case.member_id, text=text, author_type=actor.type,
                    author_id=actor.id, created_at=at)
    db.session.add(row)
    if actor.type != "customer":
        # The minimum over replies, safe against a concurrent reply and replies imported out of order.
        earliest = sql_case((Case.first_response_at.is_(None) | (Case.first_response_at > at), at),
                            else_=Case.first_response_at)
        db.session.execute(update(Case).where(Case.id == case.id).values(first_response_at=earliest)
                           .execution_options(synchronize_session=False))
        db.session.expire(case)
    db.session.flush()
    return load_with_author(CaseReply, row.id)


def replies_query(case_id: str):
    """A case's replies with their author's name, for a page oldest first on (created_at, id)."""
    return select(CaseReply).where(CaseReply.case_id == case_id).options(with_author_name(CaseReply))


def assign(case_id: str, assignee_id: str | None) -> Case:
    """Give the case to an active staff member, or to nobody (None)."""
    case = get_case(case_id)
    if assignee_id is not None:
        staff = db.session.get(Staff, assignee_id)
        if staff is None or not staff.active:
            raise ValidationFailed("assignee_id must be an active staff member's id.",
                                   fields={"assignee_id": ["Not an active staff member."]})
    case.assignee_id = assignee_id
    db.session.flush()
    return case


def resolve(case_id: str, resolution: str, actor: Actor, *, goodwill_points: int = 0,
            resolved_at: datetime | None = None) -> Case:
    """Resolve an open case, with an optional gift of points posted by the ledger in this transaction."""
    case = get_case(case_id)
    _check_goodwill(goodwill_points, actor)
    active_member(case.member_id)
    at = moment(resolved_at, actor, "resolved_at", not_before=case.opened_at)
    won = db.session.execute(
        update(Case).where(Case.id == case.id, Case.status == "open")
        .values(status="resolved", resolved_at=at, resolution=resolution, updated_at=clock.now(),
                goodwill_points=Case.goodwill_points + goodwill_points)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.expire(case)
    if not won:
        raise CaseResolved(case_id=case.id)
    entry = None
    if goodwill_points:
        entry = ledger.post_entry(case.member_id, "goodwill", goodwill_points, actor,
                                  note=f"Goodwill: {case.subject}"[:500],
                                  dedupe_key=f"goodwill:{case.id}:{case.reopened_count}")
    db.session.add(CaseEvent(case_id=case.id, member_id=case.member_id, type="resolved", at=at,
                             actor_type=actor.type, actor_id=actor.id, goodwill_points=goodwill_points,
                             resolution=resolution, ledger_entry_id=entry.id if entry else None))
    db.session.flush()
    outbox.record_object("case.resolved", "case", case)
    return case


def _check_goodwill(points: int, actor: Actor) -> None:
    if not points:
        return
    if actor.role not in GOODWILL_ROLES:
        raise Forbidden("Goodwill points need the admin or manager role.")
    limit = settings.current().program.goodwill_limit
    if points > limit:
        raise ValidationFailed(f"goodwill_points may be at most the program's goodwill_limit ({limit}).",
                               fields={"goodwill_points": [f"At most {limit}."]})


def reopen(case_id: str, actor: Actor, *, member_id: str | None = None) -> Case:
    """Open a resolved case again; its first response, resolution and goodwill stay."""
    case = get_case(case_id, member_id=member_id)
    active_member(case.member_id)
    won = db.session.execute(
        update(Case).where(Case.id == case.id, Case.status == "resolved")
        .values(status="open", resolved_at=None, reopened_count=Case.reopened_count + 1, updated_at=clock.now())
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.expire(case)
    if not won:
        raise CaseOpen(case_id=case.id)
    db.session.add(CaseEvent(case_id=case.id, member_id=case.member_id, type="reopened", at=clock.now(),
                             actor_type=actor.type, actor_id=actor.id, goodwill_points=0))
    db.session.flush()
    return case


def queue_query(status: str | None = None, member_id: str | None = None, assignee_id: str | None = None):
    """Cases to work on, filtered, for a page oldest first on (opened_at, id)."""
    query = select(Case)
    for column, value in ((Case.status, status), (Case.member_id, member_id), (Case.assignee_id, assignee_id)):
        if value is not None:
            query = query.where(column == value)
    return query


def open_cases(member_id: str) -> list[Case]:
    """The member's open cases, oldest first."""
    return list(db.session.execute(
        select(Case).where(Case.member_id == member_id, Case.status == "open")
        .order_by(Case.opened_at, Case.id)).scalars())
