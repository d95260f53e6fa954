"""`loyalty import members|purchases` (API.md, Operations) on both databases: the same Rules as
the API, idempotent, bad rows reported by line, --dry-run, CSV and JSON Lines, standard input."""
import csv
import io
import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from loyalty import clock, jobs
from loyalty.extensions import db
from loyalty.models import LedgerEntry, Member, Program, Purchase, Tier, TierChange, WebhookDelivery, WebhookEvent

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def cli(app):
    """cli(*args, input=None) -> click result, with the clock at NOW."""
    def invoke(*args, input=None):
        with clock.frozen(NOW):
            return app.test_cli_runner().invoke(args=["loyalty", *args], input=input)
    return invoke


@pytest.fixture
def tiered(client, admin, program):
    """Bronze 0 (×1), Silver 500 (×1.5), Gold 1500 (×2); 365-day window and retention; points
    pending for 30 days; a ×2 campaign for silver members in the first half of 2025."""
    for key, threshold, multiplier in (("bronze", 0, "1"), ("silver", 500, "1.5"), ("gold", 1500, "2")):
        response = client.post("/v1/tiers", headers=admin, json={
            "key": key, "name": key.title(), "min_qualifying_points": threshold, "multiplier": multiplier})
        assert response.status_code == 201, response.get_json()
    response = client.post("/v1/campaigns", headers=admin, json={
        "name": "Silver spring", "multiplier": "2", "tiers": ["silver"],
        "starts_at": "2025-01-01T00:00:00Z", "ends_at": "2025-07-01T00:00:00Z"})
    assert response.status_code == 201, response.get_json()
    db.session.get(Program, 1).pending_days = 30
    db.session.commit()
    with clock.frozen(NOW):
        list(jobs.run_all())


