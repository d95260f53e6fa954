"""Timed rules (API.md, Program and Customers): expiry, birthday bonuses; run-jobs idempotent."""
from datetime import date, datetime, timedelta, timezone

import pytest

from loyalty import clock, jobs

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


def day(n):
    return T0 + timedelta(days=n)


def stamp(moment):
    return moment.isoformat().replace("+00:00", "Z")


def run_jobs(moment):
    with clock.frozen(moment):
        return dict(jobs.run_all())


@pytest.fixture
def member(client, admin, enroll, program):
    made = enroll(external_id="life", birthday="1990-03-15")
    counter = iter(range(10**6))

    def buy(dollars, on):
        with clock.frozen(on):
            response = client.post("/v1/purchases", headers=admin, json={
                "member_id": made["id"], "order_id": f"l-{next(counter)}", "amount": dollars * 100,
                "currency": "usd", "occurred_at": stamp(on)})
        assert response.status_code == 201, response.get_json()

    def spend(points, on):
        with clock.frozen(on):
            response = client.post(f"/v1/members/{made['id']}/adjustments", headers=admin,
                                   json={"points": -points, "reason": "spent"})
        assert response.status_code == 201, response.get_json()

    def state(on):
        with clock.frozen(on):
            return client.get(f"/v1/members/{made['id']}", headers=admin).get_json()

    def entries():
        return client.get(f"/v1/members/{made['id']}/transactions?limit=100", headers=admin).get_json()["data"]

    made.update(buy=buy, spend=spend, state=state, entries=entries)
    return made


def policy(client, admin, **settings):
    response = client.patch("/v1/program", headers=admin, json=settings)
    assert response.status_code == 200, response.get_json()


def test_expiry_days_required_with_a_policy(client, admin, program):
    response = client.patch("/v1/program", headers=admin, json={"expiry_policy": "fixed", "expiry_days": None})
    assert response.status_code == 422


def test_inactivity_expires_the_whole_balance(client, admin, member):
    """Does the whole balance expire expiry_days after the latest purchase, once?"""
    policy(client, admin, expiry_policy="inactivity", expiry_days=90)
    member["buy"](50, day(0))
    member["buy"](30, day(60))
    run_jobs(day(149))
    assert member["state"](day(149))["points"]["balance"] == 80
    run_jobs(day(150))
    run_jobs(day(151))
    assert member["state"](day(151))["points"]["balance"] == 0
    expiries = [e for e in member["entries"]() if e["type"] == "expiry"]
    assert [e["points"] for e in expiries] == [-80]


def test_fixed_expiry_spends_oldest_points_first(client, admin, member):
    """With fixed expiry, does spending use the oldest points, so only what is left of them expires?"""
    policy(client, admin, expiry_policy="fixed", expiry_days=100)
    member["buy"](50, day(0))     # expires day 100
    member["buy"](40, day(30))    # expires day 130
    member["spend"](60, day(40))  # uses all 50 of day 0 and 10 of day 30
    run_jobs(day(100))
    assert member["state"](day(100))["points"]["balance"] == 30
    run_jobs(day(130))
    run_jobs(day(131))
    assert member["state"](day(131))["points"]["balance"] == 0
    assert [e["points"] for e in member["entries"]() if e["type"] == "expiry"] == [-30]


def test_fixed_expiry_counts_from_occurred_at_and_stays_spendable_until_run(client, admin, member):
    policy(client, admin, expiry_policy="fixed", expiry_days=100)
    member["buy"](50, day(0))
    member["buy"](20, day(90))
    assert member["state"](day(105))["points"]["balance"] == 70  # past its date, not yet expired
    run_jobs(day(105))
    assert member["state"](day(105))["points"]["balance"] == 20


def test_me_shows_what_expires_next(client, admin, storefront, member):
    """Does /v1/me give the next points to expire within 30 days, and null beyond?"""
    policy(client, admin, expiry_policy="fixed", expiry_days=100)
    member["buy"](50, day(0))
    member["buy"](20, day(10))
    token = client.post(f"/v1/members/{member['id']}/access-tokens", headers=storefront).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with clock.frozen(day(60)):
        assert client.get("/v1/me", headers=headers).get_json()["expiring"] is None
    with clock.frozen(day(80)):
        assert client.get("/v1/me", headers=headers).get_json()["expiring"] == {"points": 50, "on": "2025-04-11"}


def test_inactivity_preview(client, admin, storefront, member):
    policy(client, admin, expiry_policy="inactivity", expiry_days=90)
    member["buy"](50, day(0))
    token = client.post(f"/v1/members/{member['id']}/access-tokens", headers=storefront).get_json()["token"]
    with clock.frozen(day(70)):
        body = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["expiring"] == {"points": 50, "on": "2025-04-01"}


def test_birthday_bonus_once_a_year_in_the_month(client, admin, member):
    """Is the birthday bonus paid in the birthday month, once however often run-jobs runs?"""
    policy(client, admin, birthday_bonus=25)
    run_jobs(datetime(2025, 2, 28, tzinfo=timezone.utc))
    assert member["state"](day(0))["points"]["balance"] == 0
    for moment in (datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2025, 3, 1, 0, 1, tzinfo=timezone.utc),
                   datetime(2025, 3, 31, 23, 59, tzinfo=timezone.utc)):
        run_jobs(moment)
    assert member["state"](day(0))["points"]["balance"] == 25
    run_jobs(datetime(2026, 3, 2, tzinfo=timezone.utc))
    assert member["state"](day(0))["points"]["balance"] == 50
    assert [e["type"] for e in member["entries"]()] == ["bonus", "bonus"]


