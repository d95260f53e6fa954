"""Timed rules (API.md, Program and Customers): expiry, birthday bonuses; run-jobs idempotent."""
from datetime import datetime, timedelta, timezone


from loyalty import clock
from tests.helpers import balance, run_jobs, stamp

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


def day(n):
    return T0 + timedelta(days=n)


def policy(client, admin, **settings):
    response = client.patch("/v1/program", headers=admin, json=settings)
    assert response.status_code == 200, response.get_json()


def test_expiry_days_required_with_a_policy(client, admin, program):
    response = client.patch("/v1/program", headers=admin, json={"expiry_policy": "fixed", "expiry_days": None})
    assert response.status_code == 422


def test_inactivity_expires_the_whole_balance(client, admin, shopper):
    """Does the whole balance expire expiry_days after the latest purchase, once?"""
    policy(client, admin, expiry_policy="inactivity", expiry_days=90)
    shopper.buy(50, day(0))
    shopper.buy(30, day(60))
    run_jobs(day(149))
    assert shopper.state(day(149))["points"]["balance"] == 80
    run_jobs(day(150))
    run_jobs(day(151))
    assert shopper.state(day(151))["points"]["balance"] == 0
    expiries = [e for e in shopper.entries() if e["type"] == "expiry"]
    assert [e["points"] for e in expiries] == [-80]


def test_fixed_expiry_spends_oldest_points_first(client, admin, shopper):
    """With fixed expiry, does spending use the oldest points, so only what is left of them expires?"""
    policy(client, admin, expiry_policy="fixed", expiry_days=100)
    shopper.buy(50, day(0))     # expires day 100
    shopper.buy(40, day(30))    # expires day 130
    shopper.spend(60, day(40))  # uses all 50 of day 0 and 10 of day 30
    run_jobs(day(100))
    assert shopper.state(day(100))["points"]["balance"] == 30
    run_jobs(day(130))
    run_jobs(day(131))
    assert shopper.state(day(131))["points"]["balance"] == 0
    assert [e["points"] for e in shopper.entries() if e["type"] == "expiry"] == [-30]


def test_fixed_expiry_counts_from_occurred_at_and_stays_spendable_until_run(client, admin, shopper):
    policy(client, admin, expiry_policy="fixed", expiry_days=100)
    shopper.buy(50, day(0))
    shopper.buy(20, day(90))
    assert shopper.state(day(105))["points"]["balance"] == 70  # past its date, not yet expired
    run_jobs(day(105))
    assert shopper.state(day(105))["points"]["balance"] == 20


def test_me_shows_what_expires_next(client, admin, storefront, shopper):
    """Does /v1/me give the next points to expire within 30 days, and null beyond?"""
    policy(client, admin, expiry_policy="fixed", expiry_days=100)
    shopper.buy(50, day(0))
    shopper.buy(20, day(10))
    token = client.post(f"/v1/members/{shopper.id}/access-tokens", headers=storefront).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with clock.frozen(day(60)):
        assert client.get("/v1/me", headers=headers).get_json()["expiring"] is None
    with clock.frozen(day(80)):
        assert client.get("/v1/me", headers=headers).get_json()["expiring"] == {"points": 50, "on": "2025-04-11"}


def test_inactivity_preview(client, admin, storefront, shopper):
    policy(client, admin, expiry_policy="inactivity", expiry_days=90)
    shopper.buy(50, day(0))
    token = client.post(f"/v1/members/{shopper.id}/access-tokens", headers=storefront).get_json()["token"]
    with clock.frozen(day(70)):
        body = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["expiring"] == {"points": 50, "on": "2025-04-01"}


def test_birthday_bonus_once_a_year_in_the_month(client, admin, enroll, program):
    """Is the birthday bonus paid in the birthday month, once however often run-jobs runs?"""
    policy(client, admin, birthday_bonus=25)
    with clock.frozen(T0):  # enrolled before the run-jobs below (its next birthday is then due)
        member = enroll(external_id="march", birthday="1990-03-15")
    run_jobs(datetime(2025, 2, 28, tzinfo=timezone.utc))
    assert balance(client, admin, member["id"]) == 0
    for moment in (datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2025, 3, 1, 0, 1, tzinfo=timezone.utc),
                   datetime(2025, 3, 31, 23, 59, tzinfo=timezone.utc)):
        run_jobs(moment)
    assert balance(client, admin, member["id"]) == 25
    run_jobs(datetime(2026, 3, 2, tzinfo=timezone.utc))
    assert balance(client, admin, member["id"]) == 50
    entries = client.get(f"/v1/members/{member['id']}/transactions", headers=admin).get_json()["data"]
    assert [e["type"] for e in entries] == ["bonus", "bonus"]


