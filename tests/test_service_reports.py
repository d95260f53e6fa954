"""The service reports (API.md, Reports: satisfaction, retention-by-feedback, service; Rules:
Retention after feedback, Service recovery), on both databases.

A seeded generator drives members through purchases, tier changes, feedback and cases (answered
fast or slowly, resolved on and just past the 48-hour edge, reopened); every report is then
recomputed here in plain Python, straight from the contract's Rules over the raw rows, and must
match the endpoint exactly. Hand-made cases pin the edges the Rules turn on.
"""
import csv
import io
import json
import random
import statistics
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from loyalty import clock, jobs
from loyalty.actors import Actor
from loyalty.extensions import db
from loyalty.models import Case, Feedback, Program, Purchase, Tier, TierChange
from loyalty.service import cases, feedback
from tests import factories
from tests.factories import ADMIN
from tests.helpers import ratio, rounded

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)
CUSTOMER = Actor("customer", "someone", role="customer")
US = timedelta(microseconds=1)
BANDS = [("csat", "happy"), ("csat", "neutral"), ("csat", "unhappy"),
         ("nps", "promoter"), ("nps", "passive"), ("nps", "detractor")]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def create_tier(client, admin, key, threshold, multiplier="1"):
    response = client.post("/v1/tiers", headers=admin, json={
        "key": key, "name": key.title(), "min_qualifying_points": threshold, "multiplier": multiplier})
    assert response.status_code == 201, response.get_json()


