#!/usr/bin/env python3
"""Reports at scale: 100,000 members and 1,000,000 purchases loaded in bulk, then every report timed.

    .venv/bin/python bench/reports_scale.py                 # PostgreSQL (COPY), ~2-3 minutes
    .venv/bin/python bench/reports_scale.py --db sqlite     # SQLite (executemany)
    .venv/bin/python bench/reports_scale.py --members 10000 --purchases 100000   # quicker
    .venv/bin/python bench/reports_scale.py --keep-db bench_big ...   # load once, keep the database
    .venv/bin/python bench/reports_scale.py --reuse-db bench_big      # time the reports on it again
                                        # (after `flask db upgrade`: a new migration runs on the big data)

A throwaway database (PostgreSQL `bench_<random>`, dropped afterwards; SQLite a temp file) gets
the schema (`flask db upgrade`), the program and three tiers over the API, then members,
purchases (3% fully refunded), one `earn` ledger entry per purchase and tier history (enrolment
rows, upgrades at the purchase that crossed a threshold) in bulk: COPY on PostgreSQL, executemany
on SQLite. Each report endpoint is then called through the Flask test client (in-process: the
application's cost without HTTP), `--repeat` times, and on PostgreSQL repurchase-by-tier is
compared with one hand-written SQL query computing the same rows (its ceiling).
"""
import argparse
import collections
import json
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Database, in_process_app, log, machine  # noqa: E402

NOW = datetime.now(timezone.utc).replace(microsecond=0)
HISTORY_DAYS = 730
TIERS = [("bronze", 0, "1"), ("silver", 1000, "1.25"), ("gold", 3000, "1.5")]
WINDOW = timedelta(days=365)

# The tier held at p1 (before p1 counted), first purchase in [start, end), repurchase within the window.
CEILING_SQL = """
WITH ordered AS (
  SELECT member_id, id, occurred_at,
         lead(occurred_at) OVER w AS next_at,
         row_number() OVER w AS pos
  FROM purchases
  WHERE amount - refunded_amount - disputed_amount > 0 AND occurred_at >= %(start)s
  WINDOW w AS (PARTITION BY member_id ORDER BY occurred_at, id)
), firsts AS (
  SELECT o.occurred_at, o.next_at,
         (SELECT th.id FROM tier_history th
           WHERE th.member_id = o.member_id AND th.reason <> 'enrolled'
             AND (th.effective_at < o.occurred_at OR (th.effective_at = o.occurred_at AND th.purchase_id <> o.id))
           ORDER BY th.effective_at DESC, th.id DESC LIMIT 1) AS change_id
  FROM ordered o
  WHERE o.pos = 1 AND o.occurred_at < %(end)s
), buyers AS (
  SELECT CASE WHEN f.change_id IS NULL THEN %(entry)s ELSE th.tier_id END AS tier_id,
         f.occurred_at <= %(mature_before)s AS mature,
         f.occurred_at <= %(mature_before)s AND f.next_at IS NOT NULL
           AND f.next_at <= f.occurred_at + make_interval(days => %(window)s) AS repurchased,
         EXTRACT(EPOCH FROM f.next_at - f.occurred_at) / 86400 AS gap_days
  FROM firsts f LEFT JOIN tier_history th ON th.id = f.change_id
)
SELECT CASE WHEN GROUPING(tier_id) = 1 THEN 'all' ELSE coalesce(t.key, 'none') END AS tier,
       count(*) FILTER (WHERE mature) AS buyers,
       count(*) FILTER (WHERE repurchased) AS repurchasers,
       round(count(*) FILTER (WHERE repurchased)::numeric / nullif(count(*) FILTER (WHERE mature), 0), 4) AS rate,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY gap_days) FILTER (WHERE repurchased))::numeric, 2) AS median,
       count(*) FILTER (WHERE NOT mature) AS immature
FROM buyers LEFT JOIN tiers t ON t.id = buyers.tier_id
GROUP BY GROUPING SETS ((tier_id, t.key, t.min_qualifying_points), ())
ORDER BY GROUPING(tier_id), t.min_qualifying_points NULLS LAST
"""


