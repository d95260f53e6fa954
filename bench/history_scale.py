#!/usr/bin/env python3
"""History that grows (issue 21, item 4): earn and balance read on a fresh database, then with
10,000,000 ledger entries, in the same run; and a member's transaction history, page after page.

    .venv/bin/python bench/history_scale.py                      # 10,000,000 entries
    .venv/bin/python bench/history_scale.py --entries 1000000    # quicker

A fresh PostgreSQL database (`bench_<random>`, dropped afterwards), the app in-process (Flask test
client: the application's and the database's cost, no HTTP). 200 members enrolled over the API
(three tiers, fixed expiry: every read works out the points expiring soon). Then, timed:
`--calls` earns (POST /v1/purchases, round-robin over the members) and as many balance reads
(GET /v1/members/{id}), interleaved. Then the history grows in bulk, in SQL: `--filler` members
with `--entries` ledger entries and their purchases between them (INSERT ... SELECT over
generate_series, the set-based bulk load; COPY from Python would spend minutes building the same
rows), one member with `--heavy` entries of their own, VACUUM ANALYZE; and the same earns and
reads timed again. The ratio of the medians is the goal (within 10%).

The heavy member's history is then paged with the API's cursor (100 entries a page) from the
newest to 10,000 pages deep: the first pages and the deepest are timed. Last, every statement an
earn, a balance read and a history page run is captured and EXPLAINed: a Seq Scan on a large
table would be a cost that grows with the ledger.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Database, in_process_app, log, machine  # noqa: E402

GROW = """
INSERT INTO members (id, external_id, member_code, metadata, status, enrolled_at, updated_at, points_balance,
                     points_pending, tier_config_version)
SELECT 'mem_filler' || n, 'filler-' || n, 'F' || n, '{{}}', 'active', now() - interval '800 days', now(),
       {per_member} * 10, 0, 0
FROM generate_series(1, {filler}) AS n;
INSERT INTO purchases (id, member_id, order_id, source, amount, currency, refunded_amount, disputed_amount,
                       occurred_at, created_at, earn_rate, tier_multiplier, campaign_multiplier, points_earned,
                       qualifying_points, pending_points, fingerprint)
SELECT 'pur_filler' || n, 'mem_filler' || (1 + n % {filler}), 'filler-' || n, 'api', 1000, 'usd', 0, 0,
       now() - interval '1 second' * (n % 60000000), now() - interval '1 second' * (n % 60000000), 1, 1, 1, 10, 10,
       0, 'filler'
FROM generate_series(1, {entries}) AS n;
INSERT INTO ledger_entries (member_id, type, points, balance_after, created_at, purchase_id, actor_type)
SELECT 'mem_filler' || (1 + n % {filler}), 'earn', 10, 10 * (1 + n / {filler}),
       now() - interval '1 second' * (n % 60000000), 'pur_filler' || n, 'system'
FROM generate_series(1, {entries}) AS n;
"""
HEAVY = """
INSERT INTO ledger_entries (member_id, type, points, balance_after, created_at, actor_type, note)
SELECT %(member_id)s, 'adjustment', 1, %(balance)s + n, now() - interval '1 second' * (%(heavy)s - n), 'system',
       'bench history'
