"""The overview and the timeline against API.md (Service: Overview, Timeline)."""
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from loyalty import clock, jobs, purchases
from loyalty.actors import SYSTEM
from loyalty.extensions import db
from loyalty.service.timeline import KINDS
from tests.test_http_contract import assert_error
from tests.test_service import login, member  # noqa: F401  (fixtures)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def day(n: int, minutes: int = 0):
    return clock.frozen(T0 + timedelta(days=n, minutes=minutes))


@pytest.fixture
def tiers(client, admin):
    for body in ({"key": "base", "name": "Base", "min_qualifying_points": 0},
                 {"key": "gold", "name": "Gold", "min_qualifying_points": 100, "multiplier": "2"}):
        assert client.post("/v1/tiers", headers=admin, json=body).status_code == 201


@pytest.fixture
def coffee(client, admin):
    response = client.post("/v1/rewards", headers=admin, json={
        "name": "Coffee", "cost_points": 10, "kind": "free_item", "value": {"sku": "C"}, "voucher_valid_days": 5})
    return response.get_json()


def post(client, headers, path, body=None, status=None):
    response = client.post(path, headers=headers, **({"json": body} if body is not None else {}))
    assert response.status_code in ((status,) if status else (200, 201)), response.get_json()
    return response.get_json()


@pytest.fixture
def story(client, admin, storefront, program, tiers, coffee, login):
    """A member whose history has every kind of timeline item (and some at the same moment)."""
    client.patch("/v1/program", headers=admin, json={"signup_bonus": 20})
    _, ana = login("cashier", name="Ana")
    _, boss = login("manager", name="Boss")
    with day(0):
        member = post(client, admin, "/v1/members", {"external_id": "story", "name": "Maria"})  # + bonus
    m = member["id"]
    with day(1):
        bought = post(client, ana, "/v1/purchases", {"member_id": m, "order_id": "o-1", "amount": 15000,
                                                     "currency": "usd"})  # 150 points, reaches gold
    with day(2):
        post(client, admin, f"/v1/purchases/{bought['id']}/refunds", {"amount": 1000})
    with day(3):
        held = db.session.get(purchases.Purchase, bought["id"])
        purchases.set_returned_amounts(held, refunded_amount=1000, disputed_amount=2000, actor=SYSTEM,
                                       reason="stripe dispute needs_response")
        db.session.commit()
    with day(4):
        post(client, ana, f"/v1/members/{m}/redemptions", {"reward_id": coffee["id"], "use_now": True,
                                                           "location": "Store 12"})
    with day(5):
        voided = post(client, ana, f"/v1/members/{m}/redemptions", {"reward_id": coffee["id"]})
        post(client, boss, f"/v1/redemptions/{voided['code']}/void", {})
    with day(6):
        post(client, ana, f"/v1/members/{m}/redemptions", {"reward_id": coffee["id"]})
    jobs.expire_vouchers(T0 + timedelta(days=12))
    db.session.commit()
    with day(13):
        post(client, boss, f"/v1/members/{m}/adjustments", {"points": 5, "reason": "Birthday cake"})
        post(client, ana, f"/v1/members/{m}/feedback", {"kind": "csat", "score": 2, "comment": "Slow till"})
    with day(14):
        case = post(client, ana, f"/v1/members/{m}/cases", {"subject": "Slow till", "category": "service"})
    with day(14, 30):
        post(client, ana, f"/v1/cases/{case['id']}/replies", {"text": "Sorry, we are short-staffed"})
        post(client, boss, f"/v1/cases/{case['id']}/resolve", {"resolution": "Apologised", "goodwill_points": 50})
    with day(15):
        post(client, storefront, f"/v1/cases/{case['id']}/reopen")
        post(client, boss, f"/v1/members/{m}/notes", {"text": "Prefers the morning shift", "pinned": True})
    client.patch("/v1/program", headers=admin, json={"expiry_policy": "fixed", "expiry_days": 30})
    with day(60):
        jobs.expire_points(T0 + timedelta(days=60))
        db.session.commit()
    return member


