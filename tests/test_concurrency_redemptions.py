"""Redemption races against a real multi-worker server: never overspent, never double-used."""

import requests
from tests.helpers import all_at_once


def _setup(server, admin, reward_fields):
    post = lambda path, body: requests.post(server.url + path, json=body, headers=admin)
    reward = post("/v1/rewards", {"name": "Coffee", "kind": "free_item", "value": {"sku": "C"}, **reward_fields})
    reward.raise_for_status()
    return post, reward.json()


def _member_with(post, external_id, points):
    member = post("/v1/members", {"external_id": external_id}).json()
    post(f"/v1/members/{member['id']}/adjustments", {"points": points, "reason": "race"}).raise_for_status()
    return member


def test_fifty_redemptions_covering_three(server):
    """50 at once for one member whose balance covers 3: exactly 3 issued, 47 insufficient_points."""
    admin = server.api_key("admin")
    post, reward = _setup(server, admin, {"cost_points": 100})
    member = _member_with(post, "racer", 350)
    responses = all_at_once([
        lambda: post(f"/v1/members/{member['id']}/redemptions", {"reward_id": reward["id"]})] * 50)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [409] * 47
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"insufficient_points"}
    balance = requests.get(server.url + f"/v1/members/{member['id']}", headers=admin).json()["points"]["balance"]
    assert balance == 50
    assert server.flask("loyalty", "verify-ledger").returncode == 0


def test_stock_of_five_for_thirty_members(server):
    """30 members at once for a reward with stock 5: exactly 5 issued, stock 0, 25 out_of_stock."""
    admin = server.api_key("admin")
    post, reward = _setup(server, admin, {"cost_points": 10, "stock": 5})
    members = [_member_with(post, f"m{number}", 10) for number in range(30)]
    responses = all_at_once([
        (lambda m=m: post(f"/v1/members/{m['id']}/redemptions", {"reward_id": reward["id"]})) for m in members])
    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 25
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"out_of_stock"}
    assert requests.get(server.url + f"/v1/rewards/{reward['id']}", headers=admin).json()["stock"] == 0
    assert server.flask("loyalty", "verify-ledger").returncode == 0


def test_one_code_used_by_ten_tills(server):
    """One voucher used at 10 tills at once: exactly one succeeds, nine get already_used."""
    admin = server.api_key("admin")
    post, reward = _setup(server, admin, {"cost_points": 10})
    member = _member_with(post, "voucher", 10)
    code = post(f"/v1/members/{member['id']}/redemptions", {"reward_id": reward["id"]}).json()["code"]
    responses = all_at_once([
        (lambda till=till: post(f"/v1/redemptions/{code}/use", {"location": f"till {till}"})) for till in range(10)])
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"already_used"}
