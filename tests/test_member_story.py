"""The overview and the timeline against API.md (Service: Overview, Timeline)."""
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from loyalty import clock
from loyalty.extensions import db
from loyalty.service.timeline import KINDS
from tests.helpers import assert_error



def on(day: int):
    return clock.frozen(datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc) + timedelta(days=day))


def post(client, headers, path, body=None):
    response = client.post(path, headers=headers, **({"json": body} if body is not None else {}))
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


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


def test_every_kind_appears_newest_first(client, admin, service_story):
    items = walk(client, admin, service_story["id"], 100)
    assert {item["kind"] for item in items} == set(KINDS)
    stamps = [item["at"] for item in items]
    assert stamps == sorted(stamps, reverse=True)
    by_kind = {}
    for item in items:
        by_kind.setdefault(item["kind"], []).append(item)
    assert len(by_kind["bonus"]) == 1 and by_kind["bonus"][0]["points"] == 20
    purchase = by_kind["purchase"][0]
    assert (purchase["points"], purchase["actor"]["name"], purchase["ref"]["type"]) == (600, "Ana", "purchase")
    assert purchase["summary"] == "Bought for 600.00 USD (order o-1), earned 600 points, by Ana"
    issued = by_kind["redemption_issued"][-1]  # the oldest: issued and used at Store 12
    assert issued["summary"] == "Redeemed Coffee (10 points) at Store 12, by Ana"
    assert (issued["points"], issued["actor"]["type"]) == (-10, "staff")
    assert by_kind["redemption_used"][0]["points"] is None
    assert by_kind["redemption_voided"][0]["points"] == 10 and by_kind["redemption_voided"][0]["actor"]["name"] == "Boss"
    assert by_kind["redemption_expired"][0]["actor"] is None
    assert [item["points"] for item in by_kind["refund"]] == [-10]
    assert [item["points"] for item in by_kind["dispute"]] == [-20]
    assert by_kind["tier_changed"][0]["summary"].startswith("Tier changed to Silver")
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


def test_pages_return_each_item_exactly_once(client, admin, service_story):
    everything = walk(client, admin, service_story["id"], 100)
    keys = [(item["at"], item["kind"], item["ref"]["id"], item["summary"]) for item in everything]
    assert len(set(keys)) == len(keys)
    for limit in (1, 2, 3, 7):
        assert walk(client, admin, service_story["id"], limit) == everything


def test_filters_by_kind(client, admin, service_story):
    everything = walk(client, admin, service_story["id"], 100)
    for kinds in ("purchase", "refund", "dispute,note", "redemption_voided", "case_resolved,case_reopened",
                  "bonus,expiry", "adjustment,goodwill"):
        wanted = set(kinds.split(","))
        assert walk(client, admin, service_story["id"], 2, kinds) == [item for item in everything if item["kind"] in wanted]


@pytest.mark.parametrize("query", ["kinds=purchase,shopping", "kinds=", "kinds=purchase,", "limit=0", "limit=101",
                                   "cursor=abc", "cursor=WyJ4IiwgMSwgImEiXQ"])
def test_timeline_validation(client, admin, maria, query):
    """Unknown kinds (the empty one too), limits out of range, cursors not from this list: 422."""
    response = client.get(f"/v1/members/{maria['id']}/timeline?{query}", headers=admin)
    assert_error(response, 422, "validation_error")


def test_timeline_of_unknown_member_is_not_found(client, admin):
    assert_error(client.get("/v1/members/mem_nope/timeline", headers=admin), 404, "not_found")
    assert_error(client.get("/v1/members/mem_nope/overview", headers=admin), 404, "not_found")


# -- overview -----------------------------------------------------------------------------------

def test_overview(client, admin, storefront, maria, reward, desk_staff):
    _, cashier = desk_staff("cashier")
    coffee = reward(cost_points=10)
    m = maria["id"]
    dear = post(client, admin, "/v1/rewards", {"name": "Dinner", "cost_points": 1000, "kind": "custom", "value": {}})
    post(client, admin, f"/v1/members/{m}/adjustments", {"points": 50, "reason": "welcome"})
    with on(0):
        older = post(client, admin, f"/v1/members/{m}/cases", {"subject": "First", "category": "other"})
    with on(1):
        newer = post(client, admin, f"/v1/members/{m}/cases", {"subject": "Second", "category": "other"})
        done = post(client, admin, f"/v1/members/{m}/cases", {"subject": "Done", "category": "other"})
        post(client, admin, f"/v1/cases/{done['id']}/resolve", {"resolution": "ok"})
        post(client, admin, f"/v1/members/{m}/feedback", {"kind": "csat", "score": 1})
    with on(2):
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


def test_overview_at_risk_follows_the_rule(client, admin, maria):
    with clock.frozen(clock.now() - timedelta(days=91)):
        post(client, admin, "/v1/purchases", {"member_id": maria["id"], "order_id": "old", "amount": 1000,
                                              "currency": "usd"})
    assert client.get(f"/v1/members/{maria['id']}/overview", headers=admin).get_json()["at_risk"] is True
    post(client, admin, "/v1/purchases", {"member_id": maria["id"], "order_id": "new", "amount": 1000,
                                          "currency": "usd"})
    assert client.get(f"/v1/members/{maria['id']}/overview", headers=admin).get_json()["at_risk"] is False


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


def test_overview_is_a_handful_of_statements_whatever_the_history(client, admin, maria, reward, desk_staff):
    """The overview's statement count does not grow with the member's history (cases, notes, feedback)."""
    _, cashier = desk_staff("cashier")
    m = maria["id"]
    coffee = reward(cost_points=10, per_member_limit=3)
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
        if number < 3:
            post(client, admin, f"/v1/members/{m}/redemptions", {"reward_id": coffee["id"]})
        post(client, admin, "/v1/purchases", {"member_id": m, "order_id": f"o{number}", "amount": 100,
                                              "currency": "usd"})
    large = overview_statements()
    assert large == small <= 9
    assert balance_statements() <= 3
