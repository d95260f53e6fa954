"""Purchases and refunds over HTTP, against API.md Rules: Earning and Refunds."""
from datetime import datetime, timedelta, timezone

import pytest

from loyalty.extensions import db
from loyalty.models import LedgerEntry
from tests.helpers import statements_during


def buy(client, headers, member_id, amount, currency="usd", order_id=None, **extra):
    body = {"member_id": member_id, "order_id": order_id or f"o-{amount}-{currency}", "amount": amount,
            "currency": currency, **extra}
    return client.post("/v1/purchases", json=body, headers=headers)


@pytest.mark.parametrize("amount, currency, points", [
    (1234, "usd", 12),      # $12.34 at 1 point per dollar
    (99, "usd", 0),         # under a dollar earns nothing
    (100, "USD", 1),        # currency in any case
    (150000, "jpy", 1500),  # zero-decimal: 150,000 yen at 0.01 per yen
    (99, "jpy", 0),         # 0.99 points floors to nothing
    (12345, "kwd", 12),     # three-decimal: 12.345 dinar
    (999, "kwd", 0),
])
def test_earning_follows_currency_exponent(client, admin, program, enroll, amount, currency, points):
    """Does a purchase earn floor(amount × rate / 10^exponent) points?"""
    member = enroll()
    response = buy(client, admin, member["id"], amount, currency)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["points_earned"], body["qualifying_points"]) == (points, points)
    assert body["currency"] == currency.lower()


def test_fractional_rate_is_exact(client, admin, program, enroll):
    """Is 1.1 × 3 computed exactly (3.3 → 3), not through floats?"""
    client.patch("/v1/program", json={"earn_rates": {"usd": "1.1"}}, headers=admin)
    member = enroll()
    assert buy(client, admin, member["id"], 300).get_json()["points_earned"] == 3
    assert buy(client, admin, member["id"], 1000, order_id="ten").get_json()["points_earned"] == 11


def test_currency_without_rate_is_refused(client, admin, program, enroll):
    member = enroll()
    response = buy(client, admin, member["id"], 1000, "gbp")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "currency_not_enabled"


@pytest.mark.parametrize("refunds, remaining_points, reversals", [
    ([2500], 75, [-25]),              # partial
    ([2500, 2500], 50, [-25, -25]),   # repeated
    ([10000], 0, [-100]),             # full refund leaves 0
    ([1], 99, [-1]),                  # a cent off $100.00 → floor(99.99) = 99
    ([50, 49], 99, [-1]),             # second refund changes nothing: no zero entry
    ([9999], 0, [-100]),
])
def test_refund_leaves_points_of_the_net_amount(client, admin, program, enroll, refunds, remaining_points,
                                                 reversals):
    """After refunds a purchase has given exactly what its net amount would give."""
    member = enroll()
    purchase = buy(client, admin, member["id"], 10000).get_json()
    for amount in refunds:
        response = client.post(f"/v1/purchases/{purchase['id']}/refunds", json={"amount": amount}, headers=admin)
        assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["refunded_amount"] == sum(refunds)
    assert body["points_earned"] == remaining_points
    entries = client.get(f"/v1/members/{member['id']}/transactions", headers=admin).get_json()["data"]
    assert [e["points"] for e in reversed(entries) if e["type"] == "reversal"] == reversals
    assert client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"] == remaining_points


def test_refund_can_leave_a_negative_balance(client, admin, program, enroll):
    """Points already spent are still reversed in full: the balance goes below zero."""
    member = enroll()
    purchase = buy(client, admin, member["id"], 5000).get_json()
    spent = client.post(f"/v1/members/{member['id']}/adjustments", json={"points": -40, "reason": "spent"},
                        headers=admin)
    assert spent.status_code == 201
    client.post(f"/v1/purchases/{purchase['id']}/refunds", json={"amount": 5000}, headers=admin)
    assert client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"] == -40


def test_refund_over_what_is_left_is_refused(client, admin, program, enroll):
    member = enroll()
    purchase = buy(client, admin, member["id"], 1000).get_json()
    client.post(f"/v1/purchases/{purchase['id']}/refunds", json={"amount": 600}, headers=admin)
    response = client.post(f"/v1/purchases/{purchase['id']}/refunds", json={"amount": 401}, headers=admin)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "refund_exceeds_purchase"
    assert response.get_json()["error"]["details"]["refundable"] == 400
    assert client.get(f"/v1/purchases/{purchase['id']}", headers=admin).get_json()["refunded_amount"] == 600


def test_a_refund_reference_seen_before_refunds_nothing_more(client, admin, program, enroll):
    """A till retrying a refund without an Idempotency-Key: the same reference is 200, once only."""
    member = enroll()
    purchase = buy(client, admin, member["id"], 10000).get_json()
    url = f"/v1/purchases/{purchase['id']}/refunds"
    first = client.post(url, json={"amount": 2500, "reference": "till-7/0042"}, headers=admin)
    assert first.status_code == 201, first.get_json()
    again = client.post(url, json={"amount": 2500, "reference": "till-7/0042"}, headers=admin)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert (again.get_json()["refunded_amount"], again.get_json()["points_earned"]) == (2500, 75)
    # Another reference, or none, is another refund; a reference is per purchase.
    assert client.post(url, json={"amount": 2500, "reference": "till-7/0043"}, headers=admin).status_code == 201
    assert client.post(url, json={"amount": 2500}, headers=admin).status_code == 201
    assert client.post(url, json={"amount": 2500}, headers=admin).get_json()["refunded_amount"] == 10000
    other = buy(client, admin, member["id"], 5000, order_id="other").get_json()
    response = client.post(f"/v1/purchases/{other['id']}/refunds", json={"amount": 100, "reference": "till-7/0042"},
                           headers=admin)
    assert response.status_code == 201
    assert client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"] == 49


