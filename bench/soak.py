#!/usr/bin/env python3
"""Soak test: N minutes of mixed traffic against a live gunicorn, then check nothing was lost.

    .venv/bin/python bench/soak.py                         # 10 minutes on PostgreSQL
    .venv/bin/python bench/soak.py --minutes 2 --db sqlite

Traffic (from --clients threads): purchases, a third of them retried (the same body again, some
with an Idempotency-Key); partial refunds (some asking for more than is left: 422); bursts of
concurrent redemptions on one member (more than the balance covers: some 409); balance reads.
A small member pool keeps the members' rows contended.

At the end: `flask loyalty verify-ledger` passes; every member's balance equals an independent
recomputation from the requests sent and their answers (funding + floor(net amount / 100) per
purchase − reward cost per issued redemption); every purchase has its ledger entry; and the
workers' memory (VmRSS, /proc) did not grow between the end of the warm-up and the end.
Exit status 1 when any check fails.
"""
import argparse
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (BIN, ROOT, Database, Server, create_api_key, flask_cli, log, machine, must,  # noqa: E402
                    request, server_env)

FUNDING = 2_000
REWARD_COST = 150
BURST = 4


class Model:
    """What the server must end up with, from the requests sent and their answers."""

    def __init__(self, members):
        self.lock = threading.Lock()
        self.purchases = {}  # purchase id -> [member id, amount, refunded]
        self.redeemed = Counter()  # member id -> issued redemptions
        self.members = members
        self.stats = Counter()
        self.unknown = []  # requests whose outcome we could not learn (timeouts, 5xx)

    def expected_balance(self, member_id):
        earned = sum((amount - refunded) // 100 for member, amount, refunded in self.purchases.values()
                     if member == member_id)
        return FUNDING + earned - REWARD_COST * self.redeemed[member_id]


