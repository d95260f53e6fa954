"""Rewards and redemptions against API.md (Rewards and redemptions), and the Roles for them."""
from datetime import datetime, timedelta, timezone

import pytest

from loyalty import clock, jobs
from loyalty.extensions import db
from loyalty.ids import UNAMBIGUOUS
from loyalty.models import Reward
from tests.helpers import balance

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)


def redeem(client, headers, member, reward, **extra):
    return client.post(f"/v1/members/{member['id']}/redemptions", headers=headers,
                       json={"reward_id": reward["id"], **extra})


@pytest.mark.parametrize("kind, value", [
    ("discount_amount", {"amount": 500, "currency": "USD"}),
    ("discount_percent", {"percent": "12.5"}),
    ("free_item", {"sku": "MUG"}),
    ("custom", {}),
])
def test_reward_kinds_and_values(reward, kind, value):
    """Does each kind keep its value (currency lowercased, percent a decimal string)?"""
    made = reward(kind=kind, value=value)
    expected = {**value, "currency": "usd"} if "currency" in value else value
    assert made["value"] == expected
    assert (made["stock"], made["per_member_limit"], made["voucher_valid_days"], made["active"]) == (None, None, 30, True)


@pytest.mark.parametrize("body", [
    {"kind": "discount_amount", "value": {"percent": "10"}},
    {"kind": "discount_percent", "value": {"percent": "0"}},
    {"kind": "discount_percent", "value": {"percent": "101"}},
    {"kind": "discount_percent", "value": {"percent": 10}},
    {"kind": "free_item", "value": {}},
    {"kind": "custom", "value": {"sku": "X"}},
    {"kind": "voucher", "value": {}},
    {"kind": "custom", "value": {}, "cost_points": 0},
    {"kind": "custom", "value": {}, "stock": -1},
])
def test_reward_validation(client, admin, body):
    """Is a value that does not fit its kind, or a bad number, a 422?"""
    response = client.post("/v1/rewards", headers=admin, json={"name": "X", "cost_points": 10, **body})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "validation_error"


def test_unknown_min_tier_is_a_validation_error(client, admin):
    response = client.post("/v1/rewards", headers=admin, json={
        "name": "X", "cost_points": 10, "kind": "custom", "value": {}, "min_tier": "nope"})
    assert response.status_code == 422
    assert "min_tier" in response.get_json()["error"]["details"]["fields"]


def test_catalogue_writes_are_admin_only(client, storefront, reward):
    """May the storefront read rewards but not create or change them?"""
    made = reward()
    assert client.get("/v1/rewards", headers=storefront).status_code == 200
    assert client.post("/v1/rewards", headers=storefront, json={}).status_code == 403
    assert client.patch(f"/v1/rewards/{made['id']}", headers=storefront, json={"active": False}).status_code == 403


def test_issue_debits_points_and_gives_a_code(client, admin, storefront, reward, rich):
    """Does issuing debit the cost at once and return an unambiguous code valid voucher_valid_days?"""
    member, made = rich(250), reward(voucher_valid_days=10)
    with clock.frozen(NOW):
        response = redeem(client, storefront, member, made, location="web")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "issued" and body["points"] == 100 and body["channel"] == "online"
    assert len(body["code"]) >= 8 and set(body["code"]) <= set(UNAMBIGUOUS)
    assert body["expires_at"] == "2026-05-11T09:00:00Z"
    assert balance(client, admin, member["id"]) == 150
    entries = client.get(f"/v1/members/{member['id']}/transactions", headers=admin).get_json()["data"]
    assert (entries[0]["type"], entries[0]["points"], entries[0]["redemption_id"]) == ("redeem", -100, body["id"])


def test_code_lookup_is_case_insensitive(client, storefront, reward, rich):
    issued = redeem(client, storefront, rich(100), reward()).get_json()
    response = client.get(f"/v1/redemptions/{issued['code'].lower()}", headers=storefront)
    assert response.status_code == 200 and response.get_json()["id"] == issued["id"]
    assert client.get("/v1/redemptions/NOPE2345", headers=storefront).status_code == 404


