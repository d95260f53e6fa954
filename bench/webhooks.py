"""Outbound webhooks (issue 19): what the outbox costs an earn, and how fast one deliverer sends.

1. Earning: members buy in a loop through the app in process (one transaction per purchase, as
   the API does); every member crosses a tier on one purchase in four, so one earn in four records
   a `member.tier_changed` event. Measured with one endpoint subscribed to everything, then with
   none, in the same run: earns/s, events recorded/s, and the SQL statements of a crossing and
   of a quiet earn (the outbox must add none to a quiet earn, one to a crossing one).
2. Delivering: N pending deliveries (events inserted in SQL; the trigger writes the deliveries),
   sent by one `flask loyalty deliver-webhooks --once` to a local receiver that answers 200 at
   once (http.server, HTTP/1.1 keep-alive, in its own process). The ceiling, measured in the same
   run: the same number of POSTs of the same bodies by `requests` from the same number of
   threads, with no database. Goal: at least 300 deliveries/s.

Usage: .venv/bin/python bench/webhooks.py [--db postgresql|sqlite|both] [--earns 2000] [--deliveries 3000]
"""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import BIN, ROOT, Database, create_api_key, flask_cli, log, machine, server_env

CONCURRENCY = 8


# -- the receiver (its own process, so it does not share the bench's interpreter) ------------------

class Answer200(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(port_out):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer200)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


def start_receiver():
    ports = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{ports.get(timeout=10)}/hook"


def app_on(db: Database, **env_extra):
    """A migrated database with an admin key, the project's app on it, and the environment a
    deliverer process needs to share its SECRET_KEY: (app, client, headers, env)."""
    env = server_env(db, **env_extra)
    flask_cli(env, "db", "upgrade")
    key = create_api_key(env, "admin")
    sys.path.insert(0, str(ROOT))
    from loyalty import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": db.sqlalchemy_url, "SECRET_KEY": env["SECRET_KEY"]})
    return app, app.test_client(), {"Authorization": f"Bearer {key}"}, env


# -- 1. earning ------------------------------------------------------------------------------------

