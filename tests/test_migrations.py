"""`flask db upgrade` on an empty database gives exactly the models' schema, ledger guard included."""
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade
from sqlalchemy import inspect, text
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