FROM generate_series(1, %(heavy)s) AS n
"""
HEAVY_BALANCE = "UPDATE members SET points_balance = points_balance + %(heavy)s WHERE id = %(member_id)s"
BIG_TABLES = ("ledger_entries", "purchases", "members", "tier_history")


def timed(function) -> float:
    """Milliseconds one call takes."""
    begun = time.perf_counter()
    function()
    return (time.perf_counter() - begun) * 1000


def median_p95(runs: list[float]) -> tuple[float, float]:
    return statistics.median(runs), sorted(runs)[max(int(len(runs) * 0.95) - 1, 0)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--filler", type=int, default=1_000_000, help="members the entries belong to")
    parser.add_argument("--heavy", type=int, default=1_000_000, help="entries of the one member paged through")
    parser.add_argument("--calls", type=int, default=400, help="earns and balance reads timed, each")
    args = parser.parse_args()

    with Database("postgresql") as db:
        app, client, auth = in_process_app(db)

        def call(method, path, body=None, expect=(200, 201)):
            response = client.open(path, method=method, json=body, headers=auth)
            if response.status_code not in expect:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
            return response.get_json()

        call("PATCH", "/v1/program", {"earn_rates": {"usd": "1"}, "expiry_policy": "fixed", "expiry_days": 365})
        for key, threshold, multiplier in (("bronze", 0, "1"), ("silver", 2000, "1.25"), ("gold", 6000, "1.5")):
            call("POST", "/v1/tiers", {"key": key, "name": key.title(), "min_qualifying_points": threshold,
                                       "multiplier": multiplier})
        members = [call("POST", "/v1/members", {"external_id": f"bench-{n}"})["id"] for n in range(200)]
        heavy = members[0]
        orders = iter(range(10**9))

        def earn(member_id):
            return lambda: call("POST", "/v1/purchases", {"member_id": member_id, "order_id": f"o-{next(orders)}",
                                                         "amount": 2500, "currency": "usd"})

        def read(member_id):
            return lambda: call("GET", f"/v1/members/{member_id}")

        measured = members[1:]  # not the heavy member, whose history is paged below

        def measure(label):
            for n in range(40):  # warm: connections, settings, plans
                earn(measured[n % len(measured)])()
                read(measured[n % len(measured)])()
            earn_ms, read_ms = [], []
            for n in range(args.calls):  # interleaved: the machine's load hits both alike
                earn_ms.append(timed(earn(measured[n % len(measured)])))
                read_ms.append(timed(read(measured[n % len(measured)])))
            result = {"earn": median_p95(earn_ms), "read": median_p95(read_ms)}
            log(f"[{label}] earn median {result['earn'][0]:.2f} ms p95 {result['earn'][1]:.2f}; "
                f"read median {result['read'][0]:.2f} ms p95 {result['read'][1]:.2f}")
            return result

        fresh = measure("fresh")
        started = time.monotonic()
        with db.connect() as connection:
            connection.execute(GROW.format(entries=args.entries, filler=args.filler,
                                           per_member=args.entries // args.filler))
            balance = connection.execute("SELECT points_balance FROM members WHERE id = %s", [heavy]).fetchone()[0]
            for statement in (HEAVY, HEAVY_BALANCE):
                connection.execute(statement, {"member_id": heavy, "balance": balance, "heavy": args.heavy})
            connection.commit()
            connection.autocommit = True
            connection.execute("VACUUM ANALYZE")
            total = connection.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
        log(f"[grow] {total} ledger entries in {time.monotonic() - started:.0f} s")
        grown = measure(f"{total} entries")

        # The heavy member's history, 100 a page, from the newest to 10,000 pages deep.
        page_ms, cursor, pages = [], None, min(args.heavy // 100, 10_000)
        for _ in range(pages):
            path = f"/v1/members/{heavy}/transactions?limit=100" + (f"&cursor={cursor}" if cursor else "")
            begun = time.perf_counter()
            body = call("GET", path)
            page_ms.append((time.perf_counter() - begun) * 1000)
            cursor = body["next_cursor"]
        first, deepest = statistics.median(page_ms[1:21]), statistics.median(page_ms[-20:])
        log(f"[history] {pages} pages: first pages median {first:.2f} ms, deepest {deepest:.2f} ms")

        plans = explain_all(app, db, [earn(heavy), read(heavy), lambda: call(
            "GET", f"/v1/members/{heavy}/transactions?limit=100" + (f"&cursor={cursor}" if cursor else ""))])

    print(f"\nmachine: {machine()}")
    print("| ledger entries | earn median ms | earn p95 | balance read median ms | read p95 |")
    print("|---|---|---|---|---|")
    for label, result in (("fresh", fresh), (f"{total:,}", grown)):
        print(f"| {label} | {result['earn'][0]:.2f} | {result['earn'][1]:.2f} | {result['read'][0]:.2f} | "
              f"{result['read'][1]:.2f} |")
    earn_ratio, read_ratio = grown["earn"][0] / fresh["earn"][0], grown["read"][0] / fresh["read"][0]
    print(f"\nearn {earn_ratio:.2f}x, balance read {read_ratio:.2f}x the fresh database's (goal: within 1.10x)")
    print(f"history of {args.heavy:,} entries, 100 a page: first pages {first:.2f} ms, "
          f"{pages:,} pages deep {deepest:.2f} ms ({deepest / first:.2f}x)")
    print(f"statements EXPLAINed: {plans['statements']}; sequential scans of a large table: "
          f"{plans['seq_scans'] or 'none'}")


def explain_all(app, db, calls) -> dict:
    """EXPLAIN every SELECT the calls run, with its parameters."""
    from sqlalchemy import event

    from loyalty.extensions import db as sql
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "WITH", "DELETE")):
            captured.append((statement, parameters))

    with app.app_context():
        engine = sql.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for function in calls:
            function()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    seq_scans = []
    with db.connect() as connection:
        for statement, parameters in captured:
            if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "WITH")):
                continue  # writes: their look-ups are the SELECTs around them, and EXPLAIN would need a rollback
            try:
                plan = "\n".join(row[0] for row in connection.execute("EXPLAIN " + statement, parameters))
            except Exception as error:  # noqa: BLE001 - a statement psycopg cannot re-run as is
                log(f"[explain] skipped ({error.__class__.__name__}): {statement[:80]}")
                connection.rollback()
                continue
            for table in BIG_TABLES:
                if f"Seq Scan on {table}" in plan:
                    seq_scans.append(f"{table}: {statement[:120]}")
    for scan in seq_scans:
        log(f"[explain] SEQ SCAN {scan}")
    return {"statements": len(captured), "seq_scans": seq_scans}


if __name__ == "__main__":
    main()
