"""`flask db upgrade` on an empty database gives exactly the models' schema, ledger guard included."""
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DatabaseError

from loyalty.extensions import db

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def test_upgrade_gives_exactly_the_models_schema(migrated_app):
    """Does autogenerate find nothing left to do after upgrading an empty database?"""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_upgrade_installs_the_ledger_guard(migrated_app):
    """Does the migrated database itself refuse to change a ledger entry?"""
    with db.engine.connect() as connection:
        connection.execute(text(
            "INSERT INTO members (id, external_id, member_code, metadata, status, enrolled_at, updated_at, "
            "points_balance, points_pending, tier_config_version) "
            "VALUES ('m1', 'e1', 'CODE1', '{}', 'active', '2026-01-01', '2026-01-01', 5, 0, 0)"))
        connection.execute(text(
            "INSERT INTO ledger_entries (member_id, type, points, balance_after, created_at, actor_type) "
            "VALUES ('m1', 'bonus', 5, 5, '2026-01-01', 'system')"))
        connection.commit()
        for statement in ("UPDATE ledger_entries SET points = 6", "DELETE FROM ledger_entries"):
            with pytest.raises(DatabaseError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()


def test_upgrade_installs_the_settings_revision_triggers(migrated_app):
    """Does any change to the program, a tier or a campaign, even by hand, give a new revision?"""
    def revision(connection):
        return connection.execute(text("SELECT settings_revision FROM program")).scalar_one()

    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO program (id, name, earn_rates, point_value_amount, "
                                "point_value_currency, tier_window_days, tier_retention_days, pending_days, "
                                "expiry_policy, signup_bonus, birthday_bonus, auto_enroll, tier_config_version, "
                                "settings_revision, updated_at, goodwill_limit) VALUES (1, 'P', '{}', 1, 'usd', 365, 365, 0, "
                                "'none', 0, 0, true, 0, 'first', '2026-01-01', 1000)"))
    changes = [
        "UPDATE program SET name = 'Q'",
        "INSERT INTO tiers (id, key, name, min_qualifying_points, multiplier, benefits, created_at, updated_at) "
        "VALUES ('t1', 'base', 'Base', 0, '1', '[]', '2026-01-01', '2026-01-01')",
        "UPDATE tiers SET multiplier = '2'",
        "DELETE FROM tiers",
        "INSERT INTO campaigns (id, name, multiplier, tier_keys, starts_at, ends_at, holdout_percent, "
        "created_at, updated_at) VALUES ('c1', 'C', '2', '[]', '2026-01-01', '2026-02-01', 0, "
        "'2026-01-01', '2026-01-01')",
        "UPDATE campaigns SET multiplier = '3'",
        "DELETE FROM campaigns",
    ]
    seen = {"first"}
    for statement in changes:
        with db.engine.begin() as connection:
            connection.execute(text(statement))
            now = revision(connection)
        assert now not in seen, statement
        seen.add(now)


def test_downgrade_removes_everything(migrated_app):
    """Does downgrading to base leave no table but Alembic's own?"""
    downgrade(directory=MIGRATIONS, revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}


def test_upgrade_fills_the_at_risk_summary_from_the_purchases(migrated_app):
    """Does the migration adding members' at-risk summary fill it from the purchases already there
    (qualifying ones only), as loyalty.reports.at_risk.refresh would?"""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import insert

    from loyalty.models import Member, Purchase
    from loyalty.reports.sql import to_epoch_us

    downgrade(directory=MIGRATIONS, revision="e5c0b2d94f17")
    t0, us, day = datetime(2026, 1, 1, tzinfo=timezone.utc), timedelta(microseconds=1), timedelta(days=1)
    bought = {"m1": [(t0, 0), (t0 + 10 * day, 0), (t0 + 30 * day + us, 0), (t0 + 40 * day, 500)],
              "m2": [(t0 + 5 * day + 7 * us, 0)], "m3": [(t0, 500)], "m4": []}
    with db.engine.begin() as connection:
        for member_id in bought:
            connection.execute(text(
                "INSERT INTO members (id, external_id, member_code, metadata, status, enrolled_at, updated_at, "
                "points_balance, points_pending, tier_config_version) "
                f"VALUES ('{member_id}', 'e-{member_id}', 'C-{member_id}', '{{}}', 'active', '2026-01-01', "
                "'2026-01-01', 0, 0, 0)"))
        connection.execute(insert(Purchase.__table__), [
            {"id": f"p-{member_id}-{n}", "member_id": member_id, "order_id": f"o-{member_id}-{n}", "source": "api",
             "amount": 500, "currency": "usd", "refunded_amount": refunded, "disputed_amount": 0,
             "occurred_at": moment, "created_at": moment, "earn_rate": 1, "tier_multiplier": 1,
             "campaign_multiplier": 1, "points_earned": 5, "qualifying_points": 5, "pending_points": 0,
             "fingerprint": "f"}
            for member_id, moments in bought.items() for n, (moment, refunded) in enumerate(moments)])
    upgrade(directory=MIGRATIONS)
    with db.engine.connect() as connection:
        found = {row.id: tuple(row[1:]) for row in connection.execute(select(
            Member.id, Member.last_qualifying_at, Member.twice_median_gap_us, Member.at_risk_from_us,
            Member.at_risk_stale))}
    m1_last, m2_last = t0 + 30 * day + us, t0 + 5 * day + 7 * us
    twice = (30 * day + us) // us  # gaps 10 days and 20 days + 1 µs: their sum
    assert found == {
        "m1": (m1_last, twice, to_epoch_us(m1_last) + twice + 1, False),
        "m2": (m2_last, None, to_epoch_us(m2_last) + 90 * 86_400_000_000 + 1, False),
        "m3": (None, None, None, False),
        "m4": (None, None, None, False),
    }
