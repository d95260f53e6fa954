"""Loading another system's members and purchase history (`loyalty import`), a batch at a time.

Rows arrive checked by the command, each with its line number. A batch is written with
multi-row INSERTs (COPY on PostgreSQL) and one UPDATE of its members (bulk.update_rows) under the
same Rules as the API, through the rule functions the API uses:

- A member with no purchases yet (the usual case: a shop's history loaded into a new program)
  has the batch's purchases replayed in memory in `occurred_at` order: each priced as
  `purchases.priced` prices (`purchases.Pricing`: the settings read once per batch) with the
  tier held at its moment, an upgrade placed at the purchase that crossed the threshold
  (`tiers.upgrade_for`), then the member evaluated as of now (`tiers.evaluate`), as the API
  would have done one purchase at a time.
- Events are recorded as the API records them (API.md, Outbound webhooks: a committed change is
  never without its event): member.enrolled for each member enrolled, member.tier_changed for
  each upgrade, each kind in one multi-row INSERT per batch.
- A member who already has purchases (an import run again with new rows, or one member's rows
  split across the file) gets the batch's rows through `purchases.record_purchase`, one at a time,
  exactly as the API takes purchases arriving behind the history.

Members are matched on `external_id`, purchases on (source, order_id): a row already loaded
with the same content counts as already there; with other content it is refused. Nothing here
commits: the command commits (or, for a dry run, rolls back) each batch.
"""
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError

from loyalty import birthdays, bulk, clock, ledger, members, purchases, settings, signals, tiers
from loyalty.actors import SYSTEM, Actor
from loyalty.errors import CurrencyNotEnabled, LoyaltyError
from loyalty.extensions import db
from loyalty.ids import new_code, new_id
from loyalty.models import LedgerEntry, Member, Purchase, TierChange
from loyalty.models.members import phone_digits
from loyalty.outbound import events as outbox
from loyalty.program import earn_rate
from loyalty.reports import at_risk

# What an import writes to (the command refreshes their planner statistics as they grow).
TABLES_WRITTEN = [Member.__table__, Purchase.__table__, LedgerEntry.__table__, TierChange.__table__]
MEMBER_FIELDS = ("external_id", "email", "name", "phone", "birthday", "stripe_customer_id", "attributes")


@dataclass
class Outcome:
    """What one batch did: rows added, rows already there, and each refused row with its reason."""
    added: int = 0
    already: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)

    def refuse(self, line: int, reason: str) -> None:
        self.refused.append((line, reason))


def _reason(error: LoyaltyError) -> str:
    return f"{error.code}: {error.message}"


# -- members -----------------------------------------------------------------------------------

def add_members(rows: list[tuple[int, dict]]) -> Outcome:
    """Enrol the members of a batch not enrolled yet (by external_id); no signup bonus, as they
    signed up in the other system. `enrolled_at` may be given; it defaults to now."""
    outcome = Outcome()
    fresh: dict[str, tuple[int, dict]] = {}
    for line, fields in rows:
        fields = members.normalise(fields)
        if fields["external_id"] in fresh:
            outcome.already += 1
        else:
            fresh[fields["external_id"]] = (line, fields)
    known = set(db.session.execute(
        select(Member.external_id).where(bulk.one_of(Member.external_id, fresh))).scalars())
    outcome.already += len(known)
    new = [fields for external_id, (_, fields) in fresh.items() if external_id not in known]
    try:
        with db.session.begin_nested():
            written = _insert_members(new)
    except IntegrityError:  # a member code drawn twice, or a concurrent enrolment: one at a time
        written = []
        for fields in new:
            member = _insert_one_member(fields)
            if member is None:
                outcome.already += 1
            else:
                written.append(member)
    outcome.added += len(written)
    signals.members_arrived.send(members=[SimpleNamespace(**member) for member in written])
    return outcome


def _insert_members(fields_list: list[dict]) -> list[dict]:
    """Insert new members with their first tier history row; returns the member rows."""
    if not fields_list:
        return []
    now = clock.now()
    enrolment = tiers.enrolment_columns()
    rows = [{
        **dict.fromkeys(MEMBER_FIELDS), "attributes": {},
        **{name: value for name, value in fields.items() if name != "enrolled_at"},
        "id": new_id("mem"), "member_code": new_code(members.MEMBER_CODE_LENGTH), "status": "active",
        "enrolled_at": fields.get("enrolled_at") or now, "updated_at": now,
        "birthday_bonus_at": birthdays.next_due(fields.get("birthday"), now),
        "points_balance": 0, "points_pending": 0, **enrolment,
        "phone_digits": phone_digits(fields.get("phone")),  # a Core insert skips Member's validator
    } for fields in fields_list]
    db.session.execute(insert(Member), rows)
    tiers.add_history([{"member_id": row["id"], "tier_id": row["tier_id"], "effective_at": row["enrolled_at"],
                        "reason": "enrolled"} for row in rows])
    # member.enrolled, each member as the API shows it: no purchases yet, so no window points.
    outbox.record_many("member.enrolled", [outbox.shown("member", SimpleNamespace(
        **row, tier_review_at=None, tier_override_until=None, qualifying_points_now=0)) for row in rows])
    return rows