def get_report(client, admin, path: str, now: datetime, **params):
    with clock.frozen(now):
        response = client.get(f"/v1/reports/{path}", headers=admin, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# -- making history at given moments ---------------------------------------------------------

def give_feedback(member, kind: str, score: int, at: datetime) -> Feedback:
    with clock.frozen(at):
        return feedback.record_feedback(member.id, kind, score, ADMIN)


def open_case(member, at: datetime) -> Case:
    with clock.frozen(at):
        return cases.open_case(member.id, {"subject": "Late delivery", "category": "delivery"}, ADMIN)


def reply(case_id: str, at: datetime, actor: Actor = ADMIN) -> None:
    with clock.frozen(at):
        cases.reply(case_id, "Thank you, looking into it", actor)


def resolve(case_id: str, at: datetime, goodwill: int = 0) -> None:
    with clock.frozen(at):
        cases.resolve(case_id, "Refunded the delivery", ADMIN, goodwill_points=goodwill)


def reopen(case_id: str, at: datetime) -> None:
    with clock.frozen(at):
        cases.reopen(case_id, ADMIN)


# -- the reference: the contract's Rules in plain Python ----------------------------------------

def median_in(durations: list[timedelta], unit: timedelta):
    if not durations:
        return None
    middle = statistics.median([Decimal(duration // US) for duration in durations])
    return rounded(middle, unit // US, 1)


class Reference:
    def __init__(self):
        self.purchases = defaultdict(list)
        for purchase in db.session.execute(select(Purchase)).scalars():
            if purchase.amount - purchase.refunded_amount - purchase.disputed_amount > 0:
                self.purchases[purchase.member_id].append(purchase.occurred_at)
        self.history = defaultdict(list)
        for row in db.session.execute(select(TierChange.id, TierChange.member_id, TierChange.tier_id,
                                             TierChange.effective_at, TierChange.reason)):
            self.history[row.member_id].append(row)
        self.tiers = db.session.execute(select(Tier)).scalars().all()
        self.feedback = db.session.execute(select(Feedback)).scalars().all()
        self.cases = db.session.execute(select(Case)).scalars().all()

    def live_tiers(self) -> list:
        return sorted((t for t in self.tiers if t.deleted_at is None), key=lambda t: t.min_qualifying_points)

    def tier_at(self, member_id: str, moment: datetime) -> str:
        """The tier held at `moment`: the latest change in force then, else the entry tier."""
        rows = [row for row in self.history[member_id] if row.reason != "enrolled" and row.effective_at <= moment]
        if rows:
            latest = max(rows, key=lambda row: (row.effective_at, row.id))
            return {tier.id: tier.key for tier in self.tiers}[latest.tier_id] if latest.tier_id else "none"
        live = self.live_tiers()
        return live[0].key if live and live[0].min_qualifying_points == 0 else "none"

    def bought_within(self, member_id: str, moment: datetime, window: timedelta) -> bool:
        return any(moment < at <= moment + window for at in self.purchases[member_id])

    def by_tier(self, groups: dict, row) -> list[dict]:
        labels = [tier.key for tier in self.live_tiers()] + (["none"] if "none" in groups else [])
        everything = [item for items in groups.values() for item in items]
        return [row(label, groups.get(label, [])) for label in labels] + [row("all", everything)]

    def satisfaction(self, start, end) -> list[dict]:
        groups = defaultdict(list)
        for answer in self.feedback:
            if start <= answer.created_at < end:
                groups[self.tier_at(answer.member_id, answer.created_at)].append(answer)

        def row(label, answers):
            csat = [a.score for a in answers if a.kind == "csat"]
            nps = [a.score for a in answers if a.kind == "nps"]
            promoters = sum(1 for score in nps if score >= 9)
            detractors = sum(1 for score in nps if score <= 6)
            return {"tier": label, "csat_responses": len(csat),
                    "csat_average": rounded(sum(csat), len(csat), 2) if csat else None,
                    "csat_happy_rate": ratio(sum(1 for score in csat if score >= 4), len(csat)),
                    "nps_responses": len(nps), "promoters": promoters,
                    "passives": len(nps) - promoters - detractors, "detractors": detractors,
                    "nps": rounded(100 * (promoters - detractors), len(nps), 1) if nps else None}
        return self.by_tier(groups, row)

    def retention_by_feedback(self, start, end, window_days, now) -> list[dict]:
        window = timedelta(days=window_days)
        firsts = {}
        for answer in sorted(self.feedback, key=lambda a: (a.created_at, a.id)):
            if start <= answer.created_at < end:
                firsts.setdefault((answer.member_id, answer.kind), answer)
        rows = []
        for kind, band in BANDS:
            chosen = [f for f in firsts.values() if (f.kind, f.band) == (kind, band)]
            mature = [f for f in chosen if f.created_at + window <= now]
            again = [f for f in mature if self.bought_within(f.member_id, f.created_at, window)]
            rows.append({"kind": kind, "band": band, "members": len(mature), "repurchasers": len(again),
                         "repurchase_rate": ratio(len(again), len(mature)),
                         "immature": len(chosen) - len(mature)})
        return rows

    def service(self, start, end, window_days, now) -> list[dict]:
        window = timedelta(days=window_days)
        in_period = sorted((c for c in self.cases if start <= c.opened_at < end), key=lambda c: (c.opened_at, c.id))
        groups = defaultdict(list)
        for case in in_period:
            groups[self.tier_at(case.member_id, case.opened_at)].append(("case", case))
        firsts = {}
        for case in in_period:
            firsts.setdefault(case.member_id, case)
        for case in firsts.values():
            groups[self.tier_at(case.member_id, case.opened_at)].append(("first", case))

        def row(label, items):
            opened = [case for what, case in items if what == "case"]
            first = [case for what, case in items if what == "first"]
            complainants = [c for c in first if c.opened_at + window <= now]
            recovered = [c for c in complainants
                         if c.status == "resolved" and c.resolved_at <= c.opened_at + timedelta(hours=48)]
            others = [c for c in complainants if c not in recovered]

            def repurchase_rate(group):
                return ratio(sum(1 for c in group if self.bought_within(c.member_id, c.opened_at, window)), len(group))
            return {
                "tier": label, "opened": len(opened), "open": sum(1 for c in opened if c.status == "open"),
                "resolved": sum(1 for c in opened if c.status == "resolved"),
                "median_first_response_minutes": median_in(
                    [c.first_response_at - c.opened_at for c in opened if c.first_response_at], timedelta(minutes=1)),
                "median_resolution_hours": median_in(
                    [c.resolved_at - c.opened_at for c in opened if c.status == "resolved"], timedelta(hours=1)),
                "reopen_rate": ratio(sum(1 for c in opened if c.reopened_count > 0), len(opened)),
                "goodwill_points": sum(c.goodwill_points for c in opened),
                "complainants": len(complainants), "recovered": len(recovered),
                "recovered_repurchase_rate": repurchase_rate(recovered),
                "unrecovered_repurchase_rate": repurchase_rate(others),
                "immature": len(first) - len(complainants)}
        return self.by_tier(groups, row)


# -- the generated program -------------------------------------------------------------------

END = day(400)
ENTRY_TIER_DAY = 150


def generate(client, admin, seed: int = 1812, members_count: int = 90) -> None:
    """Members buying over about a year, answering surveys and opening cases, in time order.

    silver and gold come first with no entry tier (members below silver hold none); bronze, the
    entry tier, arrives later. Feedback and cases sometimes fall at the very moment of a purchase
    (which then does not count as after it) or exactly one window before one; resolutions fall
    on the 48-hour edge, a microsecond past it, within minutes, or days later; some are reopened.
    """
    rng = random.Random(seed)
    program = db.session.get(Program, 1)
    program.tier_window_days, program.tier_retention_days, program.goodwill_limit = 90, 30, 500
    db.session.commit()
    create_tier(client, admin, "silver", 300, "1.5")
    create_tier(client, admin, "gold", 1200, "2")
    events = []  # (moment, order, kind, payload)

    def add(moment, kind, payload=None):
        events.append((moment, len(events), kind, payload))

    for index in range(members_count):
        joined = day(rng.uniform(0, 330))
        add(joined, "enroll", index)
        moment = joined + timedelta(days=rng.uniform(0, 10))
        while moment < END:
            add(moment, "buy", (index, rng.choice([rng.randint(500, 30000), rng.randint(100, 2000)])))
            roll = rng.random()
            if roll < 0.25:  # feedback at the purchase's own moment, or a little later
                at = moment + rng.choice([timedelta(0), timedelta(hours=rng.uniform(1, 72))])
                kind = rng.choice(["csat", "nps"])
                add(at, "feedback", (index, kind, rng.randint(1, 5) if kind == "csat" else rng.randint(0, 10)))
            elif roll < 0.4:
                add(moment + rng.choice([timedelta(0), timedelta(hours=rng.uniform(1, 200))]), "case", index)
            if rng.random() < 0.05:
                break
            gap = rng.choice([timedelta(days=30), timedelta(days=90), timedelta(days=90) + US,
                              timedelta(days=rng.expovariate(1 / 25), microseconds=rng.randint(0, 999_999))])
            moment += gap
    for jobs_day in range(0, 401, 20):
        add(day(jobs_day) + timedelta(hours=1), "jobs")
    add(day(ENTRY_TIER_DAY), "entry_tier")
    events.sort(key=lambda event: (event[0], event[1]))

    enrolled, follow_ups = {}, []
    for moment, _, kind, payload in events:
        if moment >= END:
            continue
        if kind == "enroll":
            enrolled[payload] = factories.member(moment, email=f"s{payload}@example.com")
        elif kind == "buy":
            factories.purchase(enrolled[payload[0]], payload[1], moment)
        elif kind == "feedback":
            index, answer_kind, score = payload
            give_feedback(enrolled[index], answer_kind, score, moment)
        elif kind == "case":
            follow_ups += _case_story(rng, open_case(enrolled[payload], moment))
        elif kind == "jobs":
            with clock.frozen(moment):
                jobs.reevaluate_tier_config(moment)
                jobs.evaluate_tiers(moment)
        elif kind == "entry_tier":
            with clock.frozen(moment):
                create_tier(client, admin, "bronze", 0)
    # Replies, resolutions and reopenings come after everything above (any order is the same to
    # the reports, which read the cases' present), each case's steps in its own time order.
    for moment, step, case_id, extra in sorted(follow_ups, key=lambda item: (item[0], item[2])):
        if step == "reply":
            reply(case_id, moment, extra)
        elif step == "resolve":
            resolve(case_id, moment, extra)
        else:
            reopen(case_id, moment)
    db.session.commit()


def _case_story(rng, case: Case) -> list:
    """A case's later steps: (moment, step, case id, detail)."""
    opened, steps = case.opened_at, []
    if rng.random() < 0.8:
        if rng.random() < 0.2:  # the customer writes first: not a first response
            steps.append((opened + timedelta(minutes=rng.uniform(1, 30)), "reply", case.id, CUSTOMER))
        steps.append((opened + timedelta(minutes=rng.choice([5, 30, 45, rng.uniform(1, 3000)])), "reply",
                      case.id, ADMIN))
    if rng.random() < 0.75:
        took = rng.choice([timedelta(hours=48), timedelta(hours=48) + US, timedelta(hours=rng.uniform(0.5, 30)),
                           timedelta(days=rng.uniform(3, 20))])
        steps.append((opened + took, "resolve", case.id, rng.choice([0, 0, 50, 200])))
        if rng.random() < 0.25:
            steps.append((opened + took + timedelta(days=2), "reopen", case.id, None))
            if rng.random() < 0.5:
                steps.append((opened + took + timedelta(days=4), "resolve", case.id, 0))
    return steps


PERIODS = [("2024-01-01", "2025-03-01"), ("2024-02-10", "2024-06-01"), ("2024-07-01", "2024-12-01")]


def moment_of(date_text: str) -> datetime:
    return datetime.fromisoformat(date_text).replace(tzinfo=timezone.utc)


def test_service_reports_match_the_reference_on_generated_data(client, admin, program):
    """Do satisfaction, retention-by-feedback and service equal the Rules computed in plain Python?"""
    generate(client, admin)
    reference = Reference()
    seen = defaultdict(int)  # what the comparisons covered, so that a vacuous pass shows
    for now in (END + timedelta(days=30), day(250) + timedelta(hours=5, microseconds=7)):
        for start, end in PERIODS:
            period = (moment_of(start), moment_of(end))
            body = get_report(client, admin, "satisfaction", now, **{"from": start, "to": end})
            assert body == {"data": reference.satisfaction(*period), "next_cursor": None}, (start, end)
            for window_days in (1, 30, 90):
                params = {"from": start, "to": end, "window_days": window_days}
                expected = reference.retention_by_feedback(*period, window_days, now)
                body = get_report(client, admin, "retention-by-feedback", now, **params)
                assert body == {"data": expected, "next_cursor": None}, (start, end, window_days, now)
                for row in expected:
                    seen[row["band"]] += row["members"]
                    seen["feedback immature"] += row["immature"]
                    seen["feedback repurchasers"] += row["repurchasers"]
                expected = reference.service(*period, window_days, now)
                body = get_report(client, admin, "service", now, **params)
                assert body == {"data": expected, "next_cursor": None}, (start, end, window_days, now)
                for row in expected:
                    seen[row["tier"]] += row["opened"]
                    seen["recovered"] += row["recovered"]
                    seen["unrecovered"] += row["complainants"] - row["recovered"]
                    seen["case immature"] += row["immature"]
                    seen["reopened"] += row["reopen_rate"] not in (None, "0.0000")
    took = [c.resolved_at - c.opened_at for c in reference.cases if c.resolved_at]
    assert timedelta(hours=48) in took and timedelta(hours=48) + US in took  # both sides of the edge
    assert all(seen[label] > 0 for label in (
        "bronze", "silver", "none", "recovered", "unrecovered", "case immature", "reopened", "feedback immature",
        "feedback repurchasers", *(band for _, band in BANDS))), dict(seen)


# -- hand-made edges --------------------------------------------------------------------------

def rows_of(client, admin, path, now, start="2024-01-01", end="2025-01-01", window_days=90) -> dict:
    window = {} if path == "satisfaction" else {"window_days": window_days}  # satisfaction has no window
    body = get_report(client, admin, path, now, **{"from": start, "to": end, **window})
    return {row.get("tier") or (row["kind"], row["band"]): row for row in body["data"]}


def test_recovered_means_resolved_within_48_hours_exactly(client, admin, program):
    """Is a first case resolved at opened + 48 h recovered, one a microsecond later not, and a repurchase
    counted only after opened_at and up to opened_at + window_days?"""
    on_edge, past_edge, never, later_case = (factories.member(T0) for _ in range(4))
    for member, took in ((on_edge, timedelta(hours=48)), (past_edge, timedelta(hours=48) + US)):
        case = open_case(member, day(10))
        resolve(case.id, day(10) + took)
    open_case(never, day(10))
    factories.purchase(on_edge, 1000, day(10) + timedelta(days=90))             # the window's last moment
    factories.purchase(past_edge, 1000, day(10) + timedelta(days=90) + US)       # just after it
    factories.purchase(never, 1000, day(10))                                      # at opened_at: not after
    first = open_case(later_case, day(20))
    resolve(first.id, day(25))                                                    # slow: not recovered...
    resolve(open_case(later_case, day(21)).id, day(21) + timedelta(hours=1))    # ...a later fast case does not count
    row = rows_of(client, admin, "service", day(200))["all"]
    assert (row["opened"], row["open"], row["resolved"]) == (5, 1, 4)
    assert (row["complainants"], row["recovered"]) == (4, 1)
    assert (row["recovered_repurchase_rate"], row["unrecovered_repurchase_rate"]) == ("1.0000", "0.0000")


def test_medians_of_an_even_count_are_the_mean_of_the_middle_two(client, admin, program):
    """Are median first response and resolution the mean of the two middle values, to 1 place?"""
    member = factories.member(T0)
    for offset, first_minutes, hours in ((1, 10, 1), (2, 25, 4), (3, 5, 2), (4, 40, 30), (5, None, 6)):
        case = open_case(member, day(offset))
        reply(case.id, day(offset) + timedelta(minutes=1), CUSTOMER)             # the customer's: not counted
        if first_minutes:
            reply(case.id, day(offset) + timedelta(minutes=first_minutes))
        resolve(case.id, day(offset) + timedelta(hours=hours), goodwill=0 if offset % 2 else 40)
    reopen(case.id, day(9))                                                       # the last: open again
    row = rows_of(client, admin, "service", day(200))["all"]
    assert row["median_first_response_minutes"] == "17.5"                         # 5, 10, 25, 40
    assert row["median_resolution_hours"] == "3.0"                                # 1, 2, 4, 30
    assert (row["reopen_rate"], row["goodwill_points"], row["open"]) == ("0.2000", 80, 1)


def test_immature_members_count_only_as_immature(client, admin, program):
    """Is a member whose first case or answer is less than window_days old only in `immature`?"""
    create_tier(client, admin, "bronze", 0)
    old, young = factories.member(T0), factories.member(T0)
    for member, at in ((old, day(5)), (young, day(100))):
        open_case(member, at)
        give_feedback(member, "nps", 10, at)
    now = day(100) + timedelta(days=90) - US
    service_rows = rows_of(client, admin, "service", now)
    assert list(service_rows) == ["bronze", "all"]
    assert (service_rows["bronze"]["complainants"], service_rows["bronze"]["immature"]) == (1, 1)
    promoters = rows_of(client, admin, "retention-by-feedback", now)[("nps", "promoter")]
    assert (promoters["members"], promoters["immature"], promoters["repurchase_rate"]) == (1, 1, "0.0000")
    assert rows_of(client, admin, "service", now + US)["bronze"]["complainants"] == 2


def test_each_member_counts_once_per_kind_under_their_first_answer(client, admin, program):
    """Does retention-by-feedback use each member's first answer of each kind, every band always shown?"""
    member = factories.member(T0)
    give_feedback(member, "csat", 2, day(1))
    give_feedback(member, "csat", 5, day(2))
    give_feedback(member, "nps", 7, day(3))
    factories.purchase(member, 1000, day(30))
    body = get_report(client, admin, "retention-by-feedback", day(300), **{"from": "2024-01-01", "to": "2024-02-01"})
    assert [(row["kind"], row["band"]) for row in body["data"]] == BANDS
    counted = {(row["kind"], row["band"]): (row["members"], row["repurchasers"]) for row in body["data"]}
    assert counted == {("csat", "happy"): (0, 0), ("csat", "neutral"): (0, 0), ("csat", "unhappy"): (1, 1),
                       ("nps", "promoter"): (0, 0), ("nps", "passive"): (1, 1), ("nps", "detractor"): (0, 0)}


def test_feedback_counts_under_the_tier_held_when_given(client, admin, program):
    """Is an answer at the very moment of an upgrade counted under the new tier, and one before under the old?"""
    create_tier(client, admin, "bronze", 0)
    create_tier(client, admin, "silver", 500, "1.5")
    member = factories.member(T0)
    give_feedback(member, "csat", 3, day(10) - US)
    factories.purchase(member, 60000, day(10))                                   # crosses silver at day 10
    give_feedback(member, "csat", 4, day(10))
    give_feedback(member, "nps", 3, day(11))
    give_feedback(member, "nps", 10, day(11))
    give_feedback(member, "nps", 9, day(12))
    give_feedback(member, "nps", 8, day(12))
    rows = get_report(client, admin, "satisfaction", day(20), **{"from": "2024-01-01", "to": "2024-02-01"})["data"]
    assert rows == [
        {"tier": "bronze", "csat_responses": 1, "csat_average": "3.00", "csat_happy_rate": "0.0000",
         "nps_responses": 0, "promoters": 0, "passives": 0, "detractors": 0, "nps": None},
        {"tier": "silver", "csat_responses": 1, "csat_average": "4.00", "csat_happy_rate": "1.0000",
         "nps_responses": 4, "promoters": 2, "passives": 1, "detractors": 1, "nps": "25.0"},
        {"tier": "all", "csat_responses": 2, "csat_average": "3.50", "csat_happy_rate": "0.5000",
         "nps_responses": 4, "promoters": 2, "passives": 1, "detractors": 1, "nps": "25.0"},
    ]


def test_a_negative_nps_rounds_half_away_from_zero(client, admin, program):
    """Is an NPS of −0.25 (one detractor in 400 answers) shown as −0.3, as +0.25 would be 0.3?"""
    member = factories.member(T0)
    for index in range(400):
        give_feedback(member, "nps", 0 if index == 0 else 8, day(1) + timedelta(seconds=index))
    row = rows_of(client, admin, "satisfaction", day(20))["all"]
    assert (row["nps"], row["detractors"], row["passives"]) == ("-0.3", 1, 399)


def test_empty_period_gives_every_tier_and_nulls(client, admin, program):
    """With nothing in the period, is there a row per tier then `all`, with zero counts and null rates?"""
    create_tier(client, admin, "gold", 900)
    rows = get_report(client, admin, "service", day(0), **{"from": "2024-01-01", "to": "2024-02-01"})["data"]
    assert [row["tier"] for row in rows] == ["gold", "all"]
    assert rows[-1]["median_resolution_hours"] is None and rows[-1]["reopen_rate"] is None
    assert rows[-1]["recovered_repurchase_rate"] is None and rows[-1]["opened"] == 0


# -- formats, parameters, roles, CLI ---------------------------------------------------------

@pytest.mark.parametrize("path", ["satisfaction", "retention-by-feedback", "service"])
def test_csv_and_cli_give_the_same_rows(app, client, admin, program, path):
    """Does ?format=csv give the JSON rows as CSV, and `loyalty report NAME --format csv|json` the same?"""
    member = factories.member(T0)
    give_feedback(member, "csat", 5, day(1))
    case = open_case(member, day(1))
    resolve(case.id, day(2))
    window = {} if path == "satisfaction" else {"window_days": 30}  # satisfaction takes no window
    params = {"from": "2024-01-01", "to": "2024-02-01", **window}
    with clock.frozen(day(100)):
        as_json = client.get(f"/v1/reports/{path}", headers=admin, query_string=params).get_json()
        response = client.get(f"/v1/reports/{path}", headers=admin, query_string={**params, "format": "csv"})
        runner = app.test_cli_runner()
        args = ["loyalty", "report", path, "--from", "2024-01-01", "--to", "2024-02-01",
                *(["--window-days", "30"] if window else [])]
        cli_csv = runner.invoke(args=args + ["--format", "csv"])
        cli_json = runner.invoke(args=args + ["--format", "json"])
        cli_table = runner.invoke(args=args)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [{key: "" if value is None else str(value) for key, value in row.items()}
                    for row in as_json["data"]]
    assert cli_csv.exit_code == 0 and cli_csv.output == response.get_data(as_text=True).replace("\r\n", "\n")
    assert json.loads(cli_json.output) == as_json
    assert cli_table.exit_code == 0 and "2024-01-01 to 2024-01-31" in cli_table.output.splitlines()[0]


@pytest.mark.parametrize("path, params, field", [
    ("satisfaction", {"to": "2024-01-01"}, "from"),
    ("satisfaction", {"from": "2024-02-01", "to": "2024-01-01"}, "to"),
    ("retention-by-feedback", {"from": "2024-01-01", "to": "2024-01-01"}, "to"),
    ("retention-by-feedback", {"from": "2024-01-01", "to": "2024-02-01", "window_days": "0"}, "window_days"),
    ("service", {"from": "2024-01-01", "to": "2024-02-01", "window_days": "366"}, "window_days"),
    ("service", {"from": "2024-01-01"}, "to"),
    ("service", {"from": "2024-01-01", "to": "2024-02-01", "format": "xml"}, "format"),
])
def test_bad_parameters_are_a_422(client, admin, program, path, params, field):
    """Are missing dates, from ≥ to and windows outside 1–365 a 422 naming the field, as for the other reports?"""
    response = client.get(f"/v1/reports/{path}", headers=admin, query_string=params)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]["fields"]


@pytest.mark.parametrize("path", ["satisfaction", "retention-by-feedback", "service"])
def test_service_reports_are_for_admins_only(client, storefront, program, path):
    """Is a storefront key refused with 403, and no credential with 401?"""
    params = {"from": "2024-01-01", "to": "2024-02-01"}
    response = client.get(f"/v1/reports/{path}", headers=storefront, query_string=params)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"/v1/reports/{path}", query_string=params).status_code == 401
