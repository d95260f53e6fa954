"""`loyalty stripe-sync --since DATE`: the real stripe library lists events from a local server
(127.0.0.1, recorded list responses) and the events not seen are applied exactly once."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from loyalty.extensions import db
from loyalty.models import PaymentEvent
from tests.stripe_events import T0, charge, deliver, dispute, event, payment_intent, unique

API_KEY = "sk_test_sync_key"


class RecordedStripe(BaseHTTPRequestHandler):
    """GET /v1/events in pages of two, newest first, as Stripe lists them."""

    events: list[dict] = []
    requests: list[dict] = []

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        type(self).requests.append({"path": url.path, "query": query,
                                    "authorization": self.headers.get("Authorization")})
        if url.path != "/v1/events" or self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._send(401, {"error": {"type": "invalid_request_error", "message": "No such key"}})
        newest_first = sorted(type(self).events, key=lambda e: e["created"], reverse=True)
        since = int(query["created[gte]"][0])
        listed = [e for e in newest_first if e["created"] >= since]
        if "starting_after" in query:
            position = [e["id"] for e in listed].index(query["starting_after"][0])
            listed = listed[position + 1:]
        page = listed[:2]
        self._send(200, {"object": "list", "url": "/v1/events", "has_more": len(listed) > 2, "data": page})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stripe_api(app, monkeypatch):
    """A local stand-in for api.stripe.com; the app's STRIPE_API_BASE points at it."""
    RecordedStripe.events, RecordedStripe.requests = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordedStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "STRIPE_API_KEY", API_KEY)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{server.server_address[1]}")
    yield RecordedStripe
    server.shutdown()
    server.server_close()


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
