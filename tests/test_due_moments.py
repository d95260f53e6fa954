"""Timed work reads "next due" moments (issue 21): every writer keeps them early, never late, so
run-jobs finds everything due while reading only the members whose moment has come."""
import random
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from loyalty import birthdays, clock, expiry, purchases, settings
from loyalty.actors import SYSTEM
from loyalty.extensions import db
from loyalty.models import Member, Purchase
from loyalty.outbound import notices
from loyalty.reports import at_risk
from loyalty.reports.sql import EPOCH
from tests.helpers import run_jobs, stamp

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
DAYS = 180


def oldest_lot(member_id: str):
    return min((lot.earned_at for lot in expiry._lots(member_id)), default=None)


def stored_oldest(member_id: str):
    return db.session.get(Member, member_id, populate_existing=True).oldest_points_at


@pytest.fixture
def shop(client, admin, program, app):
    """Fixed expiry after 180 days, points pending for 10 days, a 50-point reward; api(method, path, json)."""
    def api(method, path, body=None, expect=(200, 201)):
        with clock.frozen(NOW):
            response = client.open(path, method=method, json=body, headers=admin)
        assert response.status_code in expect, (path, response.get_json())
        return response.get_json()

    api("PATCH", "/v1/program", {"expiry_policy": "fixed", "expiry_days": DAYS, "pending_days": 10})
    reward = api("POST", "/v1/rewards", {"name": "Mug", "cost_points": 50, "kind": "custom", "value": {}})
    api.reward = reward["id"]
    return api