def walk(client, headers, member_id, limit, kinds=None):
    """Every item, page by page."""
    items, cursor = [], None
    while True:
        query = f"limit={limit}" + (f"&kinds={kinds}" if kinds else "") + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"/v1/members/{member_id}/timeline?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        assert len(page["data"]) <= limit
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_every_kind_appears_newest_first(client, admin, story):
    items = walk(client, admin, story["id"], 100)
    assert {item["kind"] for item in items} == set(KINDS)
    stamps = [item["at"] for item in items]
    assert stamps == sorted(stamps, reverse=True)
    by_kind = {}
    for item in items:
        by_kind.setdefault(item["kind"], []).append(item)
    assert len(by_kind["bonus"]) == 1 and by_kind["bonus"][0]["points"] == 20
    purchase = by_kind["purchase"][0]
    assert (purchase["points"], purchase["actor"]["name"], purchase["ref"]["type"]) == (150, "Ana", "purchase")
    assert purchase["summary"] == "Bought for 150.00 USD (order o-1), earned 150 points, by Ana"
    issued = by_kind["redemption_issued"][-1]  # the oldest: issued and used at Store 12
    assert issued["summary"] == "Redeemed Coffee (10 points) at Store 12, by Ana"
    assert (issued["points"], issued["actor"]["type"]) == (-10, "staff")
    assert by_kind["redemption_used"][0]["points"] is None
    assert by_kind["redemption_voided"][0]["points"] == 10 and by_kind["redemption_voided"][0]["actor"]["name"] == "Boss"
    assert by_kind["redemption_expired"][0]["actor"] is None
    assert [item["points"] for item in by_kind["refund"]] == [-10]
    assert [item["points"] for item in by_kind["dispute"]] == [-20]
    assert by_kind["tier_changed"][0]["summary"].startswith("Tier changed to Gold")
    assert by_kind["tier_changed"][0]["points"] is None
    assert by_kind["goodwill"][0]["points"] == 50 and by_kind["goodwill"][0]["ref"]["type"] == "case"
    assert by_kind["case_resolved"][0]["points"] is None
    assert by_kind["case_reopened"][0]["actor"]["type"] == "api_key"
    assert by_kind["feedback"][0]["summary"] == 'Gave CSAT 2 (unhappy): "Slow till", by Ana'
    assert by_kind["expiry"][0]["points"] < 0 and by_kind["expiry"][0]["actor"] is None
    assert by_kind["note"][0]["summary"] == 'Pinned note: "Prefers the morning shift", by Boss'
    assert items[-1]["kind"] == "enrolled" and items[-2]["kind"] == "bonus"  # same moment: enrolment first
    for item in items:
        assert item["summary"] and isinstance(item["summary"], str)


def test_pages_return_each_item_exactly_once(client, admin, story):
    everything = walk(client, admin, story["id"], 100)
    keys = [(item["at"], item["kind"], item["ref"]["id"], item["summary"]) for item in everything]
    assert len(set(keys)) == len(keys)
    for limit in (1, 2, 3, 7):
        assert walk(client, admin, story["id"], limit) == everything


def test_filters_by_kind(client, admin, story):
    everything = walk(client, admin, story["id"], 100)
    for kinds in ("purchase", "refund", "dispute,note", "redemption_voided", "case_resolved,case_reopened",
                  "bonus,expiry", "adjustment,goodwill"):
        wanted = set(kinds.split(","))
        assert walk(client, admin, story["id"], 2, kinds) == [item for item in everything if item["kind"] in wanted]


@pytest.mark.parametrize("query", ["kinds=purchase,shopping", "kinds=", "kinds=purchase,", "limit=0", "limit=101",
                                   "cursor=abc", "cursor=WyJ4IiwgMSwgImEiXQ"])
def test_timeline_validation(client, admin, member, query):  # noqa: F811
    """Unknown kinds (the empty one too), limits out of range, cursors not from this list: 422."""
    response = client.get(f"/v1/members/{member['id']}/timeline?{query}", headers=admin)
    assert_error(response, 422, "validation_error")


def test_timeline_of_unknown_member_is_not_found(client, admin):
    assert_error(client.get("/v1/members/mem_nope/timeline", headers=admin), 404, "not_found")
    assert_error(client.get("/v1/members/mem_nope/overview", headers=admin), 404, "not_found")


# -- overview -----------------------------------------------------------------------------------