def test_leap_day_birthday_is_paid_in_february(client, admin, enroll, program):
    policy(client, admin, birthday_bonus=10)
    with clock.frozen(T0):
        leapling = enroll(external_id="leap", birthday="2000-02-29")
    run_jobs(datetime(2025, 2, 1, tzinfo=timezone.utc))  # 2025 has no 29 February
    run_jobs(datetime(2025, 2, 28, tzinfo=timezone.utc))
    balance = client.get(f"/v1/members/{leapling['id']}", headers=admin).get_json()["points"]["balance"]
    assert balance == 10


def test_closed_members_get_no_birthday_bonus(client, admin, shopper):
    policy(client, admin, birthday_bonus=25)
    client.delete(f"/v1/members/{shopper.id}", headers=admin)
    run_jobs(datetime(2025, 3, 10, tzinfo=timezone.utc))
    assert shopper.entries() == []


def test_pending_points_vest_after_the_window(client, admin, shopper_with_pending_points):
    """Are a purchase's points pending (unspendable) for pending_days, then vested once by run-jobs?"""
    shopper_with_pending_points.buy(50, day(0))
    assert shopper_with_pending_points.state(day(1))["points"] == {"balance": 0, "pending": 50}
    run_jobs(day(13))
    assert shopper_with_pending_points.state(day(13))["points"] == {"balance": 0, "pending": 50}
    run_jobs(day(14))
    run_jobs(day(15))
    assert shopper_with_pending_points.state(day(15))["points"] == {"balance": 50, "pending": 0}
    assert [(e["type"], e["points"]) for e in shopper_with_pending_points.entries()] == [("earn", 50)]


def test_pending_points_cannot_be_redeemed(client, admin, shopper_with_pending_points):
    reward = client.post("/v1/rewards", headers=admin, json={
        "name": "Tea", "cost_points": 10, "kind": "custom", "value": {}}).get_json()
    shopper_with_pending_points.buy(50, day(0))
    with clock.frozen(day(1)):
        response = client.post(f"/v1/members/{shopper_with_pending_points.id}/redemptions", headers=admin,
                               json={"reward_id": reward["id"]})
    assert response.get_json()["error"]["code"] == "insufficient_points"


def test_refund_inside_the_window_cancels_pending_points_first(client, admin, shopper_with_pending_points):
    """Does a refund before vesting take from pending points, with no ledger reversal?"""
    shopper_with_pending_points.buy(50, day(0))
    purchase = client.get(f"/v1/members/{shopper_with_pending_points.id}/purchases", headers=admin).get_json()["data"][0]
    with clock.frozen(day(3)):
        client.post(f"/v1/purchases/{purchase['id']}/refunds", headers=admin, json={"amount": 2000})
    assert shopper_with_pending_points.state(day(3))["points"] == {"balance": 0, "pending": 30}
    run_jobs(day(20))
    assert shopper_with_pending_points.state(day(20))["points"] == {"balance": 30, "pending": 0}
    assert [(e["type"], e["points"]) for e in shopper_with_pending_points.entries()] == [("earn", 30)]


def test_refund_after_vesting_is_a_reversal(client, admin, shopper_with_pending_points):
    shopper_with_pending_points.buy(50, day(0))
    run_jobs(day(15))
    purchase = client.get(f"/v1/members/{shopper_with_pending_points.id}/purchases", headers=admin).get_json()["data"][0]
    with clock.frozen(day(16)):
        client.post(f"/v1/purchases/{purchase['id']}/refunds", headers=admin, json={"amount": 5000})
    assert shopper_with_pending_points.state(day(16))["points"] == {"balance": 0, "pending": 0}
    assert [(e["type"], e["points"]) for e in shopper_with_pending_points.entries()] == [("reversal", -50), ("earn", 50)]


def test_imported_purchase_past_its_window_earns_at_once(client, admin, shopper_with_pending_points):
    with clock.frozen(day(30)):
        client.post("/v1/purchases", headers=admin, json={
            "member_id": shopper_with_pending_points.id, "order_id": "old", "amount": 1000, "currency": "usd",
            "occurred_at": stamp(day(0))})
    assert shopper_with_pending_points.state(day(30))["points"] == {"balance": 10, "pending": 0}


def test_verify_ledger_checks_pending(app, client, admin, shopper_with_pending_points):
    shopper_with_pending_points.buy(50, day(0))
    result = app.test_cli_runner().invoke(args=["loyalty", "verify-ledger"])
    assert result.exit_code == 0, result.output


def test_fixed_expiry_takes_a_refund_from_its_own_purchase(client, admin, shopper):
    """A refund of a later purchase must not use up older points: they still expire on their date."""
    policy(client, admin, expiry_policy="fixed", expiry_days=100)
    shopper.buy(100, day(0))
    shopper.buy(100, day(50))
    later = client.get(f"/v1/members/{shopper.id}/purchases", headers=admin).get_json()["data"][0]
    with clock.frozen(day(51)):
        client.post(f"/v1/purchases/{later['id']}/refunds", headers=admin, json={"amount": 10000})
    run_jobs(day(101))
    assert shopper.state(day(101))["points"]["balance"] == 0
    assert [e["points"] for e in shopper.entries() if e["type"] == "expiry"] == [-100]
