"""`flask db upgrade` on an empty database gives exactly the models' schema, ledger guard included."""
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from loyalty import create_app
from loyalty.extensions import db
from tests.conftest import TEST_DATABASE_URL
from tests.live import fresh_database

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


@pytest.fixture
def migrated_app():
    with fresh_database(TEST_DATABASE_URL) as url:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade(directory=MIGRATIONS)
            yield app
            db.engine.dispose()


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


def test_downgrade_removes_everything(migrated_app):
    """Does downgrading to base leave no table but Alembic's own?"""
    downgrade(directory=MIGRATIONS, revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
