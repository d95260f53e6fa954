"""The same Stripe event delivered 10 times at once to a multi-worker server applies once."""
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.stripe_events import T0, charge, checkout_session, event, payment_intent, signed, unique


def post_all(fresh_server, deliveries):
    """POST every (payload, headers) at once; the responses in the same order."""
    def post(delivery):
        payload, headers = delivery
        return requests.post(fresh_server.url + "/webhooks/stripe", data=payload, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        return list(pool.map(post, deliveries))


def test_same_event_ten_times_at_once_applies_once(fresh_server):
    admin = fresh_server.api_key("admin")
    requests.patch(fresh_server.url + "/v1/program", json={"earn_rates": {"usd": "1"}, "auto_enroll": False},
                   headers=admin).raise_for_status()
    member = requests.post(fresh_server.url + "/v1/members", json={"external_id": "race-stripe"}, headers=admin).json()
    pi, ch = unique("pi"), unique("ch")
    paid = event("payment_intent.succeeded",
                 payment_intent(pi, 12300, latest_charge=ch, metadata={"loyalty_member_id": member["id"]}))
    responses = post_all(fresh_server, [signed(paid)] * 10)
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * 9
    assert {r.json()["status"] for r in responses} == {"processed"}

    # Then a refund, also 10 times at once, racing the other events of the same payment.
    refunded = event("charge.refunded", charge(ch, 12300, payment_intent=pi, amount_refunded=2300), created=T0 + 10)
    others = [event("charge.succeeded", charge(ch, 12300, payment_intent=pi)),
              event("checkout.session.completed", checkout_session(unique("cs"), 12300, payment_intent=pi))]
    responses = post_all(fresh_server, [signed(refunded)] * 10 + [signed(other) for other in others] * 3)
    assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses]

    after = requests.get(fresh_server.url + f"/v1/members/{member['id']}", headers=admin).json()
    assert after["points"]["balance"] == 100  # $123.00 earned 123, the $23.00 refund took 23, once
    purchases = requests.get(fresh_server.url + f"/v1/members/{member['id']}/purchases", headers=admin).json()["data"]
    assert [(p["order_id"], p["refunded_amount"]) for p in purchases] == [(pi, 2300)]
    listed = requests.get(fresh_server.url + "/v1/payment-events?limit=100", headers=admin).json()["data"]
    assert len(listed) == 4 and {e["status"] for e in listed} == {"processed"}
    verify = fresh_server.flask("loyalty", "verify-ledger")
    assert verify.returncode == 0, verify.stdout


def test_api_refund_racing_a_stripe_refund_reverses_once(fresh_server):
    """A full refund through the API and Stripe's charge.refunded for the same money, at once: the
    API refuses (refund_in_stripe, whichever comes first) and the purchase ends fully refunded
    with its points reversed once (never twice)."""
    admin = fresh_server.api_key("admin")
    requests.patch(fresh_server.url + "/v1/program", json={"earn_rates": {"usd": "1"}}, headers=admin).raise_for_status()
    for attempt in range(4):
        member = requests.post(fresh_server.url + "/v1/members", json={"external_id": f"both-{attempt}"},
                               headers=admin).json()
        pi, ch = unique("pi"), unique("ch")
        paid = event("payment_intent.succeeded", payment_intent(
            pi, 10000, latest_charge=ch, metadata={"loyalty_member_id": member["id"]}))
        assert post_all(fresh_server, [signed(paid)])[0].status_code == 200
        purchase = requests.get(fresh_server.url + f"/v1/members/{member['id']}/purchases", headers=admin).json()["data"][0]
        refunded = signed(event("charge.refunded", charge(ch, 10000, payment_intent=pi, amount_refunded=10000),
                                created=T0 + 10))
        with ThreadPoolExecutor(max_workers=2) as pool:
            api = pool.submit(requests.post, fresh_server.url + f"/v1/purchases/{purchase['id']}/refunds",
                              json={"amount": 10000}, headers=admin, timeout=60)
            hook = pool.submit(requests.post, fresh_server.url + "/webhooks/stripe", data=refunded[0],
                               headers=refunded[1], timeout=60)
            assert hook.result().status_code == 200
            assert api.result().status_code == 409
            assert api.result().json()["error"]["code"] == "refund_in_stripe"
        balance = requests.get(fresh_server.url + f"/v1/members/{member['id']}", headers=admin).json()["points"]["balance"]
        assert balance == 0
    verify = fresh_server.flask("loyalty", "verify-ledger")
    assert verify.returncode == 0, verify.stdout