@pytest.mark.parametrize("setup, code", [
    ("suspended", "member_inactive"),
    ("inactive", "reward_inactive"),
    ("tier", "tier_required"),
    ("stock", "out_of_stock"),
    ("limit", "limit_reached"),
    ("poor", "insufficient_points"),
    ("negative", "insufficient_points"),
])
def test_each_refusal(client, admin, storefront, reward, rich, setup, code):
    """Is each refusal a 409 with its code, changing nothing, and the same as the catalogue's reason?"""
    member = rich(500)
    made = reward(cost_points=100, per_member_limit=1 if setup == "limit" else None,
                  stock=0 if setup == "stock" else None, active=setup != "inactive")
    if setup == "suspended":
        client.patch(f"/v1/members/{member['id']}", headers=admin, json={"status": "suspended"})
    if setup == "tier":
        client.post("/v1/tiers", headers=admin, json={"key": "gold", "name": "Gold", "min_qualifying_points": 1000})
        made = client.patch(f"/v1/rewards/{made['id']}", headers=admin, json={"min_tier": "gold"}).get_json()
    if setup == "limit":
        assert redeem(client, storefront, member, made).status_code == 201
    if setup == "poor":
        member = rich(99)
    if setup == "negative":
        member = rich(0)
        client.post(f"/v1/members/{member['id']}/adjustments", headers=admin, json={"points": 5, "reason": "x"})
        purchase = client.post("/v1/purchases", headers=admin, json={
            "member_id": member["id"], "order_id": "neg", "amount": 100000, "currency": "usd"}).get_json()
        client.post(f"/v1/redemptions/{redeem(client, admin, member, reward(cost_points=900)).get_json()['code']}/use",
                    headers=admin, json={})
        client.post(f"/v1/purchases/{purchase['id']}/refunds", headers=admin, json={"amount": 100000})
        assert balance(client, admin, member["id"]) < 0
    before = balance(client, admin, member["id"])
    listed = client.get(f"/v1/rewards?member_id={member['id']}&limit=100", headers=storefront).get_json()["data"]
    mine = next(item for item in listed if item["id"] == made["id"])
    assert (mine["eligible"], mine["reason"]) == (False, code)
    response = redeem(client, storefront, member, made)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert balance(client, admin, member["id"]) == before


def test_refusals_come_in_the_contracts_order(client, admin, storefront, reward, rich):
    """With every reason at once, is the first in the contract's order reported?"""
    client.post("/v1/tiers", headers=admin, json={"key": "gold", "name": "Gold", "min_qualifying_points": 1000})
    made = reward(cost_points=10**6, stock=0, active=False, min_tier="gold")
    member = rich(0)
    response = redeem(client, storefront, member, made)
    assert response.get_json()["error"]["code"] == "reward_inactive"
    client.patch(f"/v1/rewards/{made['id']}", headers=admin, json={"active": True})
    assert redeem(client, storefront, member, made).get_json()["error"]["code"] == "tier_required"


def test_eligible_reward_is_listed_as_such(client, storefront, reward, rich):
    member, made = rich(100), reward()
    listed = client.get(f"/v1/rewards?member_id={member['id']}", headers=storefront).get_json()["data"]
    assert [(item["eligible"], item["reason"]) for item in listed if item["id"] == made["id"]] == [(True, None)]


def test_use_once_then_already_used(client, storefront, reward, rich):
    """Is a voucher used once, then 409 already_used; and can a used voucher not be voided?"""
    code = redeem(client, storefront, rich(100), reward()).get_json()["code"]
    first = client.post(f"/v1/redemptions/{code}/use", headers=storefront, json={"order_id": "o-1", "location": "web"})
    assert first.status_code == 200 and first.get_json()["status"] == "used"
    assert first.get_json()["used_order_id"] == "o-1"
    again = client.post(f"/v1/redemptions/{code}/use", headers=storefront, json={})
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "already_used")
    void = client.post(f"/v1/redemptions/{code}/void", headers=storefront, json={})
    assert (void.status_code, void.get_json()["error"]["code"]) == (409, "already_used")


