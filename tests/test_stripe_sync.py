"""`loyalty stripe-sync --since DATE`: the real stripe library lists events from a local server
(127.0.0.1, recorded list responses) and the events not seen are applied exactly once."""
from loyalty.extensions import db
from loyalty.models import PaymentEvent
from tests.stripe_events import T0, charge, deliver, dispute, event, payment_intent, unique
from tests.fake_stripe import API_KEY



def sync(app, since="2026-05-01"):
    return app.test_cli_runner().invoke(args=["loyalty", "stripe-sync", "--since", since])


def test_sync_applies_the_missed_events_once(app, client, admin, program, enroll, stripe_api):
    client.patch("/v1/program", json={"auto_enroll": False}, headers=admin)
    member = enroll()
    pi, ch, dp = unique("pi"), unique("ch"), unique("dp")
    paid = event("payment_intent.succeeded",
                 payment_intent(pi, 10000, latest_charge=ch, metadata={"loyalty_member_id": member["id"]}))
    refunded = event("charge.refunded", charge(ch, 10000, payment_intent=pi, amount_refunded=1000), created=T0 + 10)
    disputed = event("charge.dispute.created", dispute(dp, 4000, charge_id=ch, payment_intent=pi), created=T0 + 20)
    too_old = event("payment_intent.succeeded", payment_intent(unique("pi"), 50000, metadata={
        "loyalty_member_id": member["id"]}), created=T0 - 40 * 86400)
    stripe_api.events = [paid, refunded, disputed, too_old]
    assert deliver(client, refunded).status_code == 200  # the one webhook that did arrive (parked)

    result = sync(app)
    assert result.exit_code == 0, result.output
    assert "Applied 2 missed event(s): 2 processed." in result.output
    assert client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"] == 50
    assert db.session.get(PaymentEvent, refunded["id"]).status == "processed"  # released by the payment

    listing = [r for r in stripe_api.requests if r["path"] == "/v1/events"]
    assert {r["authorization"] for r in listing} == {f"Bearer {API_KEY}"}
    assert listing[0]["query"]["created[gte]"] == ["1777593600"]  # 2026-05-01T00:00:00Z
    listed_types = {value for key, values in listing[0]["query"].items() if key.startswith("types[") for value in values}
    assert {"payment_intent.succeeded", "charge.refunded", "charge.dispute.created"} <= listed_types
    # Two pages of two, newest first: the second starts after the oldest of the first.
    assert len(listing) == 2 and listing[1]["query"]["starting_after"] == [refunded["id"]]

    again = sync(app)
    assert again.exit_code == 0 and "Applied 0 missed event(s): none." in again.output
    assert client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"] == 50
    assert db.session.get(PaymentEvent, paid["id"]).attempts == 1


def test_sync_without_an_api_key_says_so(app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_API_KEY", None)
    result = sync(app)
    assert result.exit_code == 2 and "STRIPE_API_KEY" in result.output


def test_sync_with_a_rejected_key_fails_loudly(app, program, stripe_api, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_API_KEY", "sk_test_revoked")
    result = sync(app)
    assert result.exit_code == 1 and "Stripe refused to list events" in result.output
    assert db.session.query(PaymentEvent).count() == 0
