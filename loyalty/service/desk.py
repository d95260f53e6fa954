"""What the service desk's pages show (loyalty.web): the queue of open cases with their member and
assignee, and one case with its conversation. Reads only; the changes are loyalty.service.cases."""
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import aliased

from loyalty import members
from loyalty.extensions import db
from loyalty.models import Case, CaseReply, Member, Staff
from loyalty.service import cases

QUEUE_LIMIT = 200


@dataclass(frozen=True)
class QueueRow:
    case: Case
    member_name: str
    assignee_name: str | None


def open_queue(limit: int = QUEUE_LIMIT) -> list[QueueRow]:
    """The open cases, oldest first (as GET /v1/cases?status=open), in one statement."""
    assignee = aliased(Staff)
    rows = db.session.execute(
        cases.queue_query(status="open")
        .join(Member, Member.id == Case.member_id)
        .outerjoin(assignee, assignee.id == Case.assignee_id)
        .add_columns(Member.name, Member.member_code, assignee.name)
        .order_by(Case.opened_at, Case.id).limit(limit)
    ).all()
    return [QueueRow(case, name or code, assignee_name) for case, name, code, assignee_name in rows]


@dataclass(frozen=True)
class CasePage:
    case: Case
    member: Member
    replies: list
    assignee: Staff | None
    staff: list[Staff]  # who the case may be given to: the active staff


def case_page(case_id: str) -> CasePage:
    case = cases.get_case(case_id)
    replies = db.session.execute(
        cases.replies_query(case.id).order_by(CaseReply.created_at, CaseReply.id)).scalars().all()
    active = db.session.execute(select(Staff).where(Staff.active.is_(True)).order_by(Staff.name)).scalars().all()
    return CasePage(case=case, member=members.get_member(case.member_id), replies=list(replies),
                    assignee=db.session.get(Staff, case.assignee_id) if case.assignee_id else None,
                    staff=list(active))
