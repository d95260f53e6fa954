"""Who paid: the member a Stripe payment belongs to (API.md, Payment events: first match wins)."""
from loyalty import ledger, members, settings
from loyalty.actors import SYSTEM
from loyalty.errors import MemberExists
from loyalty.extensions import db
from loyalty.models import Member
from loyalty.payments.shapes import Buyer


def find_member(buyer: Buyer) -> Member | None:
    """The member named by metadata, client_reference_id, Stripe customer or email, in that order,
    locked until commit (the payment is about to move their points)."""
    if buyer.member_id:  # the usual case: found and locked in one statement
        member = ledger.lock_member(buyer.member_id)
        if member is not None and member.status != "closed":  # closed members earn nothing, ever
            return member
    finders = (
        lambda: members.find_by_external_id(buyer.external_id) if buyer.external_id else None,
        lambda: members.find_by_external_id(buyer.client_reference_id) if buyer.client_reference_id else None,
        lambda: _oldest_with(stripe_customer_id=buyer.customer_id) if buyer.customer_id else None,
        lambda: _oldest_with(email=buyer.email) if buyer.email else None,
    )
    for find in finders:
        member = find()
        if member is not None and member.status != "closed":
            return ledger.lock_member(member.id)
    return None


def _oldest_with(**field) -> Member | None:
    # Neither field is unique: the longest-standing member is the stable choice.
    query = members.lookup_query(field).where(Member.status != "closed")
    return db.session.execute(query.order_by(Member.enrolled_at, Member.id).limit(1)).scalar_one_or_none()


def enroll_if_allowed(buyer: Buyer) -> Member | None:
    """Enrol an unknown buyer when the program auto-enrols and Stripe named them; else None.
    Like find_member, the member is locked (a new one is this transaction's own until commit)."""
    if not settings.current().program.auto_enroll or not (buyer.customer_id or buyer.email):
        return None
    # Derived from the buyer, so concurrent payments of one new buyer enrol them once.
    external_id = f"stripe:{buyer.customer_id or buyer.email}"
    fields = {"external_id": external_id, "email": buyer.email, "stripe_customer_id": buyer.customer_id}
    try:
        return members.enroll(fields, SYSTEM)
    except MemberExists as exists:
        return members.get_member(exists.details["member_id"], lock=True)


def learn(member: Member, buyer: Buyer) -> None:
    """Fill in what the member's profile lacks and this payment knows (their customer id, email)."""
    if member.status == "closed":
        return  # anonymised for good: nothing personal is written back
    changes = {}
    if buyer.customer_id and not member.stripe_customer_id:
        changes["stripe_customer_id"] = buyer.customer_id
    if buyer.email and not member.email:
        changes["email"] = buyer.email
    if changes:
        members.update_member(member.id, changes)
