#!/usr/bin/env python3
"""The checks of deploy/check-cluster.sh, against two (or more) app servers sharing one database.

Every request goes to the servers in turn, so each check has both servers working on the same
members, orders and staff account at the same moment:

- redemptions: members funded for exactly two rewards each get many concurrent redemptions:
  exactly two succeed per member, the rest are 409 insufficient_points, no balance below zero;
- purchases: every order id is sent to both servers at once: one purchase per order, both
  answers naming it, points earned once;
- logins: five wrong passwords for one email, alternating servers, lock the email on both (one
  count, in the database): the sixth attempt, even with the right password, is 429;
- reports: once the replica has replayed the primary's WAL, the points report (read on the
  replica, REPORTS_DATABASE_URL) shows exactly the balances the primary holds, and the replica
  served it.
Prints one line per check; exits 1 on the first failure.
"""
import argparse
import itertools
import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import psycopg

MEMBERS, REDEMPTIONS_EACH, ORDERS = 8, 6, 40
COST, STAFF_PASSWORD = 100, "cluster-check-password"


def call(base: str, method: str, path: str, body=None, key: str | None = None):
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_until_up(servers: list[str]) -> None:
    for base in servers:
        for _ in range(100):
            try:
                if call(base, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            fail(f"{base} never answered /healthz")


def fail(message: str) -> None:
    print(f"FAIL {message}")
    sys.exit(1)


def ok(message: str) -> None:
    print(f"ok   {message}")


def expect(status: int, answer, wanted: int, what: str):
    if status != wanted:
        fail(f"{what}: {status} {answer}")
    return answer


def at_once(calls):
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(c) for c in calls]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", required=True, help="comma-separated base URLs")
    parser.add_argument("--admin-key", required=True)
    parser.add_argument("--primary", required=True, help="the primary's URL (to compare and to read its WAL position)")
    parser.add_argument("--replica", required=True, help="the replica's URL")
    args = parser.parse_args()
    servers, key = args.servers.split(","), args.admin_key
    wait_until_up(servers)
    turn = itertools.cycle(servers)

    expect(*call(servers[0], "PATCH", "/v1/program", {"earn_rates": {"usd": "1"}}, key), 200, "PATCH /v1/program")
    reward = expect(*call(servers[0], "POST", "/v1/rewards", {"name": "Cluster mug", "cost_points": COST,
                                                              "kind": "custom", "value": {}}, key), 201, "reward")["id"]

    # -- redemptions: never an overspend -----------------------------------------------------------
    members = []
    for n in range(MEMBERS):
        member = expect(*call(next(turn), "POST", "/v1/members", {"external_id": f"cluster-{n}"}, key), 201, "enrol")
        expect(*call(next(turn), "POST", f"/v1/members/{member['id']}/adjustments",
                     {"points": 2 * COST + COST // 2, "reason": "cluster check"}, key), 201, "fund")
        members.append(member["id"])
    attempts = [(member_id, next(turn)) for member_id in members for _ in range(REDEMPTIONS_EACH)]
    answers = at_once([lambda m=m, s=s: call(s, "POST", f"/v1/members/{m}/redemptions", {"reward_id": reward}, key)
                       for m, s in attempts])
    for member_id in members:
        mine = [answer for (m, _), answer in zip(attempts, answers) if m == member_id]
        issued = sum(status == 201 for status, _ in mine)
        refused = sum(status == 409 and body["error"]["code"] == "insufficient_points" for status, body in mine)
        balance = call(next(turn), "GET", f"/v1/members/{member_id}", key=key)[1]["points"]["balance"]
        if (issued, refused, balance) != (2, REDEMPTIONS_EACH - 2, COST // 2):
            fail(f"redemptions for {member_id}: {issued} issued, {refused} refused, balance {balance}")
    ok(f"redemptions: {len(attempts)} at once over {len(servers)} servers, exactly 2 per member, no overspend")

    # -- purchases: one per order id ------------------------------------------------------------------
    buyer = members[0]
    before = call(servers[0], "GET", f"/v1/members/{buyer}", key=key)[1]["points"]["balance"]
    sends = [(f"cluster-order-{n}", server) for n in range(ORDERS) for server in servers]
    answers = at_once([lambda o=o, s=s: call(s, "POST", "/v1/purchases", {
        "member_id": buyer, "order_id": o, "amount": 1000, "currency": "usd"}, key) for o, s in sends])
    for order_id in {o for o, _ in sends}:
        mine = [answer for (o, _), answer in zip(sends, answers) if o == order_id]
        statuses = sorted(status for status, _ in mine)
        if statuses not in ([200, 201], [201, 201]) or len({body["id"] for _, body in mine}) != 1:
            fail(f"order {order_id}: {[(s, b) for s, b in mine]}")
    after = call(servers[1], "GET", f"/v1/members/{buyer}", key=key)[1]["points"]["balance"]
    if after - before != ORDERS * 10:
        fail(f"purchases earned {after - before} points, not {ORDERS * 10}")
    ok(f"purchases: {ORDERS} order ids sent to every server at once, one purchase each, points once")

    # -- staff logins: one lockout count -----------------------------------------------------------
    email = "till@cluster.example"
    expect(*call(servers[0], "POST", "/v1/staff", {"email": email, "name": "Till", "role": "cashier",
                                                   "password": STAFF_PASSWORD}, key), 201, "create staff")
    failures = [call(next(turn), "POST", "/v1/staff/sessions", {"email": email, "password": "wrong password!"})[0]
                for _ in range(5)]
    if failures != [401] * 5:
        fail(f"wrong passwords answered {failures}")
    locked = [call(server, "POST", "/v1/staff/sessions", {"email": email, "password": STAFF_PASSWORD})[0]
              for server in servers]
    if locked != [429] * len(servers):
        fail(f"after 5 failures over {len(servers)} servers, the right password got {locked}, not 429 everywhere")
    ok(f"logins: 5 failures split over {len(servers)} servers lock the email on every server")

    # -- reports from the replica -------------------------------------------------------------------
    with psycopg.connect(args.primary, autocommit=True) as primary, \
            psycopg.connect(args.replica, autocommit=True) as replica:
        position = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        for _ in range(300):
            if replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,)).fetchone()[0]:
                break
            time.sleep(0.1)
        else:
            fail("the replica did not catch up within 30 s")
        owed = primary.execute("SELECT coalesce(sum(points_balance), 0) FROM members").fetchone()[0]
        if not replica.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            fail("the reports database is not a replica")
        if _app_connections(replica):
            fail("something else is connected to the replica")
        today = date.today()
        status, report = call(next(turn), "GET", f"/v1/reports/points?from={today - timedelta(days=1)}"
                                                 f"&to={today + timedelta(days=1)}", key=key)
        expect(status, report, 200, "GET /v1/reports/points")
        if report["outstanding"] != owed:
            fail(f"the report shows {report['outstanding']} points outstanding, the primary holds {owed}")
        if not _app_connections(replica):
            fail("the report was not read on the replica")
    ok(f"reports: read on the replica once it had replayed the primary's WAL ({owed} points outstanding, as on the primary)")


def _app_connections(replica) -> int:
    """Clients connected to the replica's loyalty database other than this check: the servers'
    reports engine keeps the connection it read with in its pool."""
    return replica.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'loyalty' "
                           "AND backend_type = 'client backend' AND pid <> pg_backend_pid()").fetchone()[0]


if __name__ == "__main__":
    main()