def _insert_one_member(fields: dict) -> dict | None:
    """One member, drawing another code on a collision; None if the external_id is taken."""
    for _ in range(5):
        try:
            with db.session.begin_nested():
                return _insert_members([fields])[0]
        except IntegrityError:
            if members.find_by_external_id(fields["external_id"]) is not None:
                return None
    raise RuntimeError("could not draw a unique member code")


# -- purchases ---------------------------------------------------------------------------------

@dataclass
class _Row:
    line: int
    fields: dict
    fingerprint: str

    @property
    def occurred_at(self) -> datetime:
        return self.fields["occurred_at"]


def add_purchases(rows: list[tuple[int, dict]], actor: Actor = SYSTEM) -> Outcome:
    """Record the purchases of a batch not recorded yet (by source and order_id), with their points
    and tier upgrades. Each row has external_id or member_id, order_id, amount, currency (lower
    case), occurred_at and source."""
    outcome = Outcome()
    program, now = settings.current().program, clock.now()
    checked = []
    for line, fields in rows:
        try:
            earn_rate(program, fields["currency"])
        except CurrencyNotEnabled as error:
            outcome.refuse(line, _reason(error))
            continue
        if purchases.is_in_future(fields["occurred_at"], now):
            outcome.refuse(line, "validation_error: occurred_at is more than 5 minutes in the future.")
            continue
        checked.append((line, fields))
    owners = _lock_owners(checked)
    by_member = _new_rows_by_member(checked, owners, outcome)
    fast, slow = _split_by_history(by_member, owners)
    try:
        with db.session.begin_nested():
            outcome.added += _replay_members(fast, owners, actor)
    except IntegrityError:  # a concurrent twin of one of the orders: let the API's path tell which
        slow.update(fast)
    for member_id in sorted(slow):
        _record_one_at_a_time(member_id, slow[member_id], actor, outcome)
    return outcome


def _owner_key(fields: dict) -> str:
    return fields["member_id"] if fields.get("member_id") else fields["external_id"]


def _lock_owners(rows: list[tuple[int, dict]]) -> dict:
    """The members the rows name, by id and by external_id, their rows locked in id order."""
    ids = {fields["member_id"] for _, fields in rows if fields.get("member_id")}
    external_ids = {fields["external_id"] for _, fields in rows if not fields.get("member_id")}
    if not ids and not external_ids:
        return {}
    found = db.session.execute(
        select(*ledger.MEMBER_COLUMNS)
        .where(or_(bulk.one_of(Member.id, ids), bulk.one_of(Member.external_id, external_ids)))
        .order_by(Member.id).with_for_update()
    ).all()
    owners = {}
    for member in found:
        owners[member.id] = owners[member.external_id] = member
    return owners


def _new_rows_by_member(rows, owners: dict, outcome: Outcome) -> dict[str, list[_Row]]:
    """The rows to record, by member id: rows naming no member, an inactive member or an order
    recorded with other content are refused; orders already recorded alike count as already there."""
    recorded = _recorded_orders({(fields["source"], fields["order_id"]) for _, fields in rows})
    by_member: dict[str, list[_Row]] = defaultdict(list)
    for line, fields in rows:
        owner = owners.get(_owner_key(fields))
        if owner is None:
            name = "id" if fields.get("member_id") else "external_id"
            outcome.refuse(line, f"not_found: No member with {name} {_owner_key(fields)}.")
            continue
        key = (fields["source"], fields["order_id"])
        fingerprint = purchases.fingerprint_of(owner.id, fields["amount"], fields["currency"],
                                               fields["occurred_at"])
        if key in recorded:
            if recorded[key] == fingerprint:
                outcome.already += 1
            else:
                outcome.refuse(line, f"order_exists: Order {fields['order_id']} ({fields['source']}) "
                                     "was recorded with other content.")
            continue
        if owner.status != "active":
            outcome.refuse(line, f"member_inactive: Member {owner.id} is {owner.status}.")
            continue
        recorded[key] = fingerprint  # a repeat further down this batch
        by_member[owner.id].append(_Row(line, fields, fingerprint))
    return by_member


def _recorded_orders(keys: set) -> dict:
    """(source, order_id) -> fingerprint of the orders already recorded among `keys`."""
    if not keys:
        return {}
    # Two lists rather than a list of pairs: PostgreSQL reads them from the unique index.
    found = db.session.execute(
        select(Purchase.source, Purchase.order_id, Purchase.fingerprint)
        .where(bulk.one_of(Purchase.source, {source for source, _ in keys}),
               bulk.one_of(Purchase.order_id, {order_id for _, order_id in keys}))
    ).all()
    return {(source, order_id): fingerprint for source, order_id, fingerprint in found
            if (source, order_id) in keys}