def write_csv(path, rows: list[dict]):
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def history(count: int, seed: int) -> list[dict]:
    """`count` purchases over the two years before NOW, in no particular order."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=730)
    return [{"amount": rng.randrange(50, 900) * 100, "currency": "usd",
             "occurred_at": stamp(start + timedelta(days=rng.uniform(0, 725)))} for _ in range(count)]


def member_state(member_id: str) -> dict:
    """What a member's purchases earned, their upgrades and where they stand now.

    Not when the present tier was reached: the API, taking a past history one purchase at a time,
    evaluates as of now after each with the history so far (and may record a downgrade and a
    re-upgrade today); the import evaluates once, with the whole history."""
    member = db.session.get(Member, member_id, populate_existing=True)
    purchases = db.session.execute(
        select(Purchase.occurred_at, Purchase.points_earned, Purchase.pending_points, Purchase.qualifying_points,
               Purchase.tier_multiplier, Purchase.campaign_multiplier, Purchase.vests_at)
        .where(Purchase.member_id == member_id).order_by(Purchase.occurred_at)).all()
    changes = db.session.execute(
        select(TierChange.tier_id, TierChange.effective_at, TierChange.reason)
        .where(TierChange.member_id == member_id, TierChange.reason == "purchase")
        .order_by(TierChange.effective_at, TierChange.id)).all()
    entries = db.session.execute(
        select(LedgerEntry.type, LedgerEntry.points, LedgerEntry.balance_after)
        .where(LedgerEntry.member_id == member_id).order_by(LedgerEntry.id)).all()
    return {"purchases": purchases, "tier_history": changes, "entries": entries,
            "member": (member.points_balance, member.points_pending, member.tier_id, member.last_purchase_at,
                       member.enrolled_at)}


def test_an_imported_history_earns_what_the_api_gives_the_same_purchases(cli, client, admin, tiered, tmp_path):
    members = [{"external_id": f"imp-{n}", "email": f"imp{n}@example.com"} for n in range(6)]
    result = cli("import", "members", write_csv(tmp_path / "members.csv", members))
    assert result.exit_code == 0, result.output + result.stderr
    rows = []
    for n in range(6):  # each member's rows together, in no order among themselves
        rows += [{"external_id": f"imp-{n}", "order_id": f"imp-{n}-{k}", **purchase}
                 for k, purchase in enumerate(history(14, seed=n))]
    result = cli("import", "purchases", write_csv(tmp_path / "purchases.csv", rows))
    assert result.exit_code == 0, result.output + result.stderr
    assert "84 rows read, 84 added, 0 already there, 0 refused" in result.output

    for n in range(6):  # the same purchases through the API, one at a time in time order
        with clock.frozen(NOW):
            api_member = client.post("/v1/members", headers=admin, json={"external_id": f"api-{n}"}).get_json()
            for k, purchase in sorted(enumerate(history(14, seed=n)), key=lambda item: item[1]["occurred_at"]):
                response = client.post("/v1/purchases", headers=admin, json={
                    "member_id": api_member["id"], "order_id": f"api-{n}-{k}", **purchase})
                assert response.status_code == 201, response.get_json()
        imported = db.session.execute(select(Member.id).where(Member.external_id == f"imp-{n}")).scalar_one()
        assert member_state(imported) == member_state(api_member["id"])

    imported_tiers = db.session.execute(
        select(Member.tier_id).where(Member.external_id.like("imp-%")).distinct()).scalars().all()
    assert len(imported_tiers) > 1  # the histories reach different tiers
    upgrades = db.session.execute(select(func.count()).select_from(TierChange)
                                  .where(TierChange.reason == "purchase")).scalar_one()
    assert upgrades >= 6
    multipliers = set(db.session.execute(select(Purchase.tier_multiplier, Purchase.campaign_multiplier)).all())
    assert {m for m, _ in multipliers} == {1, Decimal("1.5"), 2} and {c for _, c in multipliers} == {1, 2}
    assert cli("verify-ledger").exit_code == 0


def test_running_an_import_again_adds_nothing_and_other_content_is_refused(cli, enroll, tiered, tmp_path):
    enroll(external_id="c-1")
    rows = [{"external_id": "c-1", "order_id": f"o-{k}", **purchase} for k, purchase in enumerate(history(5, 1))]
    path = write_csv(tmp_path / "p.csv", rows)
    assert cli("import", "purchases", path).exit_code == 0
    before = db.session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()

    again = cli("import", "purchases", path)
    assert again.exit_code == 0, again.stderr
    assert "5 rows read, 0 added, 5 already there, 0 refused" in again.output
    assert db.session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == before

    rows[2]["amount"] += 1
    changed = cli("import", "purchases", write_csv(tmp_path / "changed.csv", rows))
    assert changed.exit_code == 1
    assert "line 4: order_exists" in changed.stderr
    assert "4 already there, 1 refused" in changed.output


def test_bad_rows_are_reported_with_their_line_and_the_others_load(cli, enroll, tiered, tmp_path):
    enroll(external_id="c-1")
    enroll(external_id="c-2")
    lines = [
        {"external_id": "c-1", "order_id": "a", "amount": 1000, "currency": "usd", "occurred_at": "2025-05-01T10:00:00Z"},
        {"external_id": "c-1", "order_id": "b", "amount": 10.5, "currency": "usd", "occurred_at": "2025-05-01T10:00:00Z"},
        {"external_id": "nobody", "order_id": "c", "amount": 100, "currency": "usd", "occurred_at": "2025-05-01T10:00:00Z"},
        "not json at all",
        {"external_id": "c-2", "order_id": "d", "amount": 100, "currency": "xxx", "occurred_at": "2025-05-01T10:00:00Z"},
        {"external_id": "c-2", "order_id": "e", "amount": 100, "currency": "jpy", "occurred_at": "2025-05-01T10:00:00"},
        {"external_id": "c-2", "order_id": "f", "amount": 100, "currency": "usd", "occurred_at": "2026-01-16T10:00:00Z"},
        {"external_id": "c-2", "order_id": "g", "amount": 2500, "currency": "usd", "occurred_at": "2025-06-01T10:00:00Z"},
    ]
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    result = cli("import", "purchases", "-", input=text)  # JSON Lines on standard input
    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    for number, words in ((2, "amount"), (3, "not_found"), (4, "not valid JSON"), (5, "currency"),
                          (6, "offset"), (7, "future")):
        assert any(line.startswith(f"line {number}: ") and words in line for line in problems), (number, problems)
    assert "8 rows read, 2 added, 0 already there, 6 refused" in result.output
    orders = set(db.session.execute(select(Purchase.order_id)).scalars())
    assert orders == {"a", "g"}


def test_a_dry_run_checks_everything_and_writes_nothing(cli, enroll, tiered, tmp_path):
    enroll(external_id="c-1")
    rows = [{"external_id": "c-1", "order_id": f"o-{k}", **purchase} for k, purchase in enumerate(history(4, 2))]
    rows.append({"external_id": "c-9", "order_id": "x", "amount": 100, "currency": "usd",
                 "occurred_at": "2025-01-01T00:00:00Z"})
    result = cli("import", "purchases", "--dry-run", write_csv(tmp_path / "p.csv", rows))
    assert result.exit_code == 1
    assert "line 6: not_found" in result.stderr
    assert "5 rows read, 4 would be added (dry run: nothing written), 0 already there, 1 refused" in result.output
    assert db.session.execute(select(func.count()).select_from(Purchase)).scalar_one() == 0
    members = cli("import", "members", "--dry-run", "-", input="external_id,name\nz-1,Zed\n")
    assert members.exit_code == 0
    assert db.session.execute(select(Member).where(Member.external_id == "z-1")).first() is None


def test_members_import_enrols_once_with_their_first_tier_row(cli, tiered, tmp_path):
    rows = ("external_id,email,name,birthday,metadata,enrolled_at\n"
            'm-1,Ann@Example.com,Ann,1990-02-03,"{""store"": ""north""}",2020-05-01T09:00:00Z\n'
            "m-2,,Bob,,,\n"
            "m-3,not-an-email,Cy,,,\n"
            "m-1,,Again,,,\n")
    result = cli("import", "members", "-", input=rows)
    assert result.exit_code == 1
    assert "line 4: validation_error: email" in result.stderr
    assert "4 rows read, 2 added, 1 already there, 1 refused" in result.output
    ann = db.session.execute(select(Member).where(Member.external_id == "m-1")).scalar_one()
    assert (ann.email, ann.name, str(ann.birthday), ann.attributes) == ("ann@example.com", "Ann", "1990-02-03",
                                                                         {"store": "north"})
    assert ann.enrolled_at == datetime(2020, 5, 1, 9, tzinfo=timezone.utc)
    assert ann.member_code and ann.tier.key == "bronze"
    first = db.session.execute(select(TierChange).where(TierChange.member_id == ann.id)).scalar_one()
    assert (first.reason, first.effective_at, first.tier.key) == ("enrolled", ann.enrolled_at, "bronze")
    again = cli("import", "members", "-", input=rows)
    assert "4 rows read, 0 added, 3 already there, 1 refused" in again.output


def test_unknown_csv_columns_stop_the_import_before_anything_loads(cli, tmp_path):
    result = cli("import", "members", "-", input="external_id,shoe_size\nm-1,42\n")
    assert result.exit_code == 2
    assert "shoe_size" in result.stderr
    assert db.session.execute(select(Member)).first() is None


def test_a_members_rows_split_across_the_file_still_load_under_the_rules(cli, enroll, tiered, tmp_path):
    for n in range(3):
        enroll(external_id=f"c-{n}")
    purchases = history(12, 5)
    rows = [{"external_id": f"c-{k % 3}", "order_id": f"o-{k}", **purchase} for k, purchase in enumerate(purchases)]
    result = cli("import", "purchases", "--batch-size", "2", write_csv(tmp_path / "p.csv", rows))
    assert result.exit_code == 0, result.stderr
    assert "12 added" in result.output
    assert db.session.execute(select(func.count()).select_from(Purchase)).scalar_one() == 12
    assert cli("verify-ledger").exit_code == 0


def test_points_still_in_their_return_window_are_pending_and_vest_later(cli, enroll, tiered):
    member = enroll(external_id="c-1")
    rows = ("external_id,order_id,amount,currency,occurred_at\n"
            "c-1,old,10000,usd,2025-06-01T10:00:00Z\n"
            "c-1,recent,20000,usd,2026-01-10T10:00:00Z\n")
    assert cli("import", "purchases", "-", input=rows).exit_code == 0
    state = db.session.get(Member, member["id"], populate_existing=True)
    assert (state.points_balance, state.points_pending) == (100, 200)
    with clock.frozen(NOW + timedelta(days=30)):
        list(jobs.run_all())
    state = db.session.get(Member, member["id"], populate_existing=True)
    assert (state.points_balance, state.points_pending) == (300, 0)


@pytest.mark.parametrize("row", [
    {"external_id": "c-1", "order_id": "o", "amount": 1, "currency": "usd", "occurred_at": "2025-01-01T10:00:00Z"},
    {"member_id": "mem_1", "order_id": "o" * 255, "amount": 10**15, "currency": "JPY",
     "occurred_at": "2025-01-01T10:00:00.123456+05:30", "source": "pos"},
    {"external_id": "c-1", "order_id": "o", "amount": True, "currency": "usd", "occurred_at": "2025-01-01T10:00:00Z"},
    {"external_id": "c-1", "order_id": "o", "amount": 1.0, "currency": "usd", "occurred_at": "2025-01-01T10:00:00Z"},
    {"external_id": "c-1", "order_id": "o", "amount": 10**15 + 1, "currency": "usd", "occurred_at": "2025-01-01T10:00:00Z"},
    {"external_id": "c-1", "order_id": "", "amount": 5, "currency": "usd", "occurred_at": "2025-01-01T10:00:00Z"},
    {"external_id": "c-1", "order_id": "o", "amount": 5, "currency": "usx", "occurred_at": "2025-01-01T10:00:00Z"},
    {"external_id": "c-1", "order_id": "o", "amount": 5, "currency": "usd", "occurred_at": "1969-12-31T23:59:59Z"},
    {"external_id": "c-1", "order_id": "o", "amount": 5, "currency": "usd", "occurred_at": "2025-01-01 10:00:00Z"},
    {"external_id": "c-1", "order_id": "o", "amount": 5, "currency": "usd", "occurred_at": "2025-01-01T10:00:00"},
    {"external_id": "c-1", "order_id": "o", "amount": 5, "currency": "usd", "occurred_at": "2025-01-01T10:00:00Z",
     "source": "stripe"},
    {"external_id": "c-1", "member_id": "m", "order_id": "o", "amount": 5, "currency": "usd",
     "occurred_at": "2025-01-01T10:00:00Z"},
    {"external_id": "c-1", "order_id": "o", "amount": 5, "currency": "usd", "occurred_at": "2025-01-01T10:00:00Z",
     "colour": "red"},
])
def test_the_quick_purchase_loader_accepts_only_what_the_schema_accepts_and_gives_the_same(row):
    import marshmallow as ma

    from loyalty.cli.imports import PurchaseImportSchema, _plain_purchase

    quick = _plain_purchase(dict(row))
    try:
        loaded = PurchaseImportSchema().load(dict(row))
    except ma.ValidationError:
        assert quick is None
    else:
        assert quick is None or quick == loaded


def test_the_quick_purchase_loader_takes_the_usual_rows():
    from loyalty.cli.imports import _plain_purchase

    assert _plain_purchase({"external_id": "c-1", "order_id": "o", "amount": 250, "currency": "USD",
                            "occurred_at": "2025-01-01T10:00:00+01:00"}) == {
        "external_id": "c-1", "order_id": "o", "amount": 250, "currency": "usd", "source": "api",
        "occurred_at": datetime(2025, 1, 1, 9, tzinfo=timezone.utc)}


def test_imported_members_are_found_by_the_digits_of_their_phone(cli, client, admin, tiered):
    """The import writes members with a Core insert: it keeps phone_digits as enrolment does."""
    result = cli("import", "members", "-", input='external_id,phone\np-1,"+1 (555) 010-2030"\np-2,555 0199\n')
    assert result.exit_code == 0, result.output
    found = client.get("/v1/members?phone=15550102030", headers=admin).get_json()["data"]
    assert [member["external_id"] for member in found] == ["p-1"]


def test_an_import_records_the_events_the_api_would(cli, client, admin, tiered, webhook_endpoint, tmp_path):
    """member.enrolled for each member (as GET shows them), member.tier_changed for each upgrade,
    each with its delivery (API.md, Outbound webhooks: a committed change is never without its event)."""
    webhook_endpoint(events=["*"])
    members = [{"external_id": f"ev-{n}", "email": f"ev{n}@example.com"} for n in range(4)]
    assert cli("import", "members", write_csv(tmp_path / "members.csv", members)).exit_code == 0
    enrolled = events_of("member.enrolled")
    with clock.frozen(NOW):
        shown = [client.get(f"/v1/members/{event['id']}", headers=admin).get_json() for event in enrolled]
    assert sorted(event["external_id"] for event in enrolled) == [f"ev-{n}" for n in range(4)]
    assert enrolled == shown

    rows = [{"external_id": f"ev-{n}", "order_id": f"ev-{n}-{k}", **purchase}
            for n in range(4) for k, purchase in enumerate(history(14, seed=n))]
    assert cli("import", "purchases", write_csv(tmp_path / "purchases.csv", rows)).exit_code == 0
    keys = dict(db.session.execute(select(Tier.id, Tier.key)).all())
    upgrades = db.session.execute(
        select(Member.id, TierChange.tier_id, TierChange.effective_at).join(Member, Member.id == TierChange.member_id)
        .where(TierChange.reason == "purchase").order_by(Member.id, TierChange.effective_at)).all()
    assert len(upgrades) >= 4
    changed = [event for event in events_of("member.tier_changed") if event["reason"] == "purchase"]
    assert sorted((e["member_id"], e["effective_at"], e["to"]) for e in changed) == [
        (member_id, stamp(moment), keys[tier_id]) for member_id, tier_id, moment in upgrades]
    assert {event["direction"] for event in changed} == {"up"}
    assert all(event["from"] != event["to"] for event in changed)
    deliveries = db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()
    assert deliveries == db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()


def events_of(event_type: str) -> list[dict]:
    bodies = db.session.execute(select(WebhookEvent.body).where(WebhookEvent.type == event_type)
                                .order_by(WebhookEvent.id)).scalars()
    return [json.loads(body)["data"]["object"] for body in bodies]


def test_a_batch_that_fails_half_way_leaves_nothing_of_itself_and_keeps_the_batches_before(
        cli, enroll, tiered, tmp_path, monkeypatch):
    """Each batch is one transaction: a failure after its purchases were written (here, as its
    ledger entries go in) takes all of that batch back; the batch before stays, balances agree."""
    from loyalty import ledger

    for n in range(2):
        enroll(external_id=f"c-{n}")
    rows = [{"external_id": f"c-{n}", "order_id": f"o-{n}-{k}", **purchase}
            for n in range(2) for k, purchase in enumerate(history(3, n))]
    posted, post_batch = [], ledger.post_batch

    def failing_second_time(*args, **kwargs):
        posted.append(1)
        if len(posted) == 2:
            raise RuntimeError("the database went away")
        return post_batch(*args, **kwargs)

    monkeypatch.setattr(ledger, "post_batch", failing_second_time)
    result = cli("import", "purchases", "--batch-size", "3", write_csv(tmp_path / "p.csv", rows))
    assert isinstance(result.exception, RuntimeError)
    orders = set(db.session.execute(select(Purchase.order_id)).scalars())
    assert orders == {"o-0-0", "o-0-1", "o-0-2"}  # the first batch, and nothing of the second
    members = dict(db.session.execute(select(Member.external_id, Member.last_purchase_at)).all())
    assert members["c-1"] is None
    assert db.session.execute(select(func.count()).select_from(LedgerEntry).join(Member).where(
        Member.external_id == "c-1")).scalar_one() == 0
    monkeypatch.undo()
    assert cli("verify-ledger").exit_code == 0
    again = cli("import", "purchases", "--batch-size", "3", write_csv(tmp_path / "p.csv", rows))
    assert "6 rows read, 3 added, 3 already there, 0 refused" in again.output


def test_a_members_rows_in_any_order_give_the_same_points_tiers_and_history(cli, enroll, tiered, tmp_path):
    """The replay prices a member's rows in occurred_at order, whatever their order in the file."""
    purchases = history(20, seed=11)
    ids = {}
    for name in ("as-given", "reversed", "shuffled"):
        ids[name] = enroll(external_id=name)["id"]
    shuffled = list(enumerate(purchases))
    random.Random(3).shuffle(shuffled)
    orders = {"as-given": list(enumerate(purchases)), "reversed": list(enumerate(purchases))[::-1],
              "shuffled": shuffled}
    rows = [{"external_id": name, "order_id": f"{name}-{k}", **purchase}
            for name, listed in orders.items() for k, purchase in listed]
    result = cli("import", "purchases", write_csv(tmp_path / "p.csv", rows))
    assert "60 rows read, 60 added" in result.output
    states = [member_state(member_id) for member_id in ids.values()]
    for state in states:
        state["member"] = state["member"][:4]  # not enrolled_at: each was enrolled apart
    assert states[0] == states[1] == states[2]
    assert states[0]["tier_history"]  # the history crosses a threshold


