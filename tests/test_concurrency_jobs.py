"""Two run-jobs at once, against a real database: each timed thing happens exactly once."""
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text



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
