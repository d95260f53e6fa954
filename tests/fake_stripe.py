"""A local stand-in for api.stripe.com's event list, for `stripe-sync` tests."""
import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

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
