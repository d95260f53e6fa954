"""A real HTTP receiver for webhook tests: http.server on 127.0.0.1 that records every request and
answers as told (a status, a delay, failing the next N requests)."""
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """Start with `with Receiver() as receiver:`; `receiver.url` takes POSTs."""

    def __init__(self):
        self.received: list[Received] = []
        self.status = 200
        self.delay = 0.0
        self.fail_next = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= failing
                    status = 500 if failing else receiver.status
                    delay = receiver.delay
                if delay:
                    time.sleep(delay)
                answer = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        return Handler

    def event_ids(self) -> list[str]:
        with self._lock:
            return [received.event["id"] for received in self.received]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
