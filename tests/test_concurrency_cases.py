"""Case races against a real multi-worker server: goodwill is given once however many resolve at once."""
import requests

from tests.helpers import STAFF_PASSWORD, all_at_once


def _manager(server, admin, number):
    email = f"manager{number}@race.test"
    requests.post(server.url + "/v1/staff", headers=admin, json={
        "email": email, "name": f"Manager {number}", "role": "manager", "password": STAFF_PASSWORD}
    ).raise_for_status()
    session = requests.post(server.url + "/v1/staff/sessions", json={"email": email, "password": STAFF_PASSWORD})
    session.raise_for_status()
    return {"Authorization": f"Bearer {session.json()['token']}"}


def test_managers_resolving_one_case_at_once_give_goodwill_once(fresh_server):
    """Two managers resolve each of several cases at the same moment: one 200 and one case_resolved per
    case, and the member gets each case's goodwill exactly once."""
    server = fresh_server
    admin = server.api_key("admin")
    managers = [_manager(server, admin, number) for number in range(2)]
    member = requests.post(server.url + "/v1/members", headers=admin, json={"external_id": "racer"}).json()
    cases = [requests.post(server.url + f"/v1/members/{member['id']}/cases", headers=admin,
                           json={"subject": f"Race {number}", "category": "service"}).json() for number in range(8)]
    for case in cases:
        responses = all_at_once([
            (lambda headers=headers: requests.post(server.url + f"/v1/cases/{case['id']}/resolve", headers=headers,
                                                   json={"resolution": "Sorry", "goodwill_points": 100}))
            for headers in managers])
        assert sorted(response.status_code for response in responses) == [200, 409]
        refused = next(response for response in responses if response.status_code == 409)
        assert refused.json()["error"]["code"] == "case_resolved"
        shown = requests.get(server.url + f"/v1/cases/{case['id']}", headers=admin).json()
        assert (shown["status"], shown["goodwill_points"]) == ("resolved", 100)
    balance = requests.get(server.url + f"/v1/members/{member['id']}", headers=admin).json()["points"]["balance"]
    assert balance == 100 * len(cases)
    entries = requests.get(server.url + f"/v1/members/{member['id']}/transactions?limit=100", headers=admin).json()
    assert [entry["type"] for entry in entries["data"]] == ["goodwill"] * len(cases)
    assert server.flask("loyalty", "verify-ledger").returncode == 0
