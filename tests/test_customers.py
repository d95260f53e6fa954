"""Customer tokens and /v1/me against API.md (Customers, Roles)."""
from datetime import datetime, timedelta, timezone

import pytest

from loyalty import clock

T = datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)


def test_me_shows_the_member(client, admin, customer):
    member, headers = customer()
    client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "me-1", "amount": 1234, "currency": "usd"})
    body = client.get("/v1/me", headers=headers).get_json()
    assert body["id"] == member["id"]
    assert body["points"] == {"balance": 12, "pending": 0}
    assert body["expiring"] is None
    assert "tier" in body and "tier_progress" in body


def test_me_lists_transactions_rewards_and_redemptions(client, admin, customer):
    member, headers = customer()
    client.post(f"/v1/members/{member['id']}/adjustments", headers=admin, json={"points": 150, "reason": "gift"})
    reward = client.post("/v1/rewards", headers=admin, json={
        "name": "Tea", "cost_points": 100, "kind": "free_item", "value": {"sku": "TEA"}}).get_json()
    listed = client.get("/v1/me/rewards", headers=headers).get_json()["data"]
    assert [(r["id"], r["eligible"], r["reason"]) for r in listed] == [(reward["id"], True, None)]
    issued = client.post("/v1/me/redemptions", headers=headers, json={"reward_id": reward["id"]})
    assert issued.status_code == 201 and issued.get_json()["channel"] == "app"
    again = client.post("/v1/me/redemptions", headers=headers, json={"reward_id": reward["id"]})
    assert again.get_json()["error"]["code"] == "insufficient_points"
    by_till = client.post(f"/v1/members/{member['id']}/redemptions", headers=admin, json={"reward_id": reward["id"]})
    assert by_till.status_code == 409  # 50 left
    client.post(f"/v1/members/{member['id']}/adjustments", headers=admin, json={"points": 100, "reason": "x"})
    client.post(f"/v1/members/{member['id']}/redemptions", headers=admin, json={"reward_id": reward["id"]})
    mine = client.get("/v1/me/redemptions", headers=headers).get_json()["data"]
    assert len(mine) == 2  # whoever issued them
    types = [e["type"] for e in client.get("/v1/me/transactions", headers=headers).get_json()["data"]]
    assert types == ["redeem", "adjustment", "redeem", "adjustment"]


@pytest.mark.parametrize("method, path", [
    ("get", "/v1/members/{other}"), ("get", "/v1/members/{mine}"), ("get", "/v1/program"),
    ("post", "/v1/purchases"), ("get", "/v1/members/{other}/transactions"),
    ("get", "/v1/rewards?member_id={other}"), ("post", "/v1/members/{mine}/access-tokens"),
    ("get", "/v1/staff"), ("post", "/v1/members/{mine}/adjustments"),
])
def test_customer_token_reaches_nothing_else(client, enroll, customer, method, path):
    """Is a customer token refused (403) everywhere but /v1/me..., tiers and rewards?"""
    member, headers = customer()
    other = enroll()
    response = getattr(client, method)(path.format(mine=member["id"], other=other["id"]), headers=headers, json={})
    assert response.status_code == 403, response.get_json()


def test_customer_may_read_tiers_and_own_reward_eligibility(client, customer):
    member, headers = customer()
    assert client.get("/v1/tiers", headers=headers).status_code == 200
    assert client.get(f"/v1/rewards?member_id={member['id']}", headers=headers).status_code == 200


def test_others_have_no_me(client, admin, storefront):
    assert client.get("/v1/me", headers=storefront).status_code == 403
    assert client.get("/v1/me", headers=admin).status_code == 403


def test_token_expires(client, storefront, enroll, program):
    member = enroll()
    with clock.frozen(T):
        body = client.post(f"/v1/members/{member['id']}/access-tokens", headers=storefront).get_json()
    headers = {"Authorization": f"Bearer {body['token']}"}
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert T < expires <= T + timedelta(hours=24)
    with clock.frozen(expires - timedelta(seconds=1)):
        assert client.get("/v1/me", headers=headers).status_code == 200
    with clock.frozen(expires):
        assert client.get("/v1/me", headers=headers).status_code == 401


def test_closing_the_member_ends_its_tokens(client, storefront, customer):
    member, headers = customer()
    client.delete(f"/v1/members/{member['id']}", headers=storefront)
    assert client.get("/v1/me", headers=headers).status_code == 401
    again = client.post(f"/v1/members/{member['id']}/access-tokens", headers=storefront)
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "member_inactive")
