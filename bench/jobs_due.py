#!/usr/bin/env python3
"""run-jobs grows with what is due, not with the members (issue 21), on PostgreSQL.

    .venv/bin/python bench/jobs_due.py --small 100000 --large 1000000 --due 1000

For each size, a fresh database (`bench_<random>`, dropped afterwards) gets that many members
written straight in SQL (generate_series): every one holding points earned recently, a birthday
in another month, nothing pending, under a program with fixed expiry (365 days), a birthday
bonus and a tier ladder, and a webhook endpoint for points.expiring and member.at_risk; `--due` of
them hold points earned 400 days ago (their expiry is due) and have their notice moments passed
(10 × `--due` members have three purchases each: the due ones 200 days ago, at risk).
Then, in-process (no interpreter start-up counted), `jobs.run_all()` is timed: once with the due
members, then again with nothing due. Prints the times and the ratio large/small.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Database, flask_cli, log, machine, server_env  # noqa: E402

SEED = """
INSERT INTO program (id, name, earn_rates, point_value_amount, point_value_currency, tier_window_days,
    tier_retention_days, pending_days, expiry_policy, expiry_days, signup_bonus, birthday_bonus, auto_enroll,
    tier_config_version, settings_revision, updated_at, goodwill_limit)
VALUES (1, 'Bench', '{"usd": "1"}', 1, 'usd', 365, 365, 14, 'fixed', 365, 0, 10, true, 0, 'seed', now(), 1000);
INSERT INTO tiers (id, key, name, min_qualifying_points, multiplier, benefits, created_at, updated_at)
VALUES ('tier_b', 'bronze', 'Bronze', 0, 1, '[]', now(), now()), ('tier_g', 'gold', 'Gold', 5000, 2, '[]', now(), now());
INSERT INTO members (id, external_id, member_code, metadata, status, enrolled_at, updated_at, points_balance,
    points_pending, last_purchase_at, tier_id, tier_config_version, birthday,
    birthday_bonus_at, oldest_points_at, expiring_notice_at, at_risk_at)
SELECT 'mem_' || n, 'ext-' || n, 'C' || n, '{}', 'active', now() - interval '500 days', now(), 100, 0,
       now() - interval '10 days', 'tier_b', 0,
       make_date(1990, 1 + (extract(month from now())::int %% 12), 15),
       date_trunc('month', now()) + interval '1 month',
       CASE WHEN n <= %(due)s THEN now() - interval '400 days' ELSE now() - interval '20 days' END,
       CASE WHEN n <= %(due)s THEN now() - interval '1 day' ELSE now() + interval '330 days' END,
       CASE WHEN n <= %(due)s THEN now() - interval '1 day' ELSE now() + interval '20 days' END
FROM generate_series(1, %(members)s) AS n;
INSERT INTO purchases (id, member_id, order_id, source, amount, currency, refunded_amount, disputed_amount,
    occurred_at, created_at, earn_rate, tier_multiplier, campaign_multiplier, points_earned, qualifying_points,
    pending_points, fingerprint)
SELECT 'pur_' || n || '_' || k, 'mem_' || n, 'o-' || n || '-' || k, 'api', 1000, 'usd', 0, 0,
       now() - interval '1 day' * (CASE WHEN n <= %(due)s THEN 200 ELSE 10 END + 20 * k), now(), 1, 1, 1, 10, 10,
       0, 'seed'
FROM generate_series(1, %(due)s * 10) AS n, generate_series(0, 2) AS k;
INSERT INTO ledger_entries (member_id, type, points, balance_after, created_at, actor_type)
SELECT 'mem_' || n, 'bonus', 100, 100,
       CASE WHEN n <= %(due)s THEN now() - interval '400 days' ELSE now() - interval '20 days' END, 'system'
FROM generate_series(1, %(members)s) AS n;
ANALYZE;
"""


def measure(members: int, due: int) -> dict:
    with Database("postgresql") as db:
        env = server_env(db)
        flask_cli(env, "db", "upgrade")
        started = time.monotonic()
        with db.connect() as connection:
            connection.execute(SEED % {"members": members, "due": due})
        log(f"[seed] {members} members ({due} due) in {time.monotonic() - started:.0f} s")
        import os
        os.environ.update(env)
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from loyalty import create_app, jobs
        from loyalty.extensions import db as sql

        app = create_app({"SQLALCHEMY_DATABASE_URI": db.sqlalchemy_url})
        with app.app_context():
            from loyalty.outbound import endpoints
            endpoints.create("http://127.0.0.1:9/hook", ["points.expiring", "member.at_risk"], "bench")
            sql.session.commit()
            list(jobs.run_all())  # nothing timed: connections opened, settings read
            times = {}
            for label in ("due", "nothing due"):
                if label == "due":  # the seed's due members again (the warm-up run expired them)
                    with db.connect() as connection:
                        connection.execute("UPDATE members SET oldest_points_at = now() - interval '400 days', "
                                           "expiring_notice_at = now() - interval '1 day', "
                                           "at_risk_at = now() - interval '1 day', "
                                           f"points_balance = 100 WHERE id IN (SELECT 'mem_' || n FROM generate_series(1, {due}) n)")
                        connection.execute("INSERT INTO ledger_entries (member_id, type, points, balance_after, created_at, actor_type) "
                                           f"SELECT 'mem_' || n, 'bonus', 100, 200, now() - interval '399 days', 'system' FROM generate_series(1, {due}) n")
                started = time.monotonic()
                summary = dict(jobs.run_all())
                times[label] = time.monotonic() - started
                log(f"[{members}] {label}: {times[label]:.3f} s; {summary.get('points expiry')}; "
                    f"{summary.get('expiring points notices')}; {summary.get('at-risk notices')}")
            sql.session.remove()
            sql.engine.dispose()
        return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    small, large = measure(args.small, args.due), measure(args.large, args.due)
    print(f"\nmachine: {machine()}")
    print("| members | run-jobs, {0} due | run-jobs, nothing due |".format(args.due))
    print("|---|---|---|")
    for size, times in ((args.small, small), (args.large, large)):
        print(f"| {size:,} | {times['due']:.3f} s | {times['nothing due']:.3f} s |")
    print(f"\n{args.due} due: {args.large:,} / {args.small:,} = {large['due'] / small['due']:.2f}x (goal <= 1.5x); "
          f"nothing due among {args.large:,}: {large['nothing due']:.3f} s (goal < 1 s)")


if __name__ == "__main__":
    main()