def test_void_returns_points_and_stock(client, admin, storefront, reward, rich):
    """Does voiding give back the points (a `return` entry) and the stock, once?"""
    member, made = rich(100), reward(stock=1)
    code = redeem(client, storefront, member, made).get_json()["code"]
    assert client.get(f"/v1/rewards/{made['id']}", headers=admin).get_json()["stock"] == 0
    response = client.post(f"/v1/redemptions/{code}/void", headers=storefront, json={})
    assert response.status_code == 200 and response.get_json()["status"] == "voided"
    assert balance(client, admin, member["id"]) == 100
    assert client.get(f"/v1/rewards/{made['id']}", headers=admin).get_json()["stock"] == 1
    entry = client.get(f"/v1/members/{member['id']}/transactions", headers=admin).get_json()["data"][0]
    assert (entry["type"], entry["points"]) == ("return", 100)
    for action in ("void", "use"):
        again = client.post(f"/v1/redemptions/{code}/{action}", headers=storefront, json={})
        assert (again.status_code, again.get_json()["error"]["code"]) == (409, "voided")
    assert balance(client, admin, member["id"]) == 100


def test_expiry_by_run_jobs_returns_points_once(client, admin, storefront, reward, rich):
    """Does run-jobs expire unused vouchers past their date, returning points and stock once?"""
    member, made = rich(100), reward(stock=3, voucher_valid_days=5)
    with clock.frozen(NOW):
        code = redeem(client, storefront, member, made).get_json()["code"]
    with clock.frozen(NOW + timedelta(days=5, seconds=1)):
        used = client.post(f"/v1/redemptions/{code}/use", headers=storefront, json={})
        assert (used.status_code, used.get_json()["error"]["code"]) == (409, "expired")
        list(jobs.run_all())
        list(jobs.run_all())
    assert client.get(f"/v1/redemptions/{code}", headers=storefront).get_json()["status"] == "expired"
    assert balance(client, admin, member["id"]) == 100
    assert db.session.get(Reward, made["id"]).stock == 3
    types = [e["type"] for e in client.get(f"/v1/members/{member['id']}/transactions", headers=admin).get_json()["data"]]
    assert types.count("return") == 1


def test_use_now_at_the_till(client, admin, staff_login, reward, rich):
    """Does a cashier's use_now issue and use in one step, recording the staff member and location?"""
    cashier = staff_login("cashier")
    member = rich(100)
    response = redeem(client, cashier, member, reward(), use_now=True, location="Shop 1")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["channel"], body["location"]) == ("used", "pos", "Shop 1")
    assert body["staff_id"] and body["used_at"]


@pytest.mark.parametrize("role, action, allowed", [
    ("cashier", "issue", True), ("cashier", "use", True), ("cashier", "void", False),
    ("manager", "void", True), ("cashier", "adjust", False), ("manager", "adjust", True),
])
def test_staff_roles(client, admin, staff_login, reward, rich, role, action, allowed):
    """May a cashier issue and use but not void or adjust, while a manager may?"""
    headers = staff_login(role)
    member, made = rich(300), reward()
    code = redeem(client, admin, member, made).get_json()["code"]
    response = {
        "issue": lambda: redeem(client, headers, member, made),
        "use": lambda: client.post(f"/v1/redemptions/{code}/use", headers=headers, json={}),
        "void": lambda: client.post(f"/v1/redemptions/{code}/void", headers=headers, json={}),
        "adjust": lambda: client.post(f"/v1/members/{member['id']}/adjustments", headers=headers,
                                      json={"points": 5, "reason": "goodwill"}),
    }[action]()
    assert (response.status_code < 300) is allowed, response.get_json()
    if not allowed:
        assert response.status_code == 403


def test_manager_lists_a_locations_day_and_a_members_redemptions(client, admin, staff_login, reward, rich):
    """Can a manager see what a shop redeemed on a day, and a member's redemptions?"""
    manager, cashier = staff_login("manager"), staff_login("cashier")
    member, made = rich(1000), reward()
    with clock.frozen(NOW):
        here = redeem(client, cashier, member, made, location="Shop 1").get_json()
        redeem(client, cashier, member, made, location="Shop 2")
    with clock.frozen(NOW + timedelta(days=1)):
        redeem(client, cashier, member, made, location="Shop 1")
    day = client.get("/v1/redemptions?location=Shop 1&date=2026-05-01", headers=manager).get_json()["data"]
    assert [item["id"] for item in day] == [here["id"]]
    assert client.get("/v1/redemptions?location=Shop 1&date=2026-05-01", headers=cashier).status_code == 403
    mine = client.get(f"/v1/members/{member['id']}/redemptions", headers=manager).get_json()["data"]
    assert len(mine) == 3
