"""What every service-desk write checks: an active member, their purchase, and when it happened."""
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import with_expression

from loyalty import clock, members
from loyalty.actors import Actor
from loyalty.errors import MemberInactive, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import ApiKey, Member, Purchase, Staff

# Credentials that may give the moment something happened, to import history from another tool.
HISTORY_ROLES = ("admin", "storefront")


def active_member(member_id: str) -> Member:
    """The member, if it may still be served: a closed member is 409 member_inactive."""
    member = members.get_member(member_id)
    if member.status == "closed":
        raise MemberInactive(member_id=member_id)
    return member


def check_purchase(member_id: str, purchase_id: str | None) -> None:
    """A purchase named on feedback or a case must be one of the member's (else 404)."""
    if purchase_id is None:
        return
    owner = db.session.execute(select(Purchase.member_id).where(Purchase.id == purchase_id)).scalar()
    if owner != member_id:
        raise NotFound(f"No purchase {purchase_id} of member {member_id}.")


def moment(given: datetime | None, actor: Actor, field: str, *, not_before: datetime | None = None) -> datetime:
    """When it happened: now, or (admin and storefront keys only) the past moment given."""
    if given is None:
        return clock.now()
    if actor.role not in HISTORY_ROLES:
        raise ValidationFailed(f"{field} may only be given with an admin or storefront key.",
                               fields={field: ["Only admin and storefront keys may give this field."]})
    if given > clock.now():
        raise ValidationFailed(f"{field} is in the future.", fields={field: ["Must not be in the future."]})
    if not_before is not None and given < not_before:
        raise ValidationFailed(f"{field} is before the case was opened.",
                               fields={field: ["Must not be before the case's opened_at."]})
    return given


def default_channel(actor: Actor) -> str:
    """`store` for a staff token (the till), `online` for everyone else."""
    return "store" if actor.type == "staff" else "online"


def actor_name(type_column, id_column):
    """SQL for the name of whoever a (type, id) pair names: a staff member, an API key or a member."""
    def name_of(model):
        return select(model.name).where(model.id == id_column).scalar_subquery()

    return case((type_column == "staff", name_of(Staff)), (type_column == "api_key", name_of(ApiKey)),
                (type_column == "customer", name_of(Member)), else_=None)


def with_author_name(model):
    """A loader option filling `model.author_name` (replies and notes) in the same statement."""
    return with_expression(model.author_name, actor_name(model.author_type, model.author_id))


def load_with_author(model, row_id: str):
    """One reply or note, as just written, with its author's name."""
    return db.session.execute(
        select(model).where(model.id == row_id).options(with_author_name(model))
        .execution_options(populate_existing=True)).scalar_one()