def _split_by_history(by_member: dict, owners: dict) -> tuple[dict, dict]:
    """(members replayed in memory, members recorded one purchase at a time): a member whose
    tier and purchases are still untouched can be replayed; any other goes the API's way."""
    if not by_member:
        return {}, {}
    with_purchases = set(db.session.execute(
        select(Purchase.member_id).where(bulk.one_of(Purchase.member_id, by_member)).distinct()).scalars())
    fast, slow = {}, {}
    for member_id, rows in by_member.items():
        owner = owners[member_id]
        untouched = (member_id not in with_purchases and owner.tier_reached_at is None
                     and owner.tier_override_until is None)
        (fast if untouched else slow)[member_id] = rows
    return fast, slow


def _replay_members(by_member: dict[str, list[_Row]], owners: dict, actor: Actor) -> int:
    """Record the purchases of members with no history yet, in bulk; returns how many."""
    if not by_member:
        return 0
    window = timedelta(days=settings.current().program.tier_window_days)
    ladder, pricing = tiers.ladder(), purchases.Pricing()
    new_purchases, entries, history, pending, changed = [], [], [], defaultdict(int), {}
    for member_id, rows in by_member.items():
        owner = owners[member_id]
        held = SimpleNamespace(id=owner.id, tier_id=owner.tier_id, tier=None, tier_reached_at=None)
        replayed = _replay(held, rows, window, ladder, pricing)
        for values in replayed:
            # As purchases._credit: points held pending stay off the ledger until they vest.
            if values["pending_points"]:
                pending[member_id] += values["pending_points"]
            elif values["points_earned"]:
                entries.append({"member_id": member_id, "type": "earn", "points": values["points_earned"],
                                "purchase_id": values["id"], "earned_at": values["occurred_at"],
                                "actor_type": actor.type, "actor_id": actor.id})
        new_purchases += replayed
        history += held.upgrades
        latest = max(values["occurred_at"] for values in replayed)
        changed[member_id] = {
            "points_balance": owner.points_balance, "points_pending": owner.points_pending,
            "oldest_points_at": owner.oldest_points_at, "expiring_notice_at": owner.expiring_notice_at,
            "last_purchase_at": max(latest, owner.last_purchase_at or latest),
            "at_risk_at": at_risk.soonest_at_risk(latest),  # the member had no purchases: latest is theirs
            "tier_id": held.tier_id, "tier_reached_at": held.tier_reached_at,
        }
    bulk.append_rows(Purchase.__table__, new_purchases)
    ledger.post_batch(entries, changed, pending)
    tiers.add_history(history)
    outbox.record_many("member.tier_changed", [upgrade.pop("event") for upgrade in history])
    _evaluate_upgraded([member_id for member_id, columns in changed.items() if columns["tier_reached_at"]])
    at_risk.refresh(list(changed))  # their rows are locked (_lock_owners)
    return len(new_purchases)


def _replay(held: SimpleNamespace, rows: list[_Row], window: timedelta, ladder: list,
            pricing: purchases.Pricing) -> list[dict]:
    """The columns of a member's new purchases, priced in `occurred_at` order with the tier held at
    each moment; `held` follows the member's tier and collects its upgrades (history rows). The
    member is untouched (_split_by_history): the entry tier until the first upgrade found here."""
    held.upgrades = []
    held.tier = tiers.entry_tier()
    in_window: deque = deque()
    window_points = 0
    priced = []
    for row in sorted(rows, key=lambda row: row.occurred_at):
        fields, moment = row.fields, row.occurred_at
        values = pricing.priced(held, held.tier, order_id=fields["order_id"], amount=fields["amount"],
                                currency=fields["currency"], occurred_at=moment, source=fields["source"],
                                fingerprint=row.fingerprint)
        priced.append(values)
        in_window.append((moment, values["qualifying_points"]))
        window_points += values["qualifying_points"]
        while in_window[0][0] <= moment - window:  # the window is (moment - tier_window_days, moment]
            window_points -= in_window.popleft()[1]
        before = held.tier
        target = tiers.upgrade_for(before, window_points, ladder) if ladder else None
        if target is not None:
            held.upgrades.append({"member_id": held.id, "tier_id": target.id, "effective_at": moment,
                                  "reason": "purchase", "purchase_id": values["id"],
                                  "event": tiers.change_event(held.id, before, target, moment, "purchase")})
            held.tier, held.tier_id, held.tier_reached_at = target, target.id, moment
    return priced


def _evaluate_upgraded(member_ids: list[str]) -> None:
    """Evaluate as of now the members the replay lifted above the entry tier: their window may
    have passed since (a downgrade, unless retention holds), and it sets when to look again."""
    for member_id in member_ids:
        tiers.evaluate(db.session.get(Member, member_id, populate_existing=True))


def _record_one_at_a_time(member_id: str, rows: list[_Row], actor: Actor, outcome: Outcome) -> None:
    member = members.get_member(member_id, lock=True)
    for row in sorted(rows, key=lambda row: row.occurred_at):
        fields = row.fields
        try:
            with db.session.begin_nested():
                _, created = purchases.record_purchase(
                    member, order_id=fields["order_id"], amount=fields["amount"], currency=fields["currency"],
                    occurred_at=row.occurred_at, source=fields["source"], actor=actor)
        except LoyaltyError as error:
            outcome.refuse(row.line, _reason(error))
            continue
        if created:
            outcome.added += 1
        else:
            outcome.already += 1
