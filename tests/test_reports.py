"""Reports (API.md, Reports; Rules: Repurchase rate by tier, At risk), on both databases.

A seeded generator drives a few hundred members through a couple of years of purchases,
refunds, tier changes and ledger movements; every report is then recomputed here in plain
Python, straight from the contract's definitions over the raw table rows, and must match the
endpoint exactly. Hand-made cases pin the edges the definitions turn on.
"""
import csv
import io
import json
import random
import statistics
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select, update

from loyalty import adjustments, clock, jobs, ledger, members
from loyalty.extensions import db
from loyalty.models import LedgerEntry, Member, Program, Purchase, Tier, TierChange
from tests import factories
from tests.factories import ADMIN
from tests.helpers import ratio, rounded, stamp

T0 = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# -- driving the program ---------------------------------------------------------------------

def create_tier(client, admin, key, threshold, multiplier="1"):
    response = client.post("/v1/tiers", headers=admin, json={
        "key": key, "name": key.title(), "min_qualifying_points": threshold, "multiplier": multiplier})
    assert response.status_code == 201, response.get_json()


def run_tier_jobs(moment: datetime) -> None:
    """The tier part of run-jobs (the rest is other features' business)."""
    with clock.frozen(moment):
        jobs.reevaluate_tier_config(moment)
        jobs.evaluate_tiers(moment)


