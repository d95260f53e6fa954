#!/usr/bin/env python3
"""Where a request's time goes: SQL statements per request, and a pyinstrument profile.

    .venv/bin/python bench/profile_earn.py                    # PostgreSQL, a throwaway bench_* database
    .venv/bin/python bench/profile_earn.py --db sqlite --requests 300 --html /tmp/earn.html

In-process (Flask test client, no gunicorn), so the figures are the application's own cost.
pyinstrument is not a project dependency: install it anywhere and point BENCH_TOOLS_PATH at its
site-packages (e.g. `python3.11 -m venv /tmp/benchtools && /tmp/benchtools/bin/pip install
pyinstrument`, then BENCH_TOOLS_PATH=/tmp/benchtools/lib/python3.11/site-packages).
"""
import argparse
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Database, in_process_app, payment_intent_event, sign  # noqa: E402

TOOLS = os.environ.get("BENCH_TOOLS_PATH", "/tmp/benchtools/lib/python3.11/site-packages")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--profile", default="earn", choices=["earn", "read", "webhook"],
                        help="the endpoint pyinstrument profiles (default: earn)")
    parser.add_argument("--html", help="write the pyinstrument profile as HTML here")
    args = parser.parse_args()

    with Database(args.db) as db:
        app, client, auth = in_process_app(db)
        from sqlalchemy import event

        from loyalty.extensions import db as sa
        statements: list[str] = []
        with app.app_context():
            engine = sa.engine

        transactions: list[str] = []

        def _count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        def _transaction(name):
            return lambda *args: transactions.append(name)

        TRANSACTION_EVENTS = {name: _transaction(name.upper()) for name in ("begin", "commit", "rollback")}

        def counting(on: bool):
            # Only while counting: a statement listener costs time of its own.
            for an_engine in (engine, *([bare_app.engine] if "bare_app" in sys.modules else [])):
                for name, listener in [("before_cursor_execute", _count), *TRANSACTION_EVENTS.items()]:
                    if on:
                        event.listen(an_engine, name, listener)
                    elif event.contains(an_engine, name, listener):
                        event.remove(an_engine, name, listener)

        def call(method, path, body=None, headers=None, expect=(200, 201)):
            response = client.open(path, method=method, json=body if not isinstance(body, str) else None,
                                   data=body if isinstance(body, str) else None,
                                   headers={**auth, **(headers or {})},
                                   content_type="application/json")
            if response.status_code not in expect:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
            return response.get_json()

        call("PATCH", "/v1/program", {"earn_rates": {"usd": "1"}})
        reward = call("POST", "/v1/rewards", {"name": "Coffee", "cost_points": 10, "kind": "free_item",
                                              "value": {"sku": "coffee"}})["id"]
        members = []
        for n in range(args.members):
            member = call("POST", "/v1/members", {"external_id": f"p{n}", "email": f"p{n}@x.example"})
            call("POST", f"/v1/members/{member['id']}/adjustments", {"points": 10**7, "reason": "funding"})
            members.append(member["id"])
        counter = iter(range(10**9))

        def earn():
            return call("POST", "/v1/purchases", {"member_id": random.choice(members), "order_id": f"o{next(counter)}",
                                                  "amount": random.randint(100, 100000), "currency": "usd"})

        def read():
            return call("GET", f"/v1/members/{random.choice(members)}")

        def redeem():
            return call("POST", f"/v1/members/{random.choice(members)}/redemptions", {"reward_id": reward})

        def webhook():
            n = next(counter)
            payload = payment_intent_event(f"evt_p{n}", f"pi_p{n}", random.randint(100, 100000),
                                           random.choice(members), int(time.time()))
            return client.post("/webhooks/stripe", data=payload,
                               headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"})

        def hello():
            return client.get("/healthz")

        # The ceiling in the same process, through its own test client (bench/bare_app.py).
        os.environ["DATABASE_URL"] = db.url
        import bare_app
        bare = bare_app.app.test_client()

        def bare_earn():
            response = bare.post("/earn", json={"member_id": random.choice(members), "order_id": f"b{next(counter)}",
                                                "amount": random.randint(100, 100000), "currency": "usd"})
            assert response.status_code == 201, response.get_data(as_text=True)

        def bare_read():
            assert bare.get(f"/members/{random.choice(members)}").status_code == 200

        print(f"# {args.db}: per request, in-process (test client), {args.requests} requests each\n")
        print("| endpoint | ms/request | SQL statements/request | BEGIN, COMMIT or ROLLBACK/request |\n|---|---:|---:|---:|")
        shapes = {}
        for name, fn in [("GET /healthz", hello), ("GET /v1/members/{id}", read), ("POST /v1/purchases", earn),
                         ("POST /v1/members/{id}/redemptions", redeem), ("POST /webhooks/stripe", webhook),
                         ("bare GET /members/{id}", bare_read), ("bare POST /earn", bare_earn)]:
            for _ in range(20):
                fn()  # warm
            started = time.perf_counter()
            for _ in range(args.requests):
                fn()
            elapsed = time.perf_counter() - started
            statements.clear()
            transactions.clear()
            counting(True)
            for _ in range(10):
                fn()
            counting(False)
            count, ends = len(statements) / 10, len(transactions) / 10
            statements.clear()
            counting(True)
            fn()
            counting(False)
            shapes[name] = list(statements)
            print(f"| {name} | {elapsed / args.requests * 1000:.2f} | {count:.1f} | {ends:.1f} |")

        for name in ("POST /v1/purchases", "GET /v1/members/{id}", "POST /webhooks/stripe"):
            print(f"\n## the statements of one {name}\n")
            for statement in shapes[name]:
                print("-", re.sub(r"\s+", " ", statement)[:160])

        if os.path.isdir(TOOLS):
            sys.path.append(TOOLS)
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("\n(pyinstrument not found: set BENCH_TOOLS_PATH to see the profile)")
            return
        profiler = Profiler(interval=0.0005)
        profiler.start()
        profiled = {"earn": (earn, "POST /v1/purchases"), "read": (read, "GET /v1/members/{id}"),
                    "webhook": (webhook, "POST /webhooks/stripe")}[args.profile]
        for _ in range(args.requests):
            profiled[0]()
        profiler.stop()
        print(f"\n## pyinstrument: {profiled[1]}\n")
        print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)[:12000])
        if args.html:
            Path(args.html).write_text(profiler.output_html())


if __name__ == "__main__":
    main()
