"""What the till and the customer's card need: finding a member by what a cashier scans or types,
a member's standing in one read, and an in-store purchase typed in major units.

The pages in loyalty.web call these (and the same domain functions as the API); nothing here
knows about requests or commits.
"""
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select

from sqlalchemy.exc import IntegrityError

from loyalty import clock, customers, idempotency, members, purchases, redemptions, rewards, tiers
from loyalty.actors import Actor
from loyalty.currency import exponent
from loyalty.emails import normalise_email
from loyalty.errors import Conflict, ValidationFailed
from loyalty.extensions import db
from loyalty.ids import normalise_code
from loyalty.models import LedgerEntry, Member, Redemption, Reward
from loyalty.service import overview, timeline

SEARCH_LIMIT = 20
MOST_MINOR_UNITS = 10**15  # as POST /v1/purchases allows
RECENT_ACTIVITY = 10
TIMELINE_ITEMS = 30
# Characters people put in phone numbers: `+1 (555) 010-2030` is found as 15550102030.
PHONE_PUNCTUATION = " +-().\t/"


def find_members(text: str) -> tuple[Member | None, list[Member]]:
    """(the member whose code this is, or None; otherwise the members it names by email, phone
    or external id, at most SEARCH_LIMIT)."""
    text = text.strip()
    if not text:
        return None, []
    code = normalise_code(text)
    if code:
        exact = db.session.execute(select(Member).where(Member.member_code == code)).scalar_one_or_none()
        if exact is not None:
            return exact, [exact]
    conditions = [Member.external_id == text, Member.email == normalise_email(text)]
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits and all(ch.isdigit() or ch in PHONE_PUNCTUATION for ch in text):
        conditions.append(_phone_digits(Member.phone) == digits)
    found = db.session.execute(
        select(Member).where(or_(*conditions)).order_by(Member.enrolled_at.desc()).limit(SEARCH_LIMIT)
    ).scalars().all()
    return None, list(found)


def _phone_digits(column):
    for character in PHONE_PUNCTUATION:
        column = func.replace(column, character, "")
    return column


@dataclass
class Standing:
    """A member's points and tier as the till and the card show them."""

    member: object  # the row of members.get_member_with_progress
    tier: object | None  # the tier held now (key, name, min_qualifying_points), or None
    next_tier: object | None
    progress: dict  # as tier_progress in the API
    expiring: dict | None
    rewards: list[Reward] = field(default_factory=list)  # each with `eligible` and `reason`, cheapest first

    @property
    def affordable(self) -> list[Reward]:
        return [reward for reward in self.rewards if reward.eligible]

    @property
    def progress_share(self) -> float:
        """How far the member is from the current tier's threshold to the next one, 0 to 1."""
        if self.next_tier is None:
            return 1.0
        start = self.tier.min_qualifying_points if self.tier is not None else 0
        span = self.next_tier.min_qualifying_points - start
        done = self.progress["qualifying_points"] - start
        return max(0.0, min(1.0, done / span)) if span > 0 else 1.0


def _standing(member, catalogue: list[Reward]) -> Standing:
    progress = tiers.progress(member)
    next_tier = next((row for row in tiers.ladder() if row.key == progress["next_tier"]), None)
    return Standing(member=member, tier=tiers.shown_tier(member), next_tier=next_tier, progress=progress,
                    expiring=customers.expiring(member, clock.now()),
                    rewards=sorted(catalogue, key=lambda reward: (reward.cost_points, reward.id)))


@dataclass
class Card:
    """The customer's card: their standing and their latest points movements."""

    standing: Standing
    recent: list[LedgerEntry]


def card(member_id: str) -> Card:
    member = members.get_member_with_progress(member_id)
    catalogue = rewards.mark_eligibility(rewards.active_catalogue(), member)
    recent = db.session.execute(
        select(LedgerEntry).where(LedgerEntry.member_id == member_id)
        .order_by(LedgerEntry.id.desc()).limit(RECENT_ACTIVITY)
    ).scalars().all()
    return Card(standing=_standing(member, catalogue), recent=list(recent))


@dataclass
class MemberPage:
    """What the till shows of a member: the overview (API.md, Service: Overview) with the standing,
    and the newest items of the timeline."""

    standing: Standing
    open_cases: list
    pinned_notes: list
    last_feedback: dict
    at_risk: bool
    timeline: list[dict]


def member_page(member_id: str, actor: Actor) -> MemberPage:
    seen = overview.overview(member_id, actor)
    items, _ = timeline.timeline(member_id, limit=TIMELINE_ITEMS)
    return MemberPage(standing=_standing(seen["member"], seen["rewards"]), open_cases=seen["open_cases"],
                      pinned_notes=seen["pinned_notes"], last_feedback=seen["last_feedback"],
                      at_risk=seen["at_risk"], timeline=items)


def minor_units(amount: str, currency: str) -> int:
    """An amount as a cashier types it (`12.50` usd) in the currency's minor unit (1250)."""
    currency = currency.strip().lower()
    try:
        value = Decimal(amount.strip().replace(",", ""))
    except InvalidOperation:
        raise _bad_amount("Amount must be a number, such as 12.50.") from None
    if not value.is_finite() or value <= 0:
        raise _bad_amount("Amount must be more than zero.")
    places = exponent(currency)
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise _bad_amount(f"{currency.upper()} amounts have at most {places} decimal places.")
    if scaled > MOST_MINOR_UNITS:
        raise _bad_amount("Amount is too large.")
    return int(scaled)


def _bad_amount(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"amount": [message]})


def record_in_store(member_id: str, amount: str, currency: str, order_id: str, actor: Actor):
    """Record a purchase made at the till (source `pos`), its amount typed in major units;
    returns (purchase, created) as purchases.record_purchase does."""
    minor = minor_units(amount, currency)
    member = members.get_member(member_id, lock=True)
    return purchases.record_purchase(member, order_id=order_id.strip(), amount=minor,
                                     currency=currency.strip().lower(), occurred_at=None,
                                     source="pos", actor=actor)


def redeem_at_till(member_id: str, reward_id: str, actor: Actor, attempt: str) -> Redemption:
    """Issue and use a reward in one step (the point-of-sale path of POST
    /v1/members/{id}/redemptions with use_now). `attempt` names the till's form: the same form
    sent again returns the voucher it already gave, instead of spending the points twice."""
    key = f"till-redeem:{attempt}"
    fingerprint = idempotency.fingerprint("POST", f"/members/{member_id}/redemptions", reward_id.encode())
    saved = idempotency.saved_response(actor.scope, key, fingerprint)
    if saved is None:
        try:
            with db.session.begin_nested():
                claim = idempotency.claim(actor.scope, key, fingerprint)
        except IntegrityError:  # the same form, sent twice at once: the first has committed now
            saved = idempotency.saved_response(actor.scope, key, fingerprint)
            if saved is None:
                raise Conflict("This redemption is being made already; reload the page.") from None
    if saved is not None:
        return redemptions.get_by_code(saved.response_body)
    redemption = redemptions.issue(member_id, reward_id, actor, use_now=True)
    idempotency.keep_response(claim, 201, redemption.code)
    return redemption