def test_leap_day_birthday_is_paid_in_february(client, admin, enroll, program):
    policy(client, admin, birthday_bonus=10)
    leapling = enroll(external_id="leap", birthday="2000-02-29")
    run_jobs(datetime(2025, 2, 1, tzinfo=timezone.utc))  # 2025 has no 29 February
    run_jobs(datetime(2025, 2, 28, tzinfo=timezone.utc))
    balance = client.get(f"/v1/members/{leapling['id']}", headers=admin).get_json()["points"]["balance"]
    assert balance == 10


def test_closed_members_get_no_birthday_bonus(client, admin, member):
    policy(client, admin, birthday_bonus=25)
    client.delete(f"/v1/members/{member['id']}", headers=admin)
    run_jobs(datetime(2025, 3, 10, tzinfo=timezone.utc))
    assert member["entries"]() == []


@pytest.fixture
def pending(client, admin, member):
    policy(client, admin, pending_days=14)
    return member


def test_pending_points_vest_after_the_window(client, admin, pending):
    """Are a purchase's points pending (unspendable) for pending_days, then vested once by run-jobs?"""
    pending["buy"](50, day(0))
    assert pending["state"](day(1))["points"] == {"balance": 0, "pending": 50}
    run_jobs(day(13))
    assert pending["state"](day(13))["points"] == {"balance": 0, "pending": 50}
    run_jobs(day(14))
    run_jobs(day(15))
    assert pending["state"](day(15))["points"] == {"balance": 50, "pending": 0}
    assert [(e["type"], e["points"]) for e in pending["entries"]()] == [("earn", 50)]


def test_pending_points_cannot_be_redeemed(client, admin, pending):
    reward = client.post("/v1/rewards", headers=admin, json={
        "name": "Tea", "cost_points": 10, "kind": "custom", "value": {}}).get_json()
    pending["buy"](50, day(0))
    with clock.frozen(day(1)):
        response = client.post(f"/v1/members/{pending['id']}/redemptions", headers=admin,
                               json={"reward_id": reward["id"]})
    assert response.get_json()["error"]["code"] == "insufficient_points"


def test_refund_inside_the_window_cancels_pending_points_first(client, admin, pending):
    """Does a refund before vesting take from pending points, with no ledger reversal?"""
    pending["buy"](50, day(0))
    purchase = client.get(f"/v1/members/{pending['id']}/purchases", headers=admin).get_json()["data"][0]
    with clock.frozen(day(3)):
        client.post(f"/v1/purchases/{purchase['id']}/refunds", headers=admin, json={"amount": 2000})
    assert pending["state"](day(3))["points"] == {"balance": 0, "pending": 30}
    run_jobs(day(20))
    assert pending["state"](day(20))["points"] == {"balance": 30, "pending": 0}
    assert [(e["type"], e["points"]) for e in pending["entries"]()] == [("earn", 30)]


def test_refund_after_vesting_is_a_reversal(client, admin, pending):
    pending["buy"](50, day(0))
    run_jobs(day(15))
    purchase = client.get(f"/v1/members/{pending['id']}/purchases", headers=admin).get_json()["data"][0]
    with clock.frozen(day(16)):
        client.post(f"/v1/purchases/{purchase['id']}/refunds", headers=admin, json={"amount": 5000})
    assert pending["state"](day(16))["points"] == {"balance": 0, "pending": 0}
    assert [(e["type"], e["points"]) for e in pending["entries"]()] == [("reversal", -50), ("earn", 50)]


def test_imported_purchase_past_its_window_earns_at_once(client, admin, pending):
    with clock.frozen(day(30)):
        client.post("/v1/purchases", headers=admin, json={
            "member_id": pending["id"], "order_id": "old", "amount": 1000, "currency": "usd",
            "occurred_at": stamp(day(0))})
    assert pending["state"](day(30))["points"] == {"balance": 10, "pending": 0}


def test_verify_ledger_checks_pending(app, client, admin, pending):
    pending["buy"](50, day(0))
    result = app.test_cli_runner().invoke(args=["loyalty", "verify-ledger"])
    assert result.exit_code == 0, result.output


def test_fixed_expiry_takes_a_refund_from_its_own_purchase(client, admin, member):
    """A refund of a later purchase must not use up older points: they still expire on their date."""
    policy(client, admin, expiry_policy="fixed", expiry_days=100)
    member["buy"](100, day(0))
    member["buy"](100, day(50))
    later = client.get(f"/v1/members/{member['id']}/purchases", headers=admin).get_json()["data"][0]
    with clock.frozen(day(51)):
        client.post(f"/v1/purchases/{later['id']}/refunds", headers=admin, json={"amount": 10000})
    run_jobs(day(101))
    assert member["state"](day(101))["points"]["balance"] == 0
    assert [e["points"] for e in member["entries"]() if e["type"] == "expiry"] == [-100]