class Traffic:
    def __init__(self, port, key, reward, model, deadline):
        self.port, self.key, self.reward, self.model, self.deadline = port, key, reward, model, deadline
        self.counter = 0
        self.counter_lock = threading.Lock()

    def call(self, method, path, body=None, headers=None):
        try:
            status, answer = request(method, self.port, path, body, self.key, headers=headers, timeout=60)
        except OSError as error:
            status, answer = 0, repr(error)
        with self.model.lock:
            self.model.stats[f"{method} {re.sub(r'/[a-z]{3}_[0-9a-z]+', '/{id}', path)} {status}"] += 1
            if status == 0 or status >= 500:
                self.model.unknown.append((method, path, status, str(answer)[:200]))
        return status, answer

    def order_id(self):
        with self.counter_lock:
            self.counter += 1
            return f"soak-{self.counter}-{random.getrandbits(32):x}"

    def purchase(self):
        member = random.choice(self.model.members)
        body = {"member_id": member, "order_id": self.order_id(), "amount": random.randint(100, 50_000),
                "currency": "usd"}
        headers = {"Idempotency-Key": f"idem-{body['order_id']}"} if random.random() < 0.3 else None
        tries = 1 + (random.random() < 0.33) + (random.random() < 0.1)
        seen = set()
        for attempt in range(tries):
            status, answer = self.call("POST", "/v1/purchases", body, headers)
            if status in (200, 201):
                seen.add(answer["id"])
                with self.model.lock:
                    self.model.purchases.setdefault(answer["id"], [member, body["amount"], 0])
                    if attempt and status == 201 and not headers:
                        self.model.stats["retry answered 201 (should be 200)"] += 1
        if len(seen) > 1:
            with self.model.lock:
                self.model.stats["duplicate purchases from one order id"] += 1

    def refund(self):
        with self.model.lock:
            if not self.model.purchases:
                return
            purchase_id = random.choice(list(self.model.purchases))
            member, amount, refunded = self.model.purchases[purchase_id]
        left = amount - refunded
        ask = random.randint(1, max(left, 1)) if random.random() < 0.85 else left + random.randint(1, 500)
        status, answer = self.call("POST", f"/v1/purchases/{purchase_id}/refunds", {"amount": ask})
        if status == 201:
            with self.model.lock:
                self.model.purchases[purchase_id][2] = answer["refunded_amount"]

    def redemptions(self):
        member = random.choice(self.model.members)
        barrier = threading.Barrier(BURST)

        def one():
            barrier.wait()
            status, _ = self.call("POST", f"/v1/members/{member}/redemptions", {"reward_id": self.reward})
            if status == 201:
                with self.model.lock:
                    self.model.redeemed[member] += 1

        threads = [threading.Thread(target=one) for _ in range(BURST)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def read(self):
        self.call("GET", f"/v1/members/{random.choice(self.model.members)}")

    def run(self):
        actions = [self.purchase] * 50 + [self.refund] * 15 + [self.redemptions] * 10 + [self.read] * 25
        while time.time() < self.deadline:
            random.choice(actions)()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--members", type=int, default=40, help="a small pool: contended rows")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn -w")
    parser.add_argument("--warmup", type=float, default=30, help="seconds before the start RSS is taken")
    args = parser.parse_args()

    failures = []
    with Database(args.db) as db:
        env = server_env(db)
        flask_cli(env, "db", "upgrade")
        admin = create_api_key(env, "admin")
        with Server("wsgi:app", env, workers=args.workers) as server:
            must(200, request("PATCH", server.port, "/v1/program", {"earn_rates": {"usd": "1"}}, admin), "program")
            reward = must(201, request("POST", server.port, "/v1/rewards", {
                "name": "Soak voucher", "cost_points": REWARD_COST, "kind": "discount_amount",
                "value": {"amount": 500, "currency": "usd"}}, admin), "reward")["id"]
            members = []
            for n in range(args.members):
                member = must(201, request("POST", server.port, "/v1/members", {"external_id": f"soak-{n}"}, admin),
                              "member")
                must(201, request("POST", server.port, f"/v1/members/{member['id']}/adjustments",
                                  {"points": FUNDING, "reason": "soak funding"}, admin), "funding")
                members.append(member["id"])
            model = Model(members)
            started = time.time()
            deadline = started + args.minutes * 60
            traffic = Traffic(server.port, admin, reward, model, deadline)
            clients = [threading.Thread(target=traffic.run, daemon=True) for _ in range(args.clients)]
            for client in clients:
                client.start()
            time.sleep(min(args.warmup, args.minutes * 30))
            rss_start = server.worker_rss_mb()
            samples = [(time.time() - started, max(rss_start))]
            log(f"[soak] warm-up over; worker RSS {', '.join(f'{r:.1f}' for r in rss_start)} MB")
            while time.time() < deadline:
                time.sleep(min(60, max(deadline - time.time(), 0.1)))
                samples.append((time.time() - started, max(server.worker_rss_mb())))
                log(f"[soak] {samples[-1][0]:.0f} s: {sum(model.stats.values())} requests, "
                    f"max worker RSS {samples[-1][1]:.1f} MB")
            for client in clients:
                client.join()
            rss_end = server.worker_rss_mb()
            elapsed = time.time() - started

            mismatches = []
            for member_id in members:
                body = must(200, request("GET", server.port, f"/v1/members/{member_id}", key=admin), "read")
                expected = model.expected_balance(member_id)
                if body["points"]["balance"] != expected:
                    mismatches.append((member_id, body["points"]["balance"], expected))

        verify = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "loyalty", "verify-ledger"], cwd=ROOT, env=env,
            capture_output=True, text=True)
        connection = db.connect()
        try:
            orphans = connection.execute(
                "SELECT count(*) FROM purchases p WHERE p.points_earned > 0 AND NOT EXISTS "
                "(SELECT 1 FROM ledger_entries e WHERE e.purchase_id = p.id AND e.type = 'earn')").fetchone()[0]
            db_purchases = connection.execute("SELECT count(*) FROM purchases").fetchone()[0]
        finally:
            connection.close()

    total = sum(model.stats.values())
    info = machine()
    print(f"Soak, {args.db}: {elapsed / 60:.1f} min, {args.clients} client threads, gunicorn -w {args.workers}, "
          f"{args.members} members; {info['nproc']} CPUs ({info['cpu']}); {info['date']}")
    print(f"{total} requests ({total / elapsed:.0f}/s):")
    for name, count in sorted(model.stats.items()):
        print(f"  {name}: {count}")
    print(f"purchases: {len(model.purchases)} acknowledged, {db_purchases} in the database")
    print(f"verify-ledger: exit {verify.returncode}: {verify.stdout.strip()[-400:]}")
    if verify.returncode:
        failures.append("verify-ledger failed")
    if db_purchases != len(model.purchases):
        failures.append(f"{db_purchases} purchases stored, {len(model.purchases)} acknowledged")
    if orphans:
        failures.append(f"{orphans} purchases without their earn entry")
    print(f"balances equal to the recomputation: {len(members) - len(mismatches)}/{len(members)}")
    for member_id, actual, expected in mismatches[:10]:
        print(f"  MISMATCH {member_id}: server {actual}, recomputed {expected}")
    if mismatches:
        failures.append(f"{len(mismatches)} balances differ from the recomputation")
    if model.unknown:
        failures.append(f"{len(model.unknown)} requests failed with 5xx or no answer (outcome unknown)")
        for item in model.unknown[:5]:
            print("  UNKNOWN OUTCOME", item)
    if model.stats["duplicate purchases from one order id"]:
        failures.append("a retried order created a second purchase")
    print("worker RSS (MB) after warm-up:", ", ".join(f"{r:.1f}" for r in sorted(rss_start)))
    print("worker RSS (MB) at the end:   ", ", ".join(f"{r:.1f}" for r in sorted(rss_end)))
    print("max worker RSS over time:", ", ".join(f"{t:.0f}s {r:.1f}" for t, r in samples))
    growth = max(rss_end) - max(rss_start)
    # Allocator noise is a few MB; a leak grows with traffic. Allow 5 MB or 5%, whichever is more.
    if growth > max(5.0, 0.05 * max(rss_start)):
        failures.append(f"worker memory grew by {growth:.1f} MB")
    print("RESULT:", "PASS" if not failures else "FAIL: " + "; ".join(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