def earning(kind: str, earns: int) -> dict:
    with Database(kind) as db:
        app, client, admin, _ = app_on(db)
        from sqlalchemy import event, func, select

        from loyalty.extensions import db as sa
        from loyalty.models import WebhookDelivery, WebhookEvent

        client.patch("/v1/program", headers=admin, json={"earn_rates": {"usd": "1"}})
        # A tier every 100 points: a member buying $25 at a time crosses one every fourth purchase.
        for step in range(0, earns * 25 // 100 // 50 + 3):
            client.post("/v1/tiers", headers=admin, json={"key": f"t{step}", "name": f"T{step}",
                                                           "min_qualifying_points": step * 100, "multiplier": "1"})
        results = {}
        for label, subscribed in (("no endpoint", False), ("one endpoint, every event", True)):
            if subscribed:
                client.post("/v1/webhook-endpoints", headers=admin, json={"url": "http://127.0.0.1:9/x", "events": ["*"]})
            members = [client.post("/v1/members", headers=admin, json={"external_id": f"{label}-{n}"}).get_json()["id"]
                       for n in range(50)]
            with app.app_context():
                events_before = sa.session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()
                sa.session.remove()
            started = time.perf_counter()
            for n in range(earns):
                response = client.post("/v1/purchases", headers=admin, json={
                    "member_id": members[n % len(members)], "order_id": f"{label}-{n}", "amount": 2500, "currency": "usd"})
                assert response.status_code == 201, response.get_json()
            elapsed = time.perf_counter() - started
            with app.app_context():
                events = sa.session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one() - events_before
                deliveries = sa.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()
                sa.session.remove()
            # Statements of one quiet and one crossing earn (the member is at 75 points of the next 100).
            member = client.post("/v1/members", headers=admin, json={"external_id": f"{label}-counted"}).get_json()["id"]
            counts = []
            for n, dollars in enumerate((75, 10, 20)):  # settle at 75, quiet to 85, crossing to 105
                seen = []
                with app.app_context():
                    engine = sa.engine
                listener = lambda *args: seen.append(args[2])  # noqa: E731
                event.listen(engine, "before_cursor_execute", listener)
                client.post("/v1/purchases", headers=admin, json={"member_id": member, "order_id": f"{label}-c{n}",
                                                                   "amount": dollars * 100, "currency": "usd"})
                event.remove(engine, "before_cursor_execute", listener)
                counts.append(seen)
            results[label] = {
                "earns_per_s": earns / elapsed, "events_per_s": events / elapsed, "events": events,
                "deliveries": deliveries,
                "quiet_statements": len(counts[1]), "crossing_statements": len(counts[2]),
                "crossing_webhook_statements": sum("webhook" in statement for statement in counts[2]),
                "quiet_webhook_statements": sum("webhook" in statement for statement in counts[1]),
            }
            log(f"[earn] {kind} {label}: {results[label]}")
        return results


# -- 2. delivering ---------------------------------------------------------------------------------

def seed_deliveries(app, client, admin, url: str, count: int) -> list[bytes]:
    client.post("/v1/webhook-endpoints", headers=admin, json={"url": url, "events": ["*"]})
    body = json.dumps({"id": "evt_bench", "type": "points.expired", "created": int(time.time()),
                       "data": {"object": {"member_id": "mem_bench", "points": 100}}})
    from datetime import datetime, timezone

    from sqlalchemy import insert

    from loyalty.extensions import db as sa
    from loyalty.ids import new_id
    from loyalty.models import WebhookEvent

    now = datetime.now(timezone.utc)
    with app.app_context():
        rows = [{"id": new_id("evt"), "type": "points.expired", "created_at": now, "body": body} for _ in range(count)]
        for start in range(0, count, 500):
            for row in rows[start:start + 500]:  # one INSERT per event: the trigger fans each out
                sa.session.execute(insert(WebhookEvent.__table__), row)
        sa.session.commit()
        sa.session.remove()
    return [body.encode()] * count


def ceiling(url: str, bodies: list[bytes]) -> float:
    import requests

    local = threading.local()

    def post(body):
        session = getattr(local, "session", None) or setattr(local, "session", requests.Session()) or local.session
        with session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10,
                          stream=True) as answer:
            for _ in answer.iter_content(8192):
                pass
            return answer.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        statuses = list(pool.map(post, bodies))
    elapsed = time.perf_counter() - started
    assert all(status == 200 for status in statuses)
    return len(bodies) / elapsed


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def delivering(kind: str, count: int) -> dict:
    receiver, url = start_receiver()
    try:
        with Database(kind) as db:
            app, client, admin, env = app_on(db, WEBHOOK_CONCURRENCY=str(CONCURRENCY))
            bodies = seed_deliveries(app, client, admin, url, count)
            ceiling_before = ceiling(url, bodies[: count // 2])
            started = time.perf_counter()
            process = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "loyalty", "deliver-webhooks", "--once"],
                                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            memory = []  # (seconds, VmRSS MB) while it runs: steady, or growing with what it sent?
            while process.poll() is None:
                memory.append((time.perf_counter() - started, rss_mb(process.pid)))
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
            _, errors = process.communicate()
            assert process.returncode == 0, errors
            # The deliverer's own time, without the interpreter's start: measured around the same
            # command with nothing due.
            started_empty = time.perf_counter()
            subprocess.run([str(BIN / "flask"), "--app", "wsgi", "loyalty", "deliver-webhooks", "--once"],
                           cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            startup = time.perf_counter() - started_empty
            ceiling_after = ceiling(url, bodies[: count // 2])
            with db.connect() as connection:
                delivered = connection.execute(
                    "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'").fetchone()[0]
            samples = [mb for _, mb in memory if mb]
            quarter = max(len(samples) // 4, 1)
            figures = {"rss_first_quarter_mb": max(samples[:quarter], default=0),
                       "rss_last_quarter_mb": max(samples[-quarter:], default=0),
                       "deliveries": count, "delivered": delivered, "seconds": elapsed, "startup_seconds": startup,
                       "deliveries_per_s": count / (elapsed - startup),
                       "ceiling_per_s": (ceiling_before + ceiling_after) / 2}
            figures["ratio"] = figures["deliveries_per_s"] / figures["ceiling_per_s"]
            log(f"[deliver] {kind}: {figures}")
            return figures
    finally:
        receiver.terminate()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--earns", type=int, default=2000)
    parser.add_argument("--deliveries", type=int, default=3000)
    args = parser.parse_args()
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    log(f"[machine] {machine()}")
    print("| database | figure | value | baseline (same run) | ratio |")
    print("|---|---|---|---|---|")
    for kind in kinds:
        earn = earning(kind, args.earns)
        none, one = earn["no endpoint"], earn["one endpoint, every event"]
        print(f"| {kind} | earns/s, one endpoint subscribed | {one['earns_per_s']:.0f} | "
              f"{none['earns_per_s']:.0f} (no endpoint) | {one['earns_per_s'] / none['earns_per_s']:.2f} |")
        print(f"| {kind} | events recorded/s while earning | {one['events_per_s']:.0f} | "
              f"{one['earns_per_s']:.0f} earns/s | {one['events_per_s'] / one['earns_per_s']:.2f} |")
        print(f"| {kind} | statements, quiet earn (webhook ones) | {one['quiet_statements']} "
              f"({one['quiet_webhook_statements']}) | {none['quiet_statements']} (no endpoint) | |")
        print(f"| {kind} | statements, crossing earn (webhook ones) | {one['crossing_statements']} "
              f"({one['crossing_webhook_statements']}) | {none['crossing_statements']} (no endpoint) | |")
        sent = delivering(kind, args.deliveries)
        print(f"| {kind} | deliveries/s, one deliverer ({sent['delivered']}/{sent['deliveries']} delivered) | "
              f"{sent['deliveries_per_s']:.0f} | {sent['ceiling_per_s']:.0f} (requests, no database) | "
              f"{sent['ratio']:.2f} |")
        print(f"| {kind} | deliverer RSS, MB (first quarter of the run → last) | "
              f"{sent['rss_first_quarter_mb']:.0f} → {sent['rss_last_quarter_mb']:.0f} | | |")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
