"""Races against a real multi-worker server: no point is lost or invented."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests


@pytest.fixture
def server(live_server):
    return live_server(workers=4)


def test_simultaneous_purchases_and_retries_give_exact_balance(server):
    """20 different purchases and 20 retries of one Idempotency-Key, all at once, for one member."""
    admin = server.api_key("admin")
    requests.patch(server.url + "/v1/program", json={"earn_rates": {"usd": "1"}}, headers=admin).raise_for_status()
    member = requests.post(server.url + "/v1/members", json={"external_id": "race-1"}, headers=admin).json()

    def purchase(number):
        return requests.post(server.url + "/v1/purchases", headers=admin, json={
            "member_id": member["id"], "order_id": f"race-{number}", "amount": 1000, "currency": "usd"})

    def retry(_):
        return requests.post(server.url + "/v1/purchases", headers={**admin, "Idempotency-Key": "same-key"},
                             json={"member_id": member["id"], "order_id": "retried", "amount": 500,
                                   "currency": "usd"})

    with ThreadPoolExecutor(max_workers=40) as pool:
        distinct = [pool.submit(purchase, number) for number in range(20)]
        retries = [pool.submit(retry, number) for number in range(20)]
        distinct = [future.result() for future in distinct]
        retries = [future.result() for future in retries]
    assert [r.status_code for r in distinct] == [201] * 20
    assert {r.status_code for r in retries} == {201}
    assert len({r.json()["id"] for r in retries}) == 1

    after = requests.get(server.url + f"/v1/members/{member['id']}", headers=admin).json()
    assert after["points"]["balance"] == 20 * 10 + 5
    verify = server.flask("loyalty", "verify-ledger")
    assert verify.returncode == 0, verify.stdout