CHUNK_MEMBERS = 20_000


def generate(members: int, purchases: int, tier_ids: dict, seed: int):
    """Rows for members, purchases, ledger entries and tier history (time-ordered per member), in
    chunks of CHUNK_MEMBERS members: memory stays flat however many purchases (10 million rows
    held at once would take gigabytes)."""
    rng = random.Random(seed)
    counts = [rng.randint(1, 2 * purchases // members - 1) for _ in range(members)]
    drift = purchases - sum(counts)
    while drift:
        i = rng.randrange(members)
        step = 1 if drift > 0 else -1
        if counts[i] + step >= 1:
            counts[i] += step
            drift -= step
    ladder = [(tier_ids[key], threshold) for key, threshold, _ in TIERS]
    member_rows, purchase_rows, entry_rows, history_rows = [], [], [], []
    start = NOW - timedelta(days=HISTORY_DAYS)
    for i, count in enumerate(counts):
        if i and i % CHUNK_MEMBERS == 0:
            yield member_rows, purchase_rows, entry_rows, history_rows
            member_rows, purchase_rows, entry_rows, history_rows = [], [], [], []
        member_id = f"mem_bench{i:08d}"
        enrolled = start + timedelta(seconds=rng.randrange(HISTORY_DAYS * 86400 // 4))
        span = (NOW - enrolled).total_seconds()
        moments = sorted(enrolled + timedelta(seconds=rng.random() * span) for _ in range(count))
        balance, window, window_points, held = 0, collections.deque(), 0, 0
        history_rows.append((member_id, ladder[0][0], enrolled, "enrolled", enrolled, None))
        last = None
        for n, moment in enumerate(moments):
            purchase_id = f"pur_bench{i:08d}_{n:04d}"
            amount = rng.randint(500, 20000)
            refunded = amount if rng.random() < 0.03 else 0
            points = (amount - refunded) // 100
            purchase_rows.append((purchase_id, member_id, f"order-{i}-{n}", "api", amount, "usd", refunded, 0,
                                  moment, moment, Decimal(1), Decimal(1), Decimal(1), points, points, 0,
                                  f"{i:032x}{n:032x}"))
            if points:
                balance += points
                entry_rows.append((member_id, "earn", points, balance, moment, purchase_id, "api_key", "bench"))
            # Tiers: upgrade at the purchase that crossed a threshold (downgrades left out).
            window.append((moment, points))
            window_points += points
            while window and window[0][0] <= moment - WINDOW:
                window_points -= window.popleft()[1]
            while held + 1 < len(ladder) and window_points >= ladder[held + 1][1]:
                held += 1
                history_rows.append((member_id, ladder[held][0], moment, "purchase", moment, purchase_id))
            last = moment
        member_rows.append((member_id, f"ext-{i}", f"B{i:07d}", f"m{i}@bench.example", "{}", "active", enrolled,
                            enrolled, balance, 0, last, ladder[held][0], None, 0))
    yield member_rows, purchase_rows, entry_rows, history_rows


MEMBER_COLUMNS = ("id", "external_id", "member_code", "email", "metadata", "status", "enrolled_at", "updated_at",
                  "points_balance", "points_pending", "last_purchase_at", "tier_id", "tier_review_at",
                  "tier_config_version")
PURCHASE_COLUMNS = ("id", "member_id", "order_id", "source", "amount", "currency", "refunded_amount",
                    "disputed_amount", "occurred_at", "created_at", "earn_rate", "tier_multiplier",
                    "campaign_multiplier", "points_earned", "qualifying_points", "pending_points", "fingerprint")
ENTRY_COLUMNS = ("member_id", "type", "points", "balance_after", "created_at", "purchase_id", "actor_type", "actor_id")
HISTORY_COLUMNS = ("member_id", "tier_id", "effective_at", "reason", "recorded_at", "purchase_id")


TABLES = [("members", MEMBER_COLUMNS), ("purchases", PURCHASE_COLUMNS), ("ledger_entries", ENTRY_COLUMNS),
          ("tier_history", HISTORY_COLUMNS)]


def load(db: Database, chunks) -> list[int]:
    """Load each chunk's rows (members, purchases, entries, history), a transaction per chunk;
    returns the row counts per table."""
    counts = [0] * len(TABLES)
    connection = db.connect()
    try:
        if db.kind == "postgresql":
            for chunk in chunks:
                with connection.cursor() as cursor:
                    for index, ((name, columns), rows) in enumerate(zip(TABLES, chunk)):
                        with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                        counts[index] += len(rows)
                connection.commit()
                log(f"[load] {counts[0]} members, {counts[1]} purchases so far")
            connection.autocommit = True
            connection.execute("VACUUM ANALYZE")
        else:
            def sqlite_value(value):
                if isinstance(value, datetime):
                    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
                return str(value) if isinstance(value, Decimal) else value

            for chunk in chunks:
                for index, ((name, columns), rows) in enumerate(zip(TABLES, chunk)):
                    marks = ", ".join("?" for _ in columns)
                    connection.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",
                                           ([sqlite_value(v) for v in row] for row in rows))
                    counts[index] += len(rows)
            connection.commit()
            connection.execute("ANALYZE")
    finally:
        connection.close()
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per report")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--reports", nargs="*", help="only these (repurchase-by-tier, cohorts, points, at-risk)")
    parser.add_argument("--save", metavar="PATH", help="write the reports' bodies to this JSON file")
    parser.add_argument("--keep-db", metavar="NAME", help="PostgreSQL: load into this database and keep it")
    parser.add_argument("--reuse-db", metavar="NAME",
                        help="PostgreSQL: a database kept by --keep-db: upgrade its schema (timed), load nothing")
    args = parser.parse_args()

    with Database(args.db, name=args.reuse_db or args.keep_db, keep=bool(args.reuse_db or args.keep_db)) as db:
        if args.reuse_db and not db.existed:
            raise SystemExit(f"no database {args.reuse_db}")
        started = time.time()
        app, client, auth = in_process_app(db)
        log(f"[db] schema upgraded (and an admin key made) in {time.time() - started:.1f} s")
        if args.reuse_db:
            with db.connect() as connection:
                tier_ids = dict(connection.execute("SELECT key, id FROM tiers").fetchall())
                args.members, args.purchases = (connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                                                for table in ("members", "purchases"))
            run_reports(args, db, client, auth, tier_ids)
            return

        def call(method, path, body=None):
            response = client.open(path, method=method, json=body, headers=auth)
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
            return response

        call("PATCH", "/v1/program", {"earn_rates": {"usd": "1"}})
        tier_ids = {}
        for tier_key, threshold, multiplier in TIERS:
            tier_ids[tier_key] = call("POST", "/v1/tiers", {"key": tier_key, "name": tier_key.title(),
                                                            "min_qualifying_points": threshold,
                                                            "multiplier": multiplier}).get_json()["id"]
        started = time.time()
        counts = load(db, generate(args.members, args.purchases, tier_ids, args.seed))
        log(f"[load] {counts[0]} members, {counts[1]} purchases, {counts[2]} ledger entries, "
            f"{counts[3]} tier history rows: generated and loaded (+ANALYZE) in {time.time() - started:.0f} s")
        run_reports(args, db, client, auth, tier_ids)


def run_reports(args, db: Database, client, auth, tier_ids: dict):
    to_day = NOW.date() - timedelta(days=30)
    from_day = to_day - timedelta(days=365)
    period = f"from={from_day}&to={to_day}"
    endpoints = [("repurchase-by-tier", f"/v1/reports/repurchase-by-tier?{period}&window_days=90"),
                 ("cohorts", f"/v1/reports/cohorts?{period}"),
                 ("points", f"/v1/reports/points?{period}"),
                 ("at-risk (first page of 20)", "/v1/reports/at-risk?limit=20"),
                 ("at-risk (page of 100)", "/v1/reports/at-risk?limit=100")]
    if args.reports:
        endpoints = [(name, path) for name, path in endpoints if name.split(" ")[0] in args.reports]
    timings, bodies = {}, {}
    for name, path in endpoints:
        runs = []
        for _ in range(args.repeat):
            begun = time.perf_counter()
            response = client.get(path, headers=auth)
            runs.append(time.perf_counter() - begun)
            if response.status_code != 200:
                runs = f"HTTP {response.status_code}: {response.get_data(as_text=True)[:200]}"
                break
        timings[name] = runs
        bodies[name] = response.get_json() if response.status_code == 200 else None
        log(f"[report] {name}: {runs if isinstance(runs, str) else ', '.join(f'{r:.2f} s' for r in runs)}")

    if args.save:
        Path(args.save).write_text(json.dumps(bodies, indent=1))
    ceiling = None
    if db.kind == "postgresql" and "repurchase-by-tier" in timings:
        from datetime import time as dtime
        params = {"start": datetime.combine(from_day, dtime(0), tzinfo=timezone.utc),
                  "end": datetime.combine(to_day, dtime(0), tzinfo=timezone.utc),
                  "entry": tier_ids["bronze"], "window": 90,
                  "mature_before": datetime.now(timezone.utc) - timedelta(days=90)}
        runs = []
        with db.connect() as connection:
            for _ in range(args.repeat):
                begun = time.perf_counter()
                rows = connection.execute(CEILING_SQL, params).fetchall()
                runs.append(time.perf_counter() - begun)
        ceiling = (runs, rows)
        log(f"[report] hand-written repurchase-by-tier SQL: {', '.join(f'{r:.2f} s' for r in runs)}")

    info = machine()
    print(f"Reports at scale, {db.kind}: {args.members} members, {args.purchases} purchases "
          f"(+ ledger entries, tier history); {info['nproc']} CPUs ({info['cpu']}), {info['ram_gb']} GB RAM; "
          f"{info['date']}. Flask test client, {args.repeat} calls each; period {from_day}..{to_day}.\n")
    print("| report | best s | median s | rows |\n|---|---:|---:|---:|")
    for name, runs in timings.items():
        if isinstance(runs, str):
            print(f"| {name} | {runs} | | |")
            continue
        body = bodies[name]
        rows = len(body["data"]) if isinstance(body, dict) and isinstance(body.get("data"), list) else 1
        print(f"| {name} | {min(runs):.2f} | {statistics.median(runs):.2f} | {rows} |")
    if ceiling:
        runs, rows = ceiling
        print(f"| repurchase-by-tier, hand-written SQL (ceiling) | {min(runs):.2f} | {statistics.median(runs):.2f} | {len(rows)} |")
        project = timings.get("repurchase-by-tier")
        if isinstance(project, list):
            best = min(project)
            print(f"\nGoal: repurchase-by-tier under 2 s: {'MET' if best < 2 else 'NOT MET'} ({best:.2f} s); "
                  f"within 1.5x of the hand-written query: {'MET' if best <= 1.5 * min(runs) else 'NOT MET'} "
                  f"({best / min(runs):.2f}x)")
            print("\nSame numbers? project rows vs hand-written rows:")
            for api_row in bodies["repurchase-by-tier"]["data"]:
                print("  api ", {k: api_row[k] for k in ("tier", "buyers", "repurchasers", "repurchase_rate",
                                                         "median_days_to_repurchase", "immature")})
            for row in rows:
                print("  sql ", dict(zip(("tier", "buyers", "repurchasers", "repurchase_rate",
                                          "median_days_to_repurchase", "immature"), (str(v) for v in row))))


if __name__ == "__main__":
    main()
