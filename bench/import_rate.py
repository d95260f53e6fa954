#!/usr/bin/env python3
"""Import speed against the API's earn rate, measured in the same run, on PostgreSQL.

    .venv/bin/python bench/import_rate.py --members 100000 --purchases 1000000

A fresh database (`bench_<random>`, dropped afterwards); the API's earn rate measured as
bench/run.py measures it (gunicorn -w 4 sync, wrk -t2 -c16, POST /v1/purchases, no tiers); then
generated files (members CSV; purchases CSV, each member's rows together in random order, over
two years, with a three-tier ladder and 30 pending days set) loaded with `flask --app wsgi loyalty
import members|purchases`, each run under /usr/bin/time for its peak memory; `verify-ledger` at
the end. Prints the rates, their ratio and the importer's peak RSS.
"""
import argparse
import csv
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, Database, Server, create_api_key, flask_cli, log, machine, must, request, server_env  # noqa: E402
from run import Bench  # noqa: E402


def write_files(directory: Path, members: int, purchases: int, seed: int = 7) -> tuple[Path, Path]:
    rng = random.Random(seed)
    members_path, purchases_path = directory / "members.csv", directory / "purchases.csv"
    with open(members_path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "email", "name", "enrolled_at"])
        for n in range(members):
            writer.writerow([f"ext-{n}", f"m{n}@import.example", f"Member {n}", "2023-01-01T00:00:00Z"])
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=730)
    per_member = purchases / members
    with open(purchases_path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "order_id", "amount", "currency", "occurred_at"])
        order, written = 0, 0
        for n in range(members):
            count = purchases - written if n == members - 1 else min(int(round(per_member * (n + 1))) - written,
                                                                   purchases - written)
            for _ in range(count):  # a member's rows together, in no particular order
                moment = start + timedelta(seconds=rng.randrange(0, 729 * 86400))
                writer.writerow([f"ext-{n}", f"ord-{order}", rng.randrange(500, 30000), "usd",
                                 moment.strftime("%Y-%m-%dT%H:%M:%SZ")])
                order += 1
            written += count
    return members_path, purchases_path


def timed_import(env: dict, kind: str, path: Path) -> dict:
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-f", "PEAK_KB %M", str(BIN / "flask"), "--app", "wsgi", "loyalty",
                             "import", kind, str(path)], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    peak_kb = int(re.search(r"PEAK_KB (\d+)", result.stderr).group(1))
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0:
        raise RuntimeError(f"import {kind} failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-2000:]}")
    rows = int(re.search(r"(\d+) rows read", summary).group(1))
    log(f"[import] {summary}; peak RSS {peak_kb / 1024:.0f} MB")
    return {"rows": rows, "seconds": seconds, "rate": rows / seconds, "peak_mb": peak_kb / 1024, "summary": summary}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of API earn measured")
    args = parser.parse_args()
    bench = Bench(argparse.Namespace(duration=args.duration, warmup=2, workers=4, worker_class="sync", threads=2,
                                     connections=16, members=500, rounds=1))
    work = Path(tempfile.mkdtemp(prefix="bench_import_"))
    with Database("postgresql") as db:
        env = server_env(db)
        flask_cli(env, "db", "upgrade")
        admin = create_api_key(env, "admin")
        with Server("wsgi:app", env, workers=4) as server:
            reward, member_ids = bench.seed(server.port, admin)
            members_file = work / "member_ids.txt"
            members_file.write_text("\n".join(member_ids) + "\n")
            earn = bench.measure("postgresql", "project earn", server, "earn", key=admin, members_file=str(members_file))
            for key, threshold, multiplier in (("bronze", 0, "1"), ("silver", 2000, "1.25"), ("gold", 6000, "1.5")):
                must(201, request("POST", server.port, "/v1/tiers", {
                    "key": key, "name": key.title(), "min_qualifying_points": threshold, "multiplier": multiplier}, admin),
                    "POST /v1/tiers")
            must(200, request("PATCH", server.port, "/v1/program", {"pending_days": 30}, admin), "PATCH /v1/program")
        flask_cli(env, "loyalty", "run-jobs")
        started = time.monotonic()
        members_path, purchases_path = write_files(work, args.members, args.purchases)
        log(f"[files] {args.members} members, {args.purchases} purchases written in {time.monotonic() - started:.0f} s")
        members = timed_import(env, "members", members_path)
        purchases = timed_import(env, "purchases", purchases_path)
        verify = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "loyalty", "verify-ledger"], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        log(f"[verify-ledger] exit {verify.returncode}: {verify.stdout.strip()[-200:]}")
    ratio = purchases["rate"] / earn["rps"]
    print(f"\nmachine: {machine()}")
    print("| what | rows | seconds | rows/s | peak RSS |")
    print("|---|---|---|---|---|")
    print(f"| API earn (POST /v1/purchases, {args.duration} s) | {earn['requests']} | {args.duration} | {earn['rps']:.0f} | – |")
    for name, row in (("import members", members), ("import purchases", purchases)):
        print(f"| {name} | {row['rows']} | {row['seconds']:.1f} | {row['rate']:.0f} | {row['peak_mb']:.0f} MB |")
    print(f"\nimport purchases / API earn: {ratio:.1f}x (goal >= 20x); importer peak {purchases['peak_mb']:.0f} MB "
          f"(goal < 300 MB); verify-ledger exit {verify.returncode}")


if __name__ == "__main__":
    main()
