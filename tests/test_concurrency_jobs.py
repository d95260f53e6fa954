"""Two run-jobs at once, against a real database: each timed thing happens exactly once."""
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

SEED = textwrap.dedent("""
    from datetime import date, timedelta
    from loyalty import clock, create_app, members, purchases, redemptions, rewards
    from loyalty.actors import SYSTEM
    from loyalty.extensions import db
    from loyalty.program import update_program

    app = create_app()
    with app.app_context():
        now = clock.now()
        with clock.frozen(now - timedelta(days=400)):
            update_program({"earn_rates": {"usd": "1"}, "birthday_bonus": 10})
            for n in range(10):
                member = members.enroll({"external_id": f"old{n}"}, SYSTEM)
                purchases.record_purchase(member, order_id=f"old{n}", amount=5000, currency="usd",
                                          occurred_at=None, source="api", actor=SYSTEM)
        with clock.frozen(now - timedelta(days=40)):
            update_program({"pending_days": 14})
            reward = rewards.create_reward({"name": "Tea", "cost_points": 20, "kind": "custom", "value": {},
                                            "voucher_valid_days": 30, "stock": 50})
            for n in range(10):
                redemptions.issue(members.find_by_external_id(f"old{n}").id, reward.id, SYSTEM)
        with clock.frozen(now - timedelta(days=20)):
            for n in range(10):
                member = members.enroll({"external_id": f"new{n}", "birthday": date(1990, now.month, 1)}, SYSTEM)
                purchases.record_purchase(member, order_id=f"new{n}", amount=3000, currency="usd",
                                          occurred_at=None, source="api", actor=SYSTEM)
        update_program({"expiry_policy": "inactivity", "expiry_days": 365})
        db.session.commit()
""")


@pytest.fixture
def seeded(live_server):
    server = live_server(workers=1)
    result = subprocess.run([sys.executable, "-c", SEED], env=server.env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return server


def test_two_run_jobs_at_once_do_each_thing_once(seeded):
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: seeded.flask("loyalty", "run-jobs"), range(2)))
    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    engine = create_engine(seeded.database_url)
    with engine.connect() as connection:
        counts = dict(connection.execute(text(
            "SELECT type || ':' || COALESCE(note, ''), COUNT(*) FROM ledger_entries GROUP BY 1")).all())
        statuses = dict(connection.execute(text("SELECT status, COUNT(*) FROM redemptions GROUP BY 1")).all())
        balances = dict(connection.execute(text("SELECT external_id, points_balance FROM members")).all())
    engine.dispose()
    assert counts["earn:Pending points vested"] == 10
    assert sum(n for kind, n in counts.items() if kind.startswith("bonus:Birthday")) == 10
    assert counts["return:Voucher expired"] == 10
    assert counts["expiry:inactivity expiry"] == 10
    assert statuses == {"expired": 10}
    assert {balances[f"old{n}"] for n in range(10)} == {0}     # 50 - 20 + 20 returned, then expired
    assert {balances[f"new{n}"] for n in range(10)} == {40}    # 30 vested + 10 birthday
    assert seeded.flask("loyalty", "verify-ledger").returncode == 0