@pytest.mark.parametrize("offset, status", [(timedelta(minutes=4), 201), (timedelta(minutes=6), 422),
                                            (timedelta(days=365 * 170), 422), (-timedelta(days=3000), 201)])
def test_a_purchase_more_than_five_minutes_ahead_is_refused(client, admin, program, enroll, offset, status):
    member = enroll()
    occurred_at = (datetime.now(timezone.utc) + offset).isoformat()
    response = buy(client, admin, member["id"], 1000, occurred_at=occurred_at)
    assert response.status_code == status, response.get_json()
    if status == 422:
        assert response.get_json()["error"]["details"]["fields"]["occurred_at"]
        assert client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"] == 0


def test_same_order_twice_is_the_same_purchase(client, admin, program, enroll):
    """The same order_id and content: 200 and the first purchase; points once."""
    member = enroll()
    first = buy(client, admin, member["id"], 1000, order_id="A1", occurred_at="2026-01-02T10:00:00+01:00")
    again = buy(client, admin, member["id"], 1000, order_id="A1", occurred_at="2026-01-02T09:00:00Z")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    assert db.session.query(LedgerEntry).filter_by(member_id=member["id"], type="earn").count() == 1


def test_an_earn_records_the_order_and_posts_its_points_in_one_statement(client, admin, program, enroll,
                                                                          ticking):
    """PostgreSQL: the member's lock (the key is kept from the enrolment), then the purchase, the
    balance and the entry together (ledger.NewRow); SQLite has no INSERT inside WITH and runs them
    one by one. A repeat posts nothing and reads the first purchase back."""
    member = enroll()
    statements = statements_during(lambda: buy(client, admin, member["id"], 1000, order_id="S1"))
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    assert len(statements) == (2 if postgresql else 4), statements
    repeat = statements_during(lambda: buy(client, admin, member["id"], 1000, order_id="S1"))
    assert "FROM purchases" in repeat[-1], repeat
    assert db.session.query(LedgerEntry).filter_by(member_id=member["id"], type="earn").count() == 1
    balance = client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"]
    assert balance == 10


@pytest.mark.parametrize("change", [{"amount": 1001}, {"currency": "eur"}, {"occurred_at": "2026-01-03T00:00:00Z"}])
def test_same_order_with_other_content_conflicts(client, admin, program, enroll, change):
    member = enroll()
    buy(client, admin, member["id"], 1000, order_id="A2", occurred_at="2026-01-02T10:00:00Z")
    body = {"amount": 1000, "currency": "usd", "occurred_at": "2026-01-02T10:00:00Z", **change}
    response = buy(client, admin, member["id"], order_id="A2", **body)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "order_exists"


def test_purchase_by_external_id(client, storefront, program, enroll):
    member = enroll(external_id="shop-42")
    response = client.post("/v1/purchases", headers=storefront, json={
        "external_id": "shop-42", "order_id": "x", "amount": 500, "currency": "usd"})
    assert response.status_code == 201
    assert response.get_json()["member_id"] == member["id"]
    assert response.get_json()["source"] == "api"


@pytest.mark.parametrize("body, field", [
    ({"amount": "1000"}, "amount"),
    ({"amount": 10.5}, "amount"),
    ({"amount": True}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"),
    ({"currency": "dollars"}, "currency"),
    ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"order_id": ""}, "order_id"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_purchase_input_is_a_validation_error(client, admin, program, enroll, body, field):
    """Wrong types, out-of-range values, naive timestamps and unknown fields: 422, nothing written."""
    member = enroll()
    full = {"member_id": member["id"], "order_id": "bad", "amount": 1000, "currency": "usd", **body}
    response = client.post("/v1/purchases", json=full, headers=admin)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]
    assert client.get(f"/v1/members/{member['id']}/purchases", headers=admin).get_json()["data"] == []


def test_purchase_needs_exactly_one_member_reference(client, admin, program, enroll):
    member = enroll(external_id="both")
    response = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "external_id": "both", "order_id": "x", "amount": 100, "currency": "usd"})
    assert response.status_code == 422


def test_purchase_for_unknown_member_is_404(client, admin, program):
    response = buy(client, admin, "mem_nope", 100)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_closed_member_cannot_earn(client, admin, program, enroll):
    member = enroll()
    client.delete(f"/v1/members/{member['id']}", headers=admin)
    response = buy(client, admin, member["id"], 100)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "member_inactive"


def test_member_purchases_are_listed_newest_first_with_cursor(client, admin, program, enroll):
    member = enroll()
    for number in range(5):
        buy(client, admin, member["id"], 100 + number, order_id=f"p{number}")
    first = client.get(f"/v1/members/{member['id']}/purchases?limit=3", headers=admin).get_json()
    assert [p["order_id"] for p in first["data"]] == ["p4", "p3", "p2"]
    rest = client.get(f"/v1/members/{member['id']}/purchases?limit=3&cursor={first['next_cursor']}",
                      headers=admin).get_json()
    assert [p["order_id"] for p in rest["data"]] == ["p1", "p0"]
    assert rest["next_cursor"] is None