def test_batches_written_at_once_give_what_one_at_a_time_gives(tmp_path):
    """--workers 2 on a real database (each batch its own transaction and connection, as two
    importers at once) against --workers 1: the same points, pending points, tiers and history,
    an order repeated in a later batch already there, one with other content refused, the
    ledger verified. (SQLite writes one batch at a time whatever --workers says.)"""
    import subprocess
    import sys

    from sqlalchemy import create_engine

    from tests.helpers import TEST_DATABASE_URL
    from tests.live import LiveServer, fresh_database

    seed = ("from decimal import Decimal\n"
            "from loyalty import create_app, tier_settings\n"
            "from loyalty.extensions import db\n"
            "from loyalty.program import update_program\n"
            "app = create_app()\n"
            "with app.app_context():\n"
            "    update_program({'earn_rates': {'usd': '1'}, 'pending_days': 30})\n"
            "    for key, threshold, multiplier in (('bronze', 0, '1'), ('silver', 500, '1.5'), ('gold', 1500, '2')):\n"
            "        tier_settings.create_tier({'key': key, 'name': key, 'min_qualifying_points': threshold,\n"
            "                                   'multiplier': Decimal(multiplier)})\n"
            "    db.session.commit()\n")
    now = datetime.now(timezone.utc)
    with fresh_database(TEST_DATABASE_URL) as url:
        server = LiveServer(url)
        assert server.flask("db", "upgrade").returncode == 0
        seeded = subprocess.run([sys.executable, "-c", seed], env=server.env, capture_output=True, text=True,
                                timeout=120)
        assert seeded.returncode == 0, seeded.stderr
        members = [{"external_id": f"{side}-{n}"} for side in "ab" for n in range(24)]
        assert server.flask("loyalty", "import", "members", write_csv(tmp_path / "m.csv", members)).returncode == 0
        rng = random.Random(5)
        histories = [[{"amount": rng.randrange(50, 900) * 100, "currency": "usd",
                       "occurred_at": stamp(now - timedelta(days=rng.uniform(0.5, 700)))} for _ in range(rng.randrange(3, 16))]
                     for _ in range(24)]
        one = [{"external_id": f"a-{n}", "order_id": f"a-{n}-{k}", **purchase}
               for n, listed in enumerate(histories) for k, purchase in enumerate(listed)]
        many = []
        for n, listed in enumerate(histories):
            mixed = list(enumerate(listed))
            rng.shuffle(mixed)
            many += [{"external_id": f"b-{n}", "order_id": f"b-{n}-{k}", **purchase} for k, purchase in mixed]
        many += [dict(many[0]), {**many[1], "amount": many[1]["amount"] + 1}]  # again; other content
        dry = server.flask("loyalty", "import", "purchases", "--dry-run", "--workers", "2", "--batch-size", "20",
                           write_csv(tmp_path / "b.csv", many))
        assert dry.returncode == 0, dry.stderr
        # Each batch rolled back: the last batch's two rows of b-0 find nothing of the first's.
        assert f"{len(many)} would be added (dry run: nothing written), 0 already there, 0 refused" in dry.stdout
        first = server.flask("loyalty", "import", "purchases", "--workers", "1", "--batch-size", "20",
                             write_csv(tmp_path / "a.csv", one))
        assert first.returncode == 0, first.stderr
        second = server.flask("loyalty", "import", "purchases", "--workers", "2", "--batch-size", "20",
                              write_csv(tmp_path / "b.csv", many))
        assert second.returncode == 1, second.stderr
        assert f"{len(one)} added, 1 already there, 1 refused" in second.stdout
        assert f"line {len(many) + 1}: order_exists" in second.stderr
        assert server.flask("loyalty", "verify-ledger").returncode == 0

        engine = create_engine(url)
        with engine.connect() as connection:
            state, names = {}, {}
            for member_id, external_id, *columns in connection.execute(text(
                    "SELECT id, external_id, points_balance, points_pending, tier_id, last_purchase_at FROM members")):
                names[member_id], state[external_id] = external_id, [*columns, [], []]
            for member_id, *columns in connection.execute(text(
                    "SELECT member_id, occurred_at, points_earned, pending_points, qualifying_points, tier_multiplier "
                    "FROM purchases ORDER BY occurred_at")):
                state[names[member_id]][-2].append(columns)
            for member_id, tier_id, effective_at, reason in connection.execute(text(
                    "SELECT member_id, tier_id, effective_at, reason FROM tier_history WHERE reason <> 'enrolled' "
                    "ORDER BY effective_at, id")):  # an evaluation is effective when the import ran
                state[names[member_id]][-1].append((tier_id, effective_at if reason == "purchase" else None, reason))
        engine.dispose()
        for n in range(24):
            assert state[f"a-{n}"] == state[f"b-{n}"], n
        assert len({row[2] for row in state.values()}) > 1  # the histories reach different tiers


