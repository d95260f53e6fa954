"""Campaigns against API.md (Campaigns; Rules: Earning, the campaign multiplier c)."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from loyalty import clock
from tests.helpers import stamp

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
END = datetime(2026, 3, 15, tzinfo=timezone.utc)


def buy(client, admin, member, dollars, on, order):
    response = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": order, "amount": dollars * 100, "currency": "usd",
        "occurred_at": stamp(on)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("body", [
    {"multiplier": "1"}, {"multiplier": 2}, {"holdout_percent": 51}, {"ends_at": stamp(START)},
    {"tiers": ["nope"]}, {"starts_at": "2026-03-01T00:00:00"},
])
def test_campaign_validation(client, admin, program, body):
    response = client.post("/v1/campaigns", headers=admin, json={
        "name": "X", "multiplier": "2", "starts_at": stamp(START), "ends_at": stamp(END), **body})
    assert response.status_code == 422, response.get_json()


def test_campaigns_are_admin_only(client, storefront, campaign):
    made = campaign()
    assert client.get("/v1/campaigns", headers=storefront).status_code == 403
    assert client.get(f"/v1/campaigns/{made['id']}", headers=storefront).status_code == 403


def test_treated_members_earn_the_multiplier_inside_the_window_only(client, admin, enroll, campaign):
    made = campaign(multiplier="1.5")
    member = enroll()
    assert buy(client, admin, member, 10, START - timedelta(seconds=1), "before")["points_earned"] == 10
    assert buy(client, admin, member, 10, START, "start")["points_earned"] == 15
    assert buy(client, admin, member, 10, END - timedelta(seconds=1), "last")["points_earned"] == 15
    assert buy(client, admin, member, 10, END, "after")["points_earned"] == 10
    purchase = buy(client, admin, member, 10, START + timedelta(days=1), "q")
    assert purchase["qualifying_points"] == 10  # the multiplier does not qualify
    group = client.get(f"/v1/campaigns/{made['id']}/members/{member['id']}", headers=admin).get_json()
    assert group["group"] == "treated"


def test_largest_of_overlapping_campaigns_applies(client, admin, enroll, campaign):
    campaign(multiplier="1.5")
    campaign(multiplier="3")
    assert buy(client, admin, enroll(), 10, START + timedelta(days=1), "o")["points_earned"] == 30


def test_tier_scoped_campaign_treats_only_those_tiers(client, admin, enroll, campaign):
    client.post("/v1/tiers", headers=admin, json={"key": "gold", "name": "Gold", "min_qualifying_points": 100})
    made = campaign(tiers=["gold"])
    gold, plain = enroll(), enroll()
    buy(client, admin, gold, 100, START - timedelta(days=5), "g0")
    assert buy(client, admin, gold, 10, START + timedelta(days=1), "g1")["points_earned"] == 20
    assert buy(client, admin, plain, 10, START + timedelta(days=1), "p1")["points_earned"] == 10
    assert client.get(f"/v1/campaigns/{made['id']}/members/{plain['id']}", headers=admin).get_json()["group"] is None


def test_holdout_members_earn_normally_and_assignment_is_stable(client, admin, enroll, campaign):
    made = campaign(holdout_percent=50)
    groups = {}
    for number in range(40):
        member = enroll()
        group = client.get(f"/v1/campaigns/{made['id']}/members/{member['id']}", headers=admin).get_json()["group"]
        again = client.get(f"/v1/campaigns/{made['id']}/members/{member['id']}", headers=admin).get_json()["group"]
        assert group == again
        earned = buy(client, admin, member, 10, START + timedelta(days=1), f"h{number}")["points_earned"]
        assert earned == (10 if group == "holdout" else 20)
        groups[member["id"]] = group
    assert set(groups.values()) == {"treated", "holdout"}


def test_assignment_is_close_to_the_percentage(app, campaign):
    """Over many member ids, is the holdout share close to holdout_percent?"""
    from loyalty import campaigns
    from loyalty.ids import new_id

    made = campaigns.get_campaign(campaign(holdout_percent=20)["id"])
    ids = [new_id("mem") for _ in range(20000)]
    share = sum(campaigns.is_holdout(made, member_id) for member_id in ids) / len(ids)
    assert abs(share - 0.20) < 0.015


def test_results_compare_treated_and_holdout(client, admin, enroll, campaign):
    """Are results the contract's counts, rates and normal-approximation interval?"""
    made = campaign(holdout_percent=50, multiplier="2")
    with clock.frozen(START - timedelta(days=1)):
        members = [enroll() for _ in range(30)]
    with clock.frozen(END + timedelta(days=1)):
        enroll()  # joined after the campaign: not counted
    for number, member in enumerate(members):
        if number % 3:
            buy(client, admin, member, 10, END + timedelta(days=number % 12), f"r{number}")
    with clock.frozen(END + timedelta(days=40)):
        body = client.get(f"/v1/campaigns/{made['id']}/results?window_days=10", headers=admin).get_json()
    expected = {"treated": [0, 0], "holdout": [0, 0]}
    for number, member in enumerate(members):
        group = client.get(f"/v1/campaigns/{made['id']}/members/{member['id']}", headers=admin).get_json()["group"]
        expected[group][0] += 1
        expected[group][1] += bool(number % 3) and (number % 12) < 10
    rates = {g: Decimal(b) / Decimal(n) for g, (n, b) in expected.items()}
    for group, (count, bought) in expected.items():
        assert body[group] == {"members": count, "buyers": bought,
                               "purchase_rate": str(rates[group].quantize(Decimal("0.0001")))}
    difference = rates["treated"] - rates["holdout"]
    spread = Decimal("1.959963984540054") * sum(r * (1 - r) / expected[g][0] for g, r in rates.items()).sqrt()
    assert body["difference"] == str(difference.quantize(Decimal("0.0001")))
    assert body["ci95"] == [str((difference - spread).quantize(Decimal("0.0001"))),
                            str((difference + spread).quantize(Decimal("0.0001")))]


def test_tier_scoped_results_count_whom_the_member_endpoint_puts_in_scope(client, admin, enroll, campaign):
    """Results count the members holding one of the campaign's tiers at its start: the same rule,
    in SQL, as a member's group (tier history; gold reached after the start does not count)."""
    client.post("/v1/tiers", headers=admin, json={"key": "gold", "name": "Gold", "min_qualifying_points": 100})
    made = campaign(tiers=["gold"], holdout_percent=50)
    with clock.frozen(START - timedelta(days=10)):
        members = [enroll() for _ in range(12)]
    for number, member in enumerate(members[:8]):
        buy(client, admin, member, 100, START - timedelta(days=5), f"before{number}")
    for number, member in enumerate(members[8:10]):
        buy(client, admin, member, 100, START + timedelta(days=2), f"after{number}")
    with clock.frozen(END + timedelta(days=40)):
        body = client.get(f"/v1/campaigns/{made['id']}/results?window_days=10", headers=admin).get_json()
    groups = [client.get(f"/v1/campaigns/{made['id']}/members/{member['id']}", headers=admin).get_json()["group"]
              for member in members]
    assert sum(group is not None for group in groups) == 8
    assert (body["treated"]["members"], body["holdout"]["members"]) == (groups.count("treated"), groups.count("holdout"))
