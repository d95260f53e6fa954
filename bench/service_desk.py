#!/usr/bin/env python3
"""The till's reads of the service desk against the balance read: overview and timeline.

    .venv/bin/python bench/service_desk.py                 # PostgreSQL and SQLite, throwaway databases
    .venv/bin/python bench/service_desk.py --db sqlite --events 5000 --repeat 200

In-process (Flask test client, no gunicorn), so the figures are the application's own cost plus
the database's. One member gets a long history through the API (purchases, feedback, notes,
cases with replies and resolutions, adjustments: about --events timeline items); each endpoint is
then called --repeat times, interleaved so a machine that slows down favours none, and the median
and 95th percentile are printed with statements per request and the ratio to the balance read
(GET /v1/members/{id}) measured in the same run.
"""
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Database, in_process_app, log  # noqa: E402


def build_history(call, events: int) -> tuple[str, str]:
    """A member with about `events` timeline items; returns (member id, a staff token's header)."""
    call("PATCH", "/v1/program", {"earn_rates": {"usd": "1"}})
    for key, threshold in (("base", 0), ("silver", 500), ("gold", 2000)):
        call("POST", "/v1/tiers", {"key": key, "name": key.title(), "min_qualifying_points": threshold})
    for number in range(4):
        call("POST", "/v1/rewards", {"name": f"Reward {number}", "cost_points": 100 * (number + 1), "kind": "custom",
                                     "value": {}, "per_member_limit": 5 if number % 2 else None})
    member = call("POST", "/v1/members", {"external_id": "long-story", "name": "Long Story"}).get_json()["id"]
    per_kind = max(round(events / 5.5), 1)  # about 5.5 timeline items per round
    started = time.perf_counter()
    for number in range(per_kind):
        call("POST", "/v1/purchases", {"member_id": member, "order_id": f"o-{number}", "amount": 1000 + number,
                                       "currency": "usd"})
        call("POST", f"/v1/members/{member}/feedback", {"kind": "csat" if number % 2 else "nps", "score": number % 6 or 1})
        call("POST", f"/v1/members/{member}/notes", {"text": f"Note {number}", "pinned": number % 50 == 0})
        call("POST", f"/v1/members/{member}/adjustments", {"points": 1, "reason": f"Fix {number}"})
        if number % 2 == 0:
            case = call("POST", f"/v1/members/{member}/cases", {"subject": f"Case {number}", "category": "service"})
            case_id = case.get_json()["id"]
            call("POST", f"/v1/cases/{case_id}/replies", {"text": "On it"})
            if number % 4 == 0:
                call("POST", f"/v1/cases/{case_id}/resolve", {"resolution": "Done", "goodwill_points": 5})
        if number % 500 == 0:
            log(f"[seed] {number}/{per_kind} rounds, {time.perf_counter() - started:.0f} s")
    return member


def measure(db_kind: str, events: int, repeat: int) -> list[dict]:
    with Database(db_kind) as db:
        app, client, auth = in_process_app(db)
        from sqlalchemy import event

        from loyalty.extensions import db as sa

        def call(method, path, body=None):
            response = client.open(path, method=method, json=body, headers=auth)
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
            return response

        member = build_history(call, events)
        items = 0
        cursor, middle_cursor = None, None
        while True:  # walk the whole timeline once: count its items, keep a cursor from the middle
            page = call("GET", f"/v1/members/{member}/timeline?limit=100" + (f"&cursor={cursor}" if cursor else "")
                        ).get_json()
            items += len(page["data"])
            cursor = page["next_cursor"]
            if middle_cursor is None and items >= events // 2:
                middle_cursor = cursor
            if cursor is None:
                break
        log(f"[seed] the member's timeline has {items} items")
        endpoints = {
            "balance read GET /v1/members/{id}": f"/v1/members/{member}",
            "overview": f"/v1/members/{member}/overview",
            "timeline, first page (20)": f"/v1/members/{member}/timeline",
            "timeline, a page in the middle (20)": f"/v1/members/{member}/timeline?cursor={middle_cursor}",
            "timeline, kinds=case_opened,case_resolved (20)":
                f"/v1/members/{member}/timeline?kinds=case_opened,case_resolved",
        }
        with app.app_context():
            # Reads on PostgreSQL run on the app's autocommit engine: count on both.
            engines = [sa.engine, *[e for e in [app.extensions.get("autocommit")] if e is not None]]
        statements = {}
        for name, path in endpoints.items():
            call("GET", path)  # settings cached, as in a running server
            seen = []

            def count(conn, cursor, statement, parameters, context, executemany, seen=seen):
                seen.append(statement)

            for engine in engines:
                event.listen(engine, "before_cursor_execute", count)
            call("GET", path)
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
            statements[name] = len(seen)
        times = {name: [] for name in endpoints}
        for _ in range(repeat):
            for name, path in endpoints.items():
                started = time.perf_counter()
                call("GET", path)
                times[name].append((time.perf_counter() - started) * 1000)
        base = statistics.median(times["balance read GET /v1/members/{id}"])
        rows = []
        for name in endpoints:
            median = statistics.median(times[name])
            p95 = sorted(times[name])[int(len(times[name]) * 0.95) - 1]
            rows.append({"db": db_kind, "endpoint": name, "statements": statements[name], "median_ms": median,
                         "p95_ms": p95, "x_balance": median / base, "items": items})
        return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--events", type=int, default=5000, help="about this many timeline items")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    if args.db == "both":  # one process per database: the app reads DATABASE_URL when it is imported
        for kind in ("postgresql", "sqlite"):
            subprocess.run([sys.executable, __file__, "--db", kind, "--events", str(args.events),
                            "--repeat", str(args.repeat)], check=True)
        return
    rows = measure(args.db, args.events, args.repeat)
    print(f"| db | endpoint (member with {rows[0]['items']} timeline items) | statements | median ms | p95 ms "
          "| × balance read |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['db']} | {row['endpoint']} | {row['statements']} | {row['median_ms']:.2f} | "
              f"{row['p95_ms']:.2f} | {row['x_balance']:.2f} |")


if __name__ == "__main__":
    main()