def get_report(client, admin, path: str, now: datetime, **params):
    with clock.frozen(now):
        response = client.get(f"/v1/reports/{path}", headers=admin, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def all_at_risk(client, admin, now: datetime, limit: int = 100) -> list[dict]:
    rows, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = get_report(client, admin, "at-risk", now, **params)
        rows += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


# -- the reference: the contract's definitions in plain Python ----------------------------------

def in_days(duration) -> str:
    """A timedelta (or Decimal microseconds) as days with 2 places."""
    micros = duration // timedelta(microseconds=1) if isinstance(duration, timedelta) else duration
    return rounded(micros, 86_400_000_000, 2)


class Reference:
    """Every table row the reports read, loaded once, and each report recomputed from them."""

    def __init__(self):
        self.purchases = db.session.execute(select(
            Purchase.id, Purchase.member_id, Purchase.amount, Purchase.refunded_amount,
            Purchase.disputed_amount, Purchase.occurred_at, Purchase.qualifying_points)).all()
        self.history = defaultdict(list)
        for row in db.session.execute(select(
                TierChange.id, TierChange.member_id, TierChange.tier_id, TierChange.effective_at,
                TierChange.reason, TierChange.purchase_id)):
            self.history[row.member_id].append(row)
        self.tiers = db.session.execute(select(Tier)).scalars().all()
        self.members = db.session.execute(select(Member)).scalars().all()
        self.entries = db.session.execute(select(LedgerEntry.type, LedgerEntry.points, LedgerEntry.created_at)).all()
        self.program = db.session.get(Program, 1)

    # qualifying purchases per member, in time order (then id, for the same moment)
    def qualifying_by_member(self) -> dict:
        by_member = defaultdict(list)
        for purchase in self.purchases:
            if purchase.amount - purchase.refunded_amount - purchase.disputed_amount > 0:
                by_member[purchase.member_id].append(purchase)
        for rows in by_member.values():
            rows.sort(key=lambda p: (p.occurred_at, p.id))
        return by_member

    def live_tiers(self) -> list:
        return sorted((t for t in self.tiers if t.deleted_at is None), key=lambda t: t.min_qualifying_points)

    def tier_before(self, member_id: str, p1) -> str:
        """The tier held at p1.occurred_at before p1 counted (read from the history)."""
        rows = [row for row in self.history[member_id]
                if row.reason != "enrolled"
                and (row.effective_at < p1.occurred_at
                     or (row.effective_at == p1.occurred_at and row.purchase_id != p1.id))]
        keys = {tier.id: tier.key for tier in self.tiers}
        if rows:
            latest = max(rows, key=lambda row: (row.effective_at, row.id))
            return keys[latest.tier_id] if latest.tier_id else "none"
        live = self.live_tiers()
        return live[0].key if live and live[0].min_qualifying_points == 0 else "none"

    def repurchase_by_tier(self, start, end, window_days, now) -> list[dict]:
        window = timedelta(days=window_days)
        counted = defaultdict(lambda: {"buyers": 0, "repurchasers": 0, "immature": 0, "gaps": []})
        for member_id, bought in self.qualifying_by_member().items():
            in_period = [p for p in bought if start <= p.occurred_at < end]
            if not in_period:
                continue
            p1 = in_period[0]
            tier = self.tier_before(member_id, p1)
            if p1.occurred_at + window > now:
                counted[tier]["immature"] += 1
                continue
            counted[tier]["buyers"] += 1
            later = [p.occurred_at for p in bought if p.id != p1.id and p.occurred_at >= p1.occurred_at]
            if later and min(later) <= p1.occurred_at + window:
                counted[tier]["repurchasers"] += 1
                counted[tier]["gaps"].append(min(later) - p1.occurred_at)
        labels = [tier.key for tier in self.live_tiers()] + (["none"] if "none" in counted else [])
        everyone = {"buyers": sum(c["buyers"] for c in counted.values()),
                    "repurchasers": sum(c["repurchasers"] for c in counted.values()),
                    "immature": sum(c["immature"] for c in counted.values()),
                    "gaps": [gap for c in counted.values() for gap in c["gaps"]]}
        rows = []
        for label, numbers in [(label, counted[label]) for label in labels] + [("all", everyone)]:
            gaps = [Decimal(gap // timedelta(microseconds=1)) for gap in numbers["gaps"]]
            rows.append({
                "tier": label, "buyers": numbers["buyers"], "repurchasers": numbers["repurchasers"],
                "repurchase_rate": ratio(numbers["repurchasers"], numbers["buyers"]),
                "median_days_to_repurchase": in_days(Decimal(statistics.median(gaps))) if gaps else None,
                "immature": numbers["immature"]})
        return rows

    def cohorts(self, start, end, now) -> list[dict]:
        months = defaultdict(list)
        for bought in self.qualifying_by_member().values():
            p1 = bought[0]
            if start <= p1.occurred_at < end:
                months[p1.occurred_at.strftime("%Y-%m")].append(bought)
        rows = []
        for month in sorted(months):
            row = {"month": month, "buyers": len(months[month])}
            for days in (30, 60, 90):
                window = timedelta(days=days)
                eligible = [b for b in months[month] if b[0].occurred_at + window <= now]
                again = [b for b in eligible
                         if any(b[0].occurred_at <= p.occurred_at <= b[0].occurred_at + window for p in b[1:])]
                row[f"rate_{days}d"] = ratio(len(again), len(eligible))
            row["early_churn_rate"] = None if row["rate_90d"] is None else str(1 - Decimal(row["rate_90d"]))
            rows.append(row)
        return rows

    def points(self, start, end) -> dict:
        def total(types=None, since=None, until=None):
            return sum(e.points for e in self.entries
                       if (types is None or e.type in types)
                       and (since is None or e.created_at >= since) and (until is None or e.created_at < until))
        issued = total({"earn", "bonus"}, start, end)
        redeemed = -total({"redeem", "return"}, start, end)
        expired = -total({"expiry"}, start, end)
        outstanding = sum(member.points_balance for member in self.members)
        return {
            "opening": total(until=start), "issued": issued, "redeemed": redeemed, "expired": expired,
            "reversed": -total({"reversal"}, start, end), "adjusted": total({"adjustment"}, start, end),
            "closing": total(until=end), "outstanding": outstanding,
            "pending": sum(member.points_pending for member in self.members),
            "liability": {"amount": outstanding * self.program.point_value_amount,
                          "currency": self.program.point_value_currency},
            "redemption_rate": ratio(redeemed, issued) if issued > 0 else None,
            "breakage_rate": ratio(expired, issued) if issued > 0 else None,
        }

    def at_risk(self, now) -> list[dict]:
        keys = {tier.id: tier.key for tier in self.tiers}
        entry = next((tier.key for tier in self.tiers
                      if tier.deleted_at is None and tier.min_qualifying_points == 0), None)
        by_member = self.qualifying_by_member()
        rows = []
        for member in self.members:
            bought = [p for p in by_member.get(member.id, []) if p.occurred_at <= now]
            if member.status == "closed" or not bought:
                continue
            quiet = now - bought[-1].occurred_at
            gaps = [Decimal((b.occurred_at - a.occurred_at) // timedelta(microseconds=1))
                    for a, b in zip(bought, bought[1:])]
            if gaps:
                median = statistics.median(gaps)
                gone = quiet // timedelta(microseconds=1) > 2 * median and quiet >= timedelta(days=30)
            else:
                gone = quiet > timedelta(days=90)
            if not gone:
                continue
            rows.append({
                "member_id": member.id, "email": member.email, "tier": keys.get(member.tier_id) if member.tier_reached_at else entry,
                "last_purchase_at": stamp(bought[-1].occurred_at),
                "usual_gap_days": in_days(median) if gaps else None,
                "days_since_last_purchase": quiet // DAY,
                "recent_qualifying_points": sum(p.qualifying_points for p in bought
                                                if p.occurred_at > now - timedelta(days=365)),
                "balance": member.points_balance})
        rows.sort(key=lambda row: (-row["recent_qualifying_points"], row["member_id"]))
        return rows


# -- the generated program -------------------------------------------------------------------

END = day(730)
ENTRY_TIER_DAY = 400
HABITS = [7, 14, 30, 60, 120]  # mean days between a member's purchases


def generate(client, admin, seed: int = 20240607, members_count: int = 260):
    """About 3000 purchases of `members_count` members over two years, applied in time order.

    Tiers come first without an entry tier (members below silver hold none); bronze, the entry
    tier, arrives on day 300, so history holds upgrades, downgrades to none and config changes.
    Gaps are sometimes set exactly on the 30/60/90-day edges, or one microsecond past them.
    """
    rng = random.Random(seed)
    program = db.session.get(Program, 1)
    program.tier_window_days, program.tier_retention_days, program.point_value_amount = 120, 60, 2
    db.session.commit()
    create_tier(client, admin, "silver", 400, "1.5")
    create_tier(client, admin, "gold", 1500, "2")

    events = []  # (moment, order, kind, payload)
    for index in range(members_count):
        joined = day(rng.uniform(0, 650))
        events.append((joined, len(events), "enroll", index))
        habit = rng.choice(HABITS)
        moment = joined + timedelta(days=rng.uniform(0, 20))
        while moment < END:
            cents = rng.choice([rng.randint(500, 40000), rng.randint(100, 3000)])
            events.append((moment, len(events), "buy", (index, cents)))
            if rng.random() < 0.03:  # a second order at the very same moment
                events.append((moment, len(events), "buy", (index, rng.randint(100, 5000))))
            if rng.random() < 0.1:
                refund_at = moment + timedelta(days=rng.uniform(0, 15), microseconds=rng.randint(0, 999))
                full = rng.random() < 0.5
                events.append((refund_at, len(events), "refund", (len(events) - 1, full, rng.random())))
            if rng.random() < 0.04:
                break  # churned
            edge = rng.random()
            if edge < 0.1:
                moment += timedelta(days=rng.choice([30, 60, 90]), microseconds=rng.choice([0, 0, 1, -1]))
            else:
                moment += timedelta(days=rng.expovariate(1 / habit), seconds=rng.randint(0, 86399),
                                    microseconds=rng.randint(0, 999_999))
    for jobs_day in range(0, 731, 15):
        events.append((day(jobs_day) + timedelta(hours=1), len(events), "jobs", None))
    events.append((day(ENTRY_TIER_DAY), len(events), "entry_tier", None))
    events.sort(key=lambda event: (event[0], event[1]))

    enrolled, bought = {}, {}
    for moment, order, kind, payload in events:
        if moment >= END:
            continue
        if kind == "enroll":
            enrolled[payload] = factories.member(moment, email=f"m{payload}@example.com")
        elif kind == "buy":
            index, cents = payload
            bought[order] = factories.purchase(enrolled[index], cents, moment)
        elif kind == "refund":
            purchase_order, full, share = payload
            purchase = db.session.get(Purchase, bought[purchase_order].id)
            left = purchase.amount - purchase.refunded_amount
            cents = left if full else max(1, int(left * share * 0.9))
            if left > 0:
                factories.refund(purchase.id, cents, moment)
        elif kind == "jobs":
            run_tier_jobs(moment)
            _ledger_movements(rng, list(enrolled.values()), moment)
        elif kind == "entry_tier":
            with clock.frozen(moment):
                create_tier(client, admin, "bronze", 0)
    _dispute_some(rng)
    _close_some(rng, list(enrolled.values()))
    db.session.commit()
    return sum(1 for event in events if event[2] == "buy" and event[0] < END)


def _ledger_movements(rng, enrolled, moment):
    """Redemptions, returns, expiry and adjustments, so every column of the points report moves."""
    with clock.frozen(moment):
        for member in rng.sample(enrolled, min(4, len(enrolled))):
            kind = rng.choice(["redeem", "return", "expiry", "bonus"])
            points = {"redeem": -rng.randint(1, 300), "return": rng.randint(1, 100),
                      "expiry": -rng.randint(1, 200), "bonus": rng.randint(1, 50)}[kind]
            ledger.post_entry(member.id, kind, points, ADMIN)
        if enrolled and rng.random() < 0.5:
            ledger.post_entry(rng.choice(enrolled).id, "adjustment", rng.choice([-5, 7, 40]), ADMIN)


def _dispute_some(rng):
    """A dispute holds back money like a refund: some purchases stop qualifying (and, as
    purchases.settle_points leaves them, have no qualifying points), with no ledger trace."""
    ids = db.session.execute(select(Purchase.id).order_by(Purchase.id)).scalars().all()
    for purchase_id in rng.sample(ids, 25):
        db.session.execute(update(Purchase).where(Purchase.id == purchase_id)
                           .values(disputed_amount=Purchase.amount - Purchase.refunded_amount, qualifying_points=0))


def _close_some(rng, enrolled):
    for member in rng.sample(enrolled, 5):
        with clock.frozen(END):
            members.close_member(member.id)


PERIODS = [("2023-01-01", "2025-01-01"), ("2023-06-01", "2023-09-15"), ("2023-10-28", "2024-03-01"),
           ("2024-06-01", "2024-12-31")]


def moment_of(date_text: str) -> datetime:
    return datetime.fromisoformat(date_text).replace(tzinfo=timezone.utc)


def test_every_report_matches_the_reference_on_generated_data(client, admin, program):
    """Do all four reports equal a plain-Python computation from API.md over thousands of purchases?"""
    assert generate(client, admin) > 2000
    reference = Reference()
    assert {row.reason for rows in reference.history.values() for row in rows} >= {
        "enrolled", "purchase", "evaluation", "tier_config_changed"}
    seen = defaultdict(int)  # what the comparisons covered, so a vacuous pass shows
    for now in (END, day(520) + timedelta(hours=7, microseconds=3)):
        for start, end in PERIODS:
            for window_days in (1, 30, 90, 365):
                expected = reference.repurchase_by_tier(moment_of(start), moment_of(end), window_days, now)
                body = get_report(client, admin, "repurchase-by-tier", now,
                                  **{"from": start, "to": end, "window_days": window_days})
                assert body == {"data": expected, "next_cursor": None}, (start, end, window_days, now)
                for row in expected:
                    seen[row["tier"]] += row["buyers"] + row["immature"]
                    seen["immature"] += row["immature"]
                    seen["repurchasers"] += row["repurchasers"]
            body = get_report(client, admin, "cohorts", now, **{"from": start, "to": end})
            assert body == {"data": reference.cohorts(moment_of(start), moment_of(end), now), "next_cursor": None}
            body = get_report(client, admin, "points", now, **{"from": start, "to": end})
            assert body == reference.points(moment_of(start), moment_of(end))
        at_risk = reference.at_risk(now)
        assert all_at_risk(client, admin, now, limit=37) == at_risk
        seen["at risk"] += len(at_risk)
    assert all(seen[label] > 0 for label in ("bronze", "silver", "gold", "none", "immature", "repurchasers", "at risk"))
    assert_at_risk_read_from_summaries_matches(client, admin, reference)


def assert_at_risk_read_from_summaries_matches(client, admin, reference):
    """Above, every member's at-risk summary was stale (written by purchases since run-jobs): the
    report worked each out from their purchases. Refreshed, it reads them from the members' rows,
    but for members with a purchase after `now` (at day 520); after a few more writes, a mix."""
    member_ids = db.session.execute(select(Member.id)).scalars().all()
    with clock.frozen(END):
        jobs.refresh_at_risk_summaries(END)
    assert not any(db.session.execute(select(Member.at_risk_stale)).scalars())
    for now in (END, day(520) + timedelta(hours=7, microseconds=3)):
        assert all_at_risk(client, admin, now, limit=37) == reference.at_risk(now)
    assert db.session.execute(select(Member.id).where(Member.at_risk_from_us.is_not(None))).first()
    rng = random.Random(5)
    active = db.session.execute(select(Member.id).where(Member.status == "active")).scalars().all()
    for member_id in rng.sample(active, 40):
        purchase = factories.purchase(db.session.get(Member, member_id), rng.randint(100, 5000),
                                      END - timedelta(days=rng.uniform(0, 300)))
        if rng.random() < 0.3:
            factories.refund(purchase.id, purchase.amount, END)
    db.session.commit()
    reference = Reference()
    assert 0 < len(db.session.execute(select(Member.id).where(Member.at_risk_stale)).all()) < len(member_ids)
    for now in (END, day(520) + timedelta(hours=7, microseconds=3), END + timedelta(days=200)):
        assert all_at_risk(client, admin, now, limit=37) == reference.at_risk(now)


def test_generated_data_tells_the_story_the_reports_are_for(client, admin, program):
    """Does the generated data exercise what the reports turn on: none/entry tiers, repurchasers, at-risk?"""
    generate(client, admin, seed=3, members_count=120)
    rows = get_report(client, admin, "repurchase-by-tier", END,
                      **{"from": "2023-06-01", "to": "2024-02-01", "window_days": 90})["data"]
    labels = [row["tier"] for row in rows]
    assert labels == ["bronze", "silver", "gold", "none", "all"]
    everyone = rows[-1]
    assert everyone["buyers"] == sum(row["buyers"] for row in rows[:-1]) > 0
    assert 0 < everyone["repurchasers"] < everyone["buyers"]
    recent = get_report(client, admin, "repurchase-by-tier", END, **{"from": "2024-10-01", "to": "2025-01-01"})
    assert recent["data"][-1]["immature"] > 0
    assert all_at_risk(client, admin, END)


# -- hand-made edges: repurchase by tier -----------------------------------------------------

def repurchase_rows(client, admin, now, start="2023-01-01", end="2024-01-01", window_days=90) -> dict:
    body = get_report(client, admin, "repurchase-by-tier", now, **{"from": start, "to": end, "window_days": window_days})
    return {row["tier"]: row for row in body["data"]}


def test_a_purchase_exactly_at_the_window_end_counts(client, admin, program):
    """Is a purchase at p1 + window_days a repurchase, and one a microsecond later not?"""
    on_edge, past_edge = factories.member(T0), factories.member(T0)
    factories.purchase(on_edge, 1000, day(1))
    factories.purchase(on_edge, 1000, day(91))
    factories.purchase(past_edge, 1000, day(1))
    factories.purchase(past_edge, 1000, day(91) + timedelta(microseconds=1))
    row = repurchase_rows(client, admin, now=day(400))["all"]
    assert (row["buyers"], row["repurchasers"], row["repurchase_rate"]) == (2, 1, "0.5000")
    assert row["median_days_to_repurchase"] == "90.00"


def test_a_fully_refunded_first_purchase_does_not_qualify(client, admin, program):
    """Does p1 skip a purchase refunded in full, and a later partial refund leave one qualifying?"""
    member = factories.member(T0)
    refunded = factories.purchase(member, 5000, day(1))
    factories.refund(refunded.id, 5000, day(2))
    partly = factories.purchase(member, 5000, day(11))
    factories.refund(partly.id, 4999, day(12))
    factories.purchase(member, 1000, day(41))
    row = repurchase_rows(client, admin, now=day(400))["all"]
    assert (row["buyers"], row["repurchasers"]) == (1, 1)
    assert row["median_days_to_repurchase"] == "30.00"  # from day 11, not day 1


def test_a_member_upgrading_on_p1_counts_under_the_tier_before_it(client, admin, program):
    """Is the member counted under the tier held just before p1, not the one p1 earned?"""
    create_tier(client, admin, "bronze", 0)
    create_tier(client, admin, "silver", 500, "1.5")
    upgrader, already_silver, twin = factories.member(T0), factories.member(T0), factories.member(T0)
    factories.purchase(upgrader, 60000, day(10))                 # p1 crosses silver: counted under bronze
    factories.purchase(already_silver, 60000, day(-20))          # silver before the period...
    factories.purchase(already_silver, 1000, day(10))            # ...so p1 counts under silver
    first = factories.purchase(twin, 1000, day(10))              # p1; at that same moment another order...
    time.sleep(0.002)                                  # (ids are time-ordered: keep p1 first)
    crossing = factories.purchase(twin, 60000, day(10))          # ...crosses silver: in force at p1's moment
    assert first.id < crossing.id
    rows = repurchase_rows(client, admin, now=day(400), start="2023-01-05")
    assert list(rows) == ["bronze", "silver", "all"]
    assert (rows["bronze"]["buyers"], rows["silver"]["buyers"]) == (1, 2)
    assert rows["all"]["repurchasers"] == 1 and rows["all"]["median_days_to_repurchase"] == "0.00"
    assert [row[0] for row in db.session.execute(
        select(TierChange.reason).where(TierChange.member_id == upgrader.id))] == ["enrolled", "purchase"]


def test_immature_members_are_only_counted_as_immature(client, admin, program):
    """Is a member whose p1 + window is after now left out of buyers and the rate?"""
    create_tier(client, admin, "bronze", 0)
    mature, young = factories.member(T0), factories.member(T0)
    factories.purchase(mature, 1000, day(1))
    factories.purchase(young, 1000, day(300))
    factories.purchase(young, 1000, day(301))
    rows = repurchase_rows(client, admin, now=day(300) + timedelta(days=90) - timedelta(microseconds=1))
    assert rows["bronze"] == {"tier": "bronze", "buyers": 1, "repurchasers": 0, "repurchase_rate": "0.0000",
                              "median_days_to_repurchase": None, "immature": 1}
    assert "none" not in rows
    assert repurchase_rows(client, admin, now=day(390))["bronze"]["buyers"] == 2


def test_every_tier_has_a_row_and_none_only_when_it_counts(client, admin, program):
    """With no purchases, is there a row per tier by rank, then `all` (and no `none`)?"""
    create_tier(client, admin, "gold", 900)
    create_tier(client, admin, "silver", 300)
    rows = get_report(client, admin, "repurchase-by-tier", day(0), **{"from": "2023-01-01", "to": "2023-02-01"})
    assert rows["data"] == [
        {"tier": key, "buyers": 0, "repurchasers": 0, "repurchase_rate": None,
         "median_days_to_repurchase": None, "immature": 0} for key in ("silver", "gold", "all")]


# -- hand-made edges: cohorts, points, at risk -----------------------------------------------

def test_cohorts_count_only_members_old_enough_for_each_window(client, admin, program):
    """Are rates over members at least N days past their first purchase, by month of it?"""
    early, back_in_45, late = factories.member(T0), factories.member(T0), factories.member(T0)
    factories.purchase(early, 1000, day(0))
    factories.purchase(early, 1000, day(20))
    factories.purchase(back_in_45, 1000, day(5))
    factories.purchase(back_in_45, 1000, day(50))
    factories.purchase(late, 1000, day(40))
    body = get_report(client, admin, "cohorts", day(100), **{"from": "2023-01-01", "to": "2023-03-01"})
    assert body["data"] == [
        {"month": "2023-01", "buyers": 2, "rate_30d": "0.5000", "rate_60d": "1.0000", "rate_90d": "1.0000",
         "early_churn_rate": "0.0000"},
        {"month": "2023-02", "buyers": 1, "rate_30d": "0.0000", "rate_60d": "0.0000", "rate_90d": None,
         "early_churn_rate": None},
    ]


def test_points_roll_forward_balances_to_the_point(client, admin, program):
    """Do opening + issued − redeemed − expired − reversed + adjusted equal closing, and liability use point_value?"""
    db.session.get(Program, 1).point_value_amount = 3
    member = factories.member(T0)
    factories.purchase(member, 10000, day(1))                      # before: opening 100
    purchase = factories.purchase(member, 20000, day(10))          # issued 200
    factories.refund(purchase.id, 5000, day(11))              # reversed 50
    with clock.frozen(day(12)):
        ledger.post_entry(member.id, "redeem", -120, ADMIN)
        ledger.post_entry(member.id, "return", 20, ADMIN)
        ledger.post_entry(member.id, "expiry", -7, ADMIN)
        adjustments.adjust(member.id, -3, "typo", ADMIN)
    with clock.frozen(day(40)):
        ledger.post_entry(member.id, "bonus", 9, ADMIN)  # after the period
    body = get_report(client, admin, "points", day(50), **{"from": "2023-01-08", "to": "2023-02-01"})
    assert body == {"opening": 100, "issued": 200, "redeemed": 100, "expired": 7, "reversed": 50, "adjusted": -3,
                    "closing": 140, "outstanding": 149, "pending": 0, "liability": {"amount": 447, "currency": "usd"},
                    "redemption_rate": "0.5000", "breakage_rate": "0.0350"}
    assert body["opening"] + body["issued"] - body["redeemed"] - body["expired"] - body["reversed"] \
        + body["adjusted"] == body["closing"]
    empty = get_report(client, admin, "points", day(50), **{"from": "2022-01-01", "to": "2022-02-01"})
    assert (empty["issued"], empty["redemption_rate"], empty["breakage_rate"]) == (0, None, None)


def test_at_risk_rule_and_order(client, admin, program):
    """Are quiet members found by the rule (2× median gap and ≥ 30 days; one purchase > 90 days), most valuable first?"""
    create_tier(client, admin, "bronze", 0)
    now = day(400)
    big_regular = factories.member(T0, email="big@example.com")   # gaps 10, 10, 40 → median 10; quiet 30: at risk
    for offset in (310, 320, 330, 370):
        factories.purchase(big_regular, 50000, day(offset))
    too_recent = factories.member(T0)                              # median 10, quiet 29 days: not yet
    for offset in (351, 361, 371):
        factories.purchase(too_recent, 90000, day(offset))
    slow = factories.member(T0)                                    # gaps 60, 100 → median 80; quiet 160: not > 160
    for offset in (80, 140, 240):
        factories.purchase(slow, 1000, day(offset))
    slower = factories.member(T0)                                  # the same a microsecond earlier: at risk
    for offset in (80, 140, 240):
        factories.purchase(slower, 1000, day(offset) - timedelta(microseconds=1))
    single_old = factories.member(T0)                              # one purchase 90 days + 1 µs ago: at risk
    factories.purchase(single_old, 2000, now - timedelta(days=90, microseconds=1))
    single_90 = factories.member(T0)                               # exactly 90 days: not
    factories.purchase(single_90, 2000, now - timedelta(days=90))
    refunded = factories.member(T0)                                # last purchase refunded: the one before counts
    factories.purchase(refunded, 4000, day(200))
    factories.refund(factories.purchase(refunded, 3000, day(390)).id, 3000, day(391))

    rows = all_at_risk(client, admin, now)
    assert [row["member_id"] for row in rows] == [big_regular.id, refunded.id, slower.id, single_old.id]
    assert rows[0] == {"member_id": big_regular.id, "email": "big@example.com", "tier": "bronze",
                       "last_purchase_at": stamp(day(370)), "usual_gap_days": "10.00",
                       "days_since_last_purchase": 30, "recent_qualifying_points": 2000,
                       "balance": db.session.get(Member, big_regular.id).points_balance}
    assert rows[1]["usual_gap_days"] is None and rows[1]["days_since_last_purchase"] == 200
    assert rows[2]["usual_gap_days"] == "80.00"
    first = get_report(client, admin, "at-risk", now, limit=1)
    second = get_report(client, admin, "at-risk", now, limit=1, cursor=first["next_cursor"])
    assert [first["data"][0]["member_id"], second["data"][0]["member_id"]] == [big_regular.id, refunded.id]


def test_at_risk_shows_the_entry_tier_as_the_members_endpoint_does(client, admin, program):
    """A member who enrolled before the entry tier existed holds it without a history row: the
    at-risk row names it, as GET /v1/members/{id} does (not null)."""
    quiet = factories.member(T0)
    factories.purchase(quiet, 2000, day(100))
    create_tier(client, admin, "bronze", 0)
    assert db.session.get(Member, quiet.id).tier_id is None
    [row] = all_at_risk(client, admin, day(400))
    shown = client.get(f"/v1/members/{quiet.id}", headers=admin).get_json()["tier"]["key"]
    assert row["tier"] == shown == "bronze"


# -- formats, parameters, roles, CLI ---------------------------------------------------------

def test_csv_has_the_json_field_names_flattened_with_empty_nulls(client, admin, program):
    """Does ?format=csv give text/csv with the same rows, parent_child columns and empty nulls?"""
    member = factories.member(T0)
    factories.purchase(member, 1000, day(1))
    params = {"from": "2023-01-01", "to": "2023-02-01", "format": "csv"}
    with clock.frozen(day(10)):
        response = client.get("/v1/reports/repurchase-by-tier", headers=admin, query_string=params)
        points_csv = client.get("/v1/reports/points", headers=admin, query_string=params)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [{"tier": tier, "buyers": "0", "repurchasers": "0", "repurchase_rate": "",
                     "median_days_to_repurchase": "", "immature": "1"} for tier in ("none", "all")]
    header, values = list(csv.reader(io.StringIO(points_csv.get_data(as_text=True))))
    assert header == ["opening", "issued", "redeemed", "expired", "reversed", "adjusted", "closing", "outstanding",
                      "pending", "liability_amount", "liability_currency", "redemption_rate", "breakage_rate"]
    assert values[header.index("liability_currency")] == "usd" and values[header.index("issued")] == "10"
    assert values[header.index("breakage_rate")] == "0.0000"


@pytest.mark.parametrize("path, params, field", [
    ("repurchase-by-tier", {"to": "2024-01-01"}, "from"),
    ("repurchase-by-tier", {"from": "2024-01-01"}, "to"),
    ("repurchase-by-tier", {"from": "2024-01-01", "to": "2024-01-01"}, "to"),
    ("repurchase-by-tier", {"from": "2024-02-01", "to": "2024-01-01"}, "to"),
    ("repurchase-by-tier", {"from": "2024-01-01", "to": "2024-02-01", "window_days": "0"}, "window_days"),
    ("repurchase-by-tier", {"from": "2024-01-01", "to": "2024-02-01", "window_days": "366"}, "window_days"),
    ("repurchase-by-tier", {"from": "2024-01-01", "to": "2024-02-01", "window_days": "9.5"}, "window_days"),
    ("cohorts", {"from": "2024-01-32", "to": "2024-02-01"}, "from"),
    ("cohorts", {"from": "2024-01-01T00:00:00Z", "to": "2024-02-01"}, "from"),
    ("points", {"from": "2024-01-01", "to": "2024-02-01", "format": "xml"}, "format"),
    ("at-risk", {"limit": "0"}, "limit"),
    ("at-risk", {"cursor": "not-a-cursor"}, "cursor"),
])
def test_bad_parameters_are_a_422(client, admin, program, path, params, field):
    """Are missing or malformed dates, from ≥ to, windows outside 1–365 and bad cursors a 422 naming the field?"""
    response = client.get(f"/v1/reports/{path}", headers=admin, query_string=params)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]


@pytest.mark.parametrize("path", ["repurchase-by-tier", "cohorts", "points", "at-risk"])
def test_reports_are_for_admins_only(client, storefront, program, path):
    """Is a storefront key refused with 403, and no credential with 401?"""
    params = {"from": "2024-01-01", "to": "2024-02-01"}
    response = client.get(f"/v1/reports/{path}", headers=storefront, query_string=params)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"/v1/reports/{path}", query_string=params).status_code == 401


def test_cli_prints_the_same_rows_as_the_api(app, client, admin, program):
    """Does `loyalty report` give the API's CSV and JSON, a readable table by default, and refuse bad dates?"""
    member = factories.member(T0)
    factories.purchase(member, 1000, day(1))
    factories.purchase(member, 1000, day(5))
    runner = app.test_cli_runner()
    args = ["loyalty", "report", "repurchase-by-tier", "--from", "2023-01-01", "--to", "2023-02-01",
            "--window-days", "30"]
    with clock.frozen(day(100)):
        api_csv = client.get("/v1/reports/repurchase-by-tier", headers=admin, query_string={
            "from": "2023-01-01", "to": "2023-02-01", "window_days": 30, "format": "csv"}).get_data(as_text=True)
        api_json = client.get("/v1/reports/at-risk", headers=admin).get_json()
        as_csv = runner.invoke(args=args + ["--format", "csv"])
        as_table = runner.invoke(args=args)
        as_json = runner.invoke(args=["loyalty", "report", "at-risk", "--format", "json"])
        backwards = runner.invoke(args=["loyalty", "report", "cohorts", "--from", "2023-02-01", "--to", "2023-01-01"])
    assert as_csv.exit_code == 0 and as_csv.output == api_csv.replace("\r\n", "\n")
    assert json.loads(as_json.output) == api_json and api_json["data"]
    title, *lines = as_table.output.splitlines()
    assert "2023-01-01 to 2023-01-31" in title and "window 30 days" in title
    assert lines[0].split() == ["tier", "buyers", "repurchasers", "repurchase_rate", "median_days_to_repurchase",
                                "immature"]
    assert lines[-1].split() == ["all", "1", "1", "1.0000", "4.00", "0"]
    assert backwards.exit_code == 2 and "before" in backwards.output


def test_reports_read_the_replica_named_by_reports_database_url(app, client, admin, program, tmp_path):
    """With REPORTS_DATABASE_URL set, do the report queries go there (an empty replica: no rows)?"""
    member = factories.member(T0)
    factories.purchase(member, 1000, day(1))
    params = {"from": "2023-01-01", "to": "2023-02-01"}
    assert get_report(client, admin, "cohorts", day(100), **params)["data"]
    replica = f"sqlite:///{tmp_path}/replica.sqlite3"
    engine = create_engine(replica)
    db.metadata.create_all(engine)
    engine.dispose()
    app.config["REPORTS_DATABASE_URL"] = replica
    try:
        assert get_report(client, admin, "cohorts", day(100), **params)["data"] == []
        assert get_report(client, admin, "points", day(100), **params)["outstanding"] == 0
    finally:
        app.config["REPORTS_DATABASE_URL"] = None