def random_write(shop, rng, member_ids, orders, step, moment, full_refunds=False):
    """One write through the API to a random member: a purchase at `moment` (most often), a refund
    (half, or with full_refunds sometimes all that is left), an adjustment or a redemption."""
    member_id = rng.choice(member_ids)
    action = rng.choice(["buy", "buy", "buy", "refund", "adjust", "redeem"])
    if action == "buy":
        orders.append(shop("POST", "/v1/purchases", {
            "member_id": member_id, "order_id": f"o-{step}", "amount": rng.randrange(100, 20000),
            "currency": "usd", "occurred_at": stamp(moment)}))
    elif action == "refund" and orders:
        order = rng.choice(orders)
        left = order["amount"] - order["refunded_amount"]
        amount = rng.choice([left, left // 2]) if full_refunds else left // 2
        if amount > 0:
            order.update(shop("POST", f"/v1/purchases/{order['id']}/refunds", {"amount": amount}))
    elif action == "adjust":
        shop("POST", f"/v1/members/{member_id}/adjustments",
             {"points": rng.choice([-30, 40]), "reason": "test"}, expect=(201, 409))
    elif action == "redeem":
        shop("POST", f"/v1/members/{member_id}/redemptions", {"reward_id": shop.reward}, expect=(201, 409))


def test_every_writer_keeps_the_oldest_points_moment_no_later_than_the_oldest_points(shop, app, tmp_path):
    rng = random.Random(21)
    member_ids = [shop("POST", "/v1/members", {"external_id": f"m-{n}"})["id"] for n in range(6)]
    orders = []

    def check():
        for member_id in member_ids:
            stored, true = stored_oldest(member_id), oldest_lot(member_id)
            assert true is None or (stored is not None and stored <= true), (member_id, stored, true)

    for step in range(60):
        random_write(shop, rng, member_ids, orders, step, NOW - timedelta(days=rng.uniform(0, 400)))
        check()

    # An import, then pending points vesting, then expiry: each a writer too.
    rows = "external_id,order_id,amount,currency,occurred_at\n" + "".join(
        f"m-{n},imp-{n},5000,usd,{stamp(NOW - timedelta(days=300 + n))}\n" for n in range(6))
    with clock.frozen(NOW):
        result = app.test_cli_runner().invoke(args=["loyalty", "import", "purchases", "-"], input=rows)
    assert result.exit_code == 0, result.output
    check()
    run_jobs(NOW + timedelta(days=11))  # everything vested
    check()

    for later in (NOW + timedelta(days=30), NOW + timedelta(days=120), NOW + timedelta(days=200)):
        run_jobs(later)
        for member_id in member_ids:  # nothing due was missed, and each moment is now exact
            assert expiry._fixed_due(expiry._lots(member_id), later, DAYS) == 0
            assert stored_oldest(member_id) == oldest_lot(member_id)
        check()


def test_fixed_expiry_reads_only_members_whose_oldest_points_are_due(shop):
    old = shop("POST", "/v1/members", {"external_id": "old"})["id"]
    recent = shop("POST", "/v1/members", {"external_id": "recent"})["id"]
    for member_id, days_ago in ((old, 200), (recent, 20)):
        shop("POST", "/v1/purchases", {"member_id": member_id, "order_id": f"o-{member_id}", "amount": 10000,
                                       "currency": "usd", "occurred_at": stamp(NOW - timedelta(days=days_ago))})
    due = db.session.execute(expiry.candidates_query(settings.current().program, NOW)).scalars().all()
    assert due == [old]
    run_jobs(NOW)
    assert db.session.execute(expiry.candidates_query(settings.current().program, NOW)).scalars().all() == []
    assert stored_oldest(old) is None  # nothing left to expire
    assert stored_oldest(recent) == NOW - timedelta(days=20)


def test_birthday_moments_follow_enrolment_changes_closing_import_and_payment(shop, app):
    assert birthdays.next_due(date(1990, 6, 30), NOW) == datetime(2026, 6, 1, tzinfo=timezone.utc)
    assert birthdays.next_due(date(1990, 6, 30), NOW, visited=True) == datetime(2027, 6, 1, tzinfo=timezone.utc)
    assert birthdays.next_due(date(1990, 5, 1), NOW) == datetime(2027, 5, 1, tzinfo=timezone.utc)
    assert birthdays.next_due(date(1990, 12, 1), NOW) == datetime(2026, 12, 1, tzinfo=timezone.utc)

    shop("PATCH", "/v1/program", {"birthday_bonus": 20})
    june = shop("POST", "/v1/members", {"external_id": "june", "birthday": "1990-06-20"})["id"]
    later = shop("POST", "/v1/members", {"external_id": "later", "birthday": "1990-09-02"})["id"]
    moved = shop("POST", "/v1/members", {"external_id": "moved", "birthday": "1990-09-02"})["id"]
    closed = shop("POST", "/v1/members", {"external_id": "closed", "birthday": "1990-06-01"})["id"]
    shop("PATCH", f"/v1/members/{moved}", {"birthday": "1990-06-05"})
    shop("DELETE", f"/v1/members/{closed}")
    with clock.frozen(NOW):
        result = app.test_cli_runner().invoke(args=["loyalty", "import", "members", "-"],
                                              input="external_id,birthday\nimported,1980-06-11\n")
    assert result.exit_code == 0, result.output
    imported = db.session.execute(select(Member.id).where(Member.external_id == "imported")).scalar_one()

    def moment(member_id):
        return db.session.get(Member, member_id, populate_existing=True).birthday_bonus_at

    june_start, september = datetime(2026, 6, 1, tzinfo=timezone.utc), datetime(2026, 9, 1, tzinfo=timezone.utc)
    assert [moment(m) for m in (june, later, moved, closed, imported)] == [
        june_start, september, june_start, None, june_start]
    assert sorted(db.session.execute(birthdays.due_query(NOW)).scalars()) == sorted([june, moved, imported])

    assert run_jobs(NOW)["birthday bonuses"] == "3 birthday bonuses paid"
    assert db.session.execute(birthdays.due_query(NOW + timedelta(days=10))).scalars().all() == []
    assert moment(june) == datetime(2027, 6, 1, tzinfo=timezone.utc)
    assert run_jobs(NOW + timedelta(days=10))["birthday bonuses"] == "0 birthday bonuses paid"
    assert run_jobs(datetime(2026, 9, 3, tzinfo=timezone.utc))["birthday bonuses"] == "1 birthday bonuses paid"


# -- run-jobs' webhook events: points.expiring and member.at_risk ----------------------------------

def stored(member_id: str) -> Member:
    return db.session.get(Member, member_id, populate_existing=True)


def true_expiring_moment(member_id: str):
    """The first moment run-jobs would find points to warn of (nothing warned yet)."""
    program = settings.current().program
    return expiry.first_within(stored(member_id), program, days=program.expiring_notice_days)


def true_at_risk_moment(member_id: str, now: datetime):
    """Now if the member is at risk now, else when they next may be (None: never, as things stand)."""
    row, moment = at_risk.standing(member_id, now)
    return now if row is not None else moment


@pytest.mark.parametrize("policy", ["fixed", "inactivity"])
def test_every_writer_keeps_the_notice_moments_no_later_than_what_they_stand_for(shop, app, policy):
    shop("PATCH", "/v1/program", {"expiry_policy": policy, "expiring_notice_days": 14})
    rng = random.Random(42)
    member_ids = [shop("POST", "/v1/members", {"external_id": f"n-{n}"})["id"] for n in range(5)]
    orders = []

    def check():
        for member_id in member_ids:
            member = stored(member_id)
            for name, true in (("expiring_notice_at", true_expiring_moment(member_id)),
                               ("at_risk_at", true_at_risk_moment(member_id, NOW))):
                kept = getattr(member, name)
                assert true is None or (kept is not None and kept <= true), (name, member_id, kept, true)

    for step in range(50):
        moment = NOW - timedelta(days=rng.choice([rng.uniform(0, 400), rng.uniform(90, 100)]))
        random_write(shop, rng, member_ids, orders, step, moment, full_refunds=True)
        check()

    rows = "external_id,order_id,amount,currency,occurred_at\n" + "".join(
        f"{external_id},imp-{n},5000,usd,{stamp(NOW - timedelta(days=170 + n))}\n"
        for n, external_id in enumerate(["n-0", "n-1", "new-a", "new-b"]))
    member_ids += _import_new_a_and_b(app, rows)
    check()


def test_notice_jobs_read_only_members_whose_moment_has_come(shop, webhook_endpoint):
    webhook_endpoint(events=["points.expiring", "member.at_risk"])
    shop("PATCH", "/v1/program", {"expiring_notice_days": 14, "pending_days": 0})
    soon = shop("POST", "/v1/members", {"external_id": "soon"})["id"]  # points expire in 10 days; quiet 170 days
    later = shop("POST", "/v1/members", {"external_id": "later"})["id"]  # in 100 days; quiet 80 days
    for member_id, days_ago in ((soon, DAYS - 10), (later, DAYS - 100)):
        shop("POST", "/v1/purchases", {"member_id": member_id, "order_id": f"o-{member_id}", "amount": 10000,
                                       "currency": "usd", "occurred_at": stamp(NOW - timedelta(days=days_ago))})
    expiring_due = lambda now: db.session.execute(notices.expiring_due_query(now)).scalars().all()  # noqa: E731
    at_risk_due = lambda now: db.session.execute(notices.at_risk_due_query(now)).scalars().all()  # noqa: E731
    assert sorted(expiring_due(NOW)) == sorted([soon, later])  # every credit: looked at once
    assert sorted(at_risk_due(NOW)) == sorted([soon, later])  # 30 days after each purchase

    summary = run_jobs(NOW)
    assert summary["expiring points notices"] == "1 points.expiring events recorded"
    assert summary["at-risk notices"] == "1 member.at_risk events recorded"
    assert expiring_due(NOW) == [] and at_risk_due(NOW) == []  # nothing due: no member read
    # soon: warned of day +10, looked at again the day after; later: when its points come within 14 days
    on = (NOW + timedelta(days=10)).date()
    assert stored(soon).expiring_notice_at == datetime.combine(on + timedelta(days=1), datetime.min.time(),
                                                              timezone.utc)
    assert stored(later).expiring_notice_at == NOW + timedelta(days=100 - 14)
    # soon: warned of this quiet spell, nothing until a purchase; later: 90 days after its one purchase
    assert stored(soon).at_risk_at is None
    assert stored(later).at_risk_at == NOW - timedelta(days=DAYS - 100) + timedelta(days=90, microseconds=1)
    assert run_jobs(NOW + timedelta(days=5))["at-risk notices"] == "0 member.at_risk events recorded"

    # A change of the expiry rules: every member holding points is looked at again.
    shop("PATCH", "/v1/program", {"expiry_days": DAYS - 50})
    assert sorted(expiring_due(NOW)) == sorted([soon, later])


# -- the at-risk summary (members.last_qualifying_at, twice_median_gap_us, at_risk_from_us) -------

def true_summary(member_id: str) -> tuple:
    """The at-risk rule's inputs from the member's purchases, in plain Python (API.md, Rules: At
    risk): the latest qualifying purchase, twice the median gap (None with one), and the first
    moment (µs since 1970) the member is at risk; all None with no qualifying purchase."""
    bought = sorted((p.occurred_at, p.id) for p in db.session.execute(select(Purchase).where(
        Purchase.member_id == member_id)).scalars() if p.amount - p.refunded_amount - p.disputed_amount > 0)
    if not bought:
        return None, None, None
    micros = [(moment - EPOCH) // timedelta(microseconds=1) for moment, _ in bought]
    gaps = sorted(b - a for a, b in zip(micros, micros[1:]))
    middle = len(gaps) // 2
    twice = None if not gaps else (2 * gaps[middle] if len(gaps) % 2 else gaps[middle - 1] + gaps[middle])
    day_us = 86_400_000_000
    wait = 90 * day_us + 1 if twice is None else max(twice + 1, 30 * day_us)
    return bought[-1][0], twice, micros[-1] + wait


def stored_summary(member_id: str) -> tuple:
    member = stored(member_id)
    return member.last_qualifying_at, member.twice_median_gap_us, member.at_risk_from_us


def test_every_writer_keeps_the_at_risk_summary_right_or_marks_it_stale(shop, app):
    """After every purchase, refund, dispute and import each member's stored summary is either marked
    stale or equal to what their purchases give; run-jobs and the importer's bulk path leave it
    right and fresh."""
    rng = random.Random(7)
    member_ids = [shop("POST", "/v1/members", {"external_id": f"s-{n}"})["id"] for n in range(5)]
    orders = []

    def check(all_fresh=False):
        for member_id in member_ids:
            stale = stored(member_id).at_risk_stale
            assert not (all_fresh and stale), member_id
            if not stale:
                assert stored_summary(member_id) == true_summary(member_id), member_id

    def dispute():
        order = rng.choice(orders)
        with clock.frozen(NOW):
            purchase = purchases.get_purchase(order["id"])
            purchases.set_returned_amounts(purchase, actor=SYSTEM, reason="dispute",
                                           disputed_amount=rng.choice([0, purchase.amount]))
        db.session.commit()

    for step in range(60):
        moment = NOW - timedelta(days=rng.choice([rng.uniform(0, 400), rng.uniform(25, 35)]))
        if orders and rng.random() < 0.15:
            dispute()
        else:
            random_write(shop, rng, member_ids, orders, step, moment, full_refunds=True)
        check()
        if step % 20 == 19:
            assert run_jobs(NOW)["at-risk summaries"].endswith("worked out again")
            check(all_fresh=True)
    assert any(stored_summary(member_id)[1] is not None for member_id in member_ids)

    # An import: members with no purchases go through the bulk path (refreshed there), the others
    # through the API's (marked stale).
    rows = "external_id,order_id,amount,currency,occurred_at\n" + "".join(
        f"{external_id},imp-{n},5000,usd,{stamp(NOW - timedelta(days=40 * n + 1))}\n"
        for n, external_id in enumerate(["s-0", "new-a", "new-a", "new-a", "new-b", "new-b"]))
    new = _import_new_a_and_b(app, rows)
    assert [stored(member_id).at_risk_stale for member_id in new] == [False, False]
    assert stored_summary(new[0])[1] == 2 * 40 * 86_400_000_000  # gaps 40, 40 days
    member_ids += new
    check()
    assert stored(member_ids[0]).at_risk_stale
    run_jobs(NOW)
    check(all_fresh=True)


def _import_new_a_and_b(app, purchase_rows: str) -> list[str]:
    """Import the members new-a and new-b, then `purchase_rows` (CSV), at NOW; their ids."""
    with clock.frozen(NOW):
        runner = app.test_cli_runner()
        assert runner.invoke(args=["loyalty", "import", "members", "-"],
                             input="external_id\nnew-a\nnew-b\n").exit_code == 0
        result = runner.invoke(args=["loyalty", "import", "purchases", "-"], input=purchase_rows)
    assert result.exit_code == 0, result.output
    return [db.session.execute(select(Member.id).where(Member.external_id == external_id)).scalar_one()
            for external_id in ("new-a", "new-b")]