def test_batches_on_workers_come_back_in_order_and_one_that_waited_on_another_is_written_again_alone(app):
    """_BatchWriter with two worker threads (as on PostgreSQL): outcomes in the batches' order; a
    batch refused for a deadlock is written again on the command's own session once the others
    are done; any other error stops the import."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy.exc import OperationalError

    from loyalty.cli.imports import _BatchWriter
    from loyalty.imports import Outcome

    class Deadlock(Exception):
        sqlstate = "40P01"

    tries = []

    def write(batch):
        tries.append((batch[0], threading.current_thread().name))
        if batch[0] == 2 and [number for number, _ in tries].count(2) == 1:
            raise OperationalError("COPY purchases ...", {}, Deadlock())
        if batch[0] == 9:
            raise ValueError("not a deadlock")
        return Outcome(added=len(batch))

    def run(batches):
        writer = _BatchWriter(write, dry_run=False, workers=2)
        writer.workers, writer.pool = 2, ThreadPoolExecutor(2)  # a session on an engine, as in production
        with writer:
            return [outcome.added for batch in batches for outcome in writer.write(batch)] + \
                   [outcome.added for outcome in writer.finish()]

    assert run([[1], [2, 2], [3, 3, 3], [4, 4, 4, 4]]) == [1, 2, 3, 4]
    assert [name == threading.main_thread().name for number, name in tries if number == 2] == [False, True]
    with pytest.raises(ValueError):
        run([[1], [9], [3]])
