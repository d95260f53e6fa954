"""Enrolment, profile changes, look-ups and closing of members."""
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from loyalty import auth, birthdays, clock, ledger, settings, signals, tiers
from loyalty.actors import Actor
from loyalty.errors import MemberExists, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.ids import new_code, normalise_code
from loyalty.models import AuthToken, Member
from loyalty.outbound import events as outbox
from loyalty.models.members import phone_digits
from loyalty.emails import normalise_email

MEMBER_CODE_LENGTH = 8  # 40 bits: room for a billion members without many retries
LOOKUP_FIELDS = ("external_id", "email", "member_code", "stripe_customer_id", "phone")


def normalise(fields: dict) -> dict:
    fields = dict(fields)
    if fields.get("email"):
        fields["email"] = normalise_email(fields["email"])
    return fields


def enroll(fields: dict, actor: Actor) -> Member:
    """Enrol a member, pay the signup bonus and apply Stripe events that were waiting for them."""
    fields = normalise(fields)
    existing = find_by_external_id(fields["external_id"])
    if existing is not None:
        raise MemberExists(member_id=existing.id)
    member = _insert_with_unique_code(fields)
    tiers.start_history(member)
    bonus = settings.current().program.signup_bonus
    if bonus:
        ledger.post_entry(member.id, "bonus", bonus, actor, note="Signup bonus",
                          dedupe_key=f"signup:{member.id}")
    outbox.record_object("member.enrolled", "member", member)
    signals.member_changed.send(member)
    return member


def _insert_with_unique_code(fields: dict) -> Member:
    for _ in range(5):
        member = Member(member_code=new_code(MEMBER_CODE_LENGTH), enrolled_at=clock.now(),
                        birthday_bonus_at=birthdays.next_due(fields.get("birthday"), clock.now()), **fields)
        try:
            with db.session.begin_nested():
                db.session.add(member)
        except IntegrityError:
            existing = find_by_external_id(fields["external_id"])
            if existing is not None:  # a concurrent enrolment of the same customer won
                raise MemberExists(member_id=existing.id) from None
            continue  # the random member_code collided; draw another
        return member
    raise RuntimeError("could not draw a unique member code")


def get_member(member_id: str, *, lock: bool = False) -> Member:
    """The member; `lock` holds its row until commit (tier and balance changes to come)."""
    member = ledger.lock_member(member_id) if lock else db.session.get(Member, member_id)
    if member is None:
        raise NotFound(f"No member {member_id}.")
    return member


# A member as read for display (GET, never changed): the Member's column attributes, its tier
# window points as of now and the settings revision, in one statement.
MEMBER_VIEW = (select(*ledger.MEMBER_COLUMNS, tiers.QUALIFYING_POINTS_NOW.label("qualifying_points_now"),
                      settings.REVISION)
               .where(Member.__table__.c.id == bindparam("member_id")))


def get_member_with_progress(member_id: str):
    """The member to show (a row named as Member's attributes, with `qualifying_points_now`).

    The window's length is a setting, and the statement also tells which settings are in force:
    it runs with the snapshot this process holds and runs again only if that one was out of date.
    """
    assumed = settings.latest()
    while True:
        program = assumed.program if assumed is not None else settings.current().program
        member = db.session.execute(MEMBER_VIEW, {"member_id": member_id, **tiers.window_now(program)}).first()
        if member is None:
            raise NotFound(f"No member {member_id}.")
        settings.seen(member.settings_revision)
        if assumed is None or settings.current() is assumed:
            return member
        assumed = None  # the settings changed: current() loaded them; once more with those


def find_by_external_id(external_id: str) -> Member | None:
    return db.session.execute(
        select(Member).where(Member.external_id == external_id)
    ).scalar_one_or_none()


def resolve(member_id: str | None = None, external_id: str | None = None, *, lock: bool = False) -> Member:
    """The member named by id or by the storefront's external_id."""
    if not member_id:
        member = find_by_external_id(external_id)
        if member is None:
            raise NotFound(f"No member with external_id {external_id}.")
        member_id = member.id
    return get_member(member_id, lock=lock)


def lookup_query(filters: dict):
    """A select of members matching the given look-up fields (all must match)."""
    query = select(Member)
    for field in LOOKUP_FIELDS:
        value = filters.get(field)
        if value is None:
            continue
        if field == "email":
            value = value.strip().lower()
        elif field == "member_code":
            value = normalise_code(value)
        elif field == "phone":
            field, value = "phone_digits", phone_digits(value) or ""  # never `IS NULL`: no digits, no one
        query = query.where(getattr(Member, field) == value)
    return query


def update_member(member_id: str, changes: dict) -> Member:
    """Change profile fields; a new email or Stripe customer id may release parked events."""
    member = get_member(member_id)
    if member.status == "closed":
        raise NotFound(f"No member {member_id}.")  # closed members are anonymised for good
    for field, value in normalise(changes).items():
        setattr(member, field, value)
    if "birthday" in changes:
        member.birthday_bonus_at = birthdays.next_due(member.birthday, clock.now())
    db.session.flush()
    if {"email", "stripe_customer_id"} & changes.keys():
        signals.member_changed.send(member)
    return member


PERSONAL_FIELDS = ("email", "name", "phone", "birthday", "stripe_customer_id")


def close_member(member_id: str) -> Member:
    """Anonymise and close a member; the ledger and purchases stay for the accounts."""
    member = get_member(member_id)
    for field in PERSONAL_FIELDS:
        setattr(member, field, None)
    member.attributes = {}
    member.birthday_bonus_at = member.expiring_notice_at = member.at_risk_at = None  # no more timed work
    if member.status != "closed":
        member.status = "closed"
        member.closed_at = clock.now()
    db.session.execute(
        update(AuthToken)
        .where(AuthToken.member_id == member.id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    auth.forget_checked()
    db.session.flush()
    return member


def set_tier(member_id: str, tier_key: str | None, until, reason: str, actor: Actor) -> Member:
    """Hold a member at a tier chosen by hand until `until` (then normal rules resume)."""
    member = get_member(member_id)
    if until <= clock.now():
        raise ValidationFailed("until must be in the future.", fields={"until": ["Must be in the future."]})
    tier = settings.current().live_tier(tier_key) if tier_key is not None else None
    if tier_key is not None and tier is None:
        raise ValidationFailed("Unknown tier.", fields={"tier": [f"No tier {tier_key}."]})
    tiers.set_manually(member, tier, until, note=f"{reason} (by {actor.type} {actor.id})")
    db.session.flush()
    return member