def test_overview(client, admin, storefront, program, member, coffee, login):  # noqa: F811
    _, cashier = login("cashier")
    m = member["id"]
    dear = post(client, admin, "/v1/rewards", {"name": "Dinner", "cost_points": 1000, "kind": "custom", "value": {}})
    post(client, admin, f"/v1/members/{m}/adjustments", {"points": 50, "reason": "welcome"})
    with day(0):
        older = post(client, admin, f"/v1/members/{m}/cases", {"subject": "First", "category": "other"})
    with day(1):
        newer = post(client, admin, f"/v1/members/{m}/cases", {"subject": "Second", "category": "other"})
        done = post(client, admin, f"/v1/members/{m}/cases", {"subject": "Done", "category": "other"})
        post(client, admin, f"/v1/cases/{done['id']}/resolve", {"resolution": "ok"})
        post(client, admin, f"/v1/members/{m}/feedback", {"kind": "csat", "score": 1})
    with day(2):
        latest_csat = post(client, admin, f"/v1/members/{m}/feedback", {"kind": "csat", "score": 5})
        post(client, cashier, f"/v1/members/{m}/notes", {"text": "Pinned", "pinned": True})
        post(client, cashier, f"/v1/members/{m}/notes", {"text": "Not pinned"})
    body = client.get(f"/v1/members/{m}/overview", headers=cashier).get_json()
    assert body["member"]["id"] == m and body["member"]["points"]["balance"] == 50
    eligibility = {reward["id"]: (reward["eligible"], reward["reason"]) for reward in body["rewards"]}
    assert eligibility == {coffee["id"]: (True, None), dear["id"]: (False, "insufficient_points")}
    assert [case["id"] for case in body["open_cases"]] == [older["id"], newer["id"]]
    assert [note["text"] for note in body["pinned_notes"]] == ["Pinned"]
    assert body["last_feedback"]["csat"]["id"] == latest_csat["id"] and body["last_feedback"]["nps"] is None
    assert body["at_risk"] is False
    as_storefront = client.get(f"/v1/members/{m}/overview", headers=storefront).get_json()
    assert as_storefront["pinned_notes"] == []
    assert as_storefront["rewards"] == body["rewards"]


def test_overview_at_risk_follows_the_rule(client, admin, program, member):  # noqa: F811
    with clock.frozen(clock.now() - timedelta(days=91)):
        post(client, admin, "/v1/purchases", {"member_id": member["id"], "order_id": "old", "amount": 1000,
                                              "currency": "usd"})
    assert client.get(f"/v1/members/{member['id']}/overview", headers=admin).get_json()["at_risk"] is True
    post(client, admin, "/v1/purchases", {"member_id": member["id"], "order_id": "new", "amount": 1000,
                                          "currency": "usd"})
    assert client.get(f"/v1/members/{member['id']}/overview", headers=admin).get_json()["at_risk"] is False


@contextmanager
def counted_statements():
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_overview_is_a_handful_of_statements_whatever_the_history(client, admin, program, member, coffee,
                                                                   login):  # noqa: F811
    """The overview's statement count does not grow with the member's history (cases, notes, feedback)."""
    _, cashier = login("cashier")
    m = member["id"]
    client.patch(f"/v1/rewards/{coffee['id']}", headers=admin, json={"per_member_limit": 3})
    post(client, admin, f"/v1/members/{m}/adjustments", {"points": 100, "reason": "x"})

    def overview_statements():
        client.get(f"/v1/members/{m}/overview", headers=cashier)  # settings cached, as in a running server
        with counted_statements() as statements:
            assert client.get(f"/v1/members/{m}/overview", headers=cashier).status_code == 200
        return len(statements)

    def balance_statements():
        client.get(f"/v1/members/{m}", headers=cashier)
        with counted_statements() as statements:
            assert client.get(f"/v1/members/{m}", headers=cashier).status_code == 200
        return len(statements)

    small = overview_statements()
    for number in range(5):
        post(client, admin, f"/v1/members/{m}/cases", {"subject": f"Case {number}", "category": "other"})
        post(client, admin, f"/v1/members/{m}/notes", {"text": f"Note {number}", "pinned": True})
        post(client, admin, f"/v1/members/{m}/feedback", {"kind": "nps", "score": number})
        post(client, admin, f"/v1/members/{m}/redemptions", {"reward_id": coffee["id"]}, status=None) \
            if number < 3 else None
        post(client, admin, "/v1/purchases", {"member_id": m, "order_id": f"o{number}", "amount": 100,
                                              "currency": "usd"})
    large = overview_statements()
    assert large == small <= 9
    assert balance_statements() <= 3
