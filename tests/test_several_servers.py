"""Running behind PgBouncer in transaction pooling mode (README, Running on several servers):
with DATABASE_PREPARED_STATEMENTS=off psycopg prepares no statement on the server, since the
next transaction may run on another server connection. deploy/check-cluster.sh runs the rest."""
import pytest
from sqlalchemy import select, text

from loyalty import create_app
from loyalty.extensions import db, engine_options
from loyalty.models import Member
from tests.helpers import ON_POSTGRES, TEST_DATABASE_URL


def test_the_setting_turns_psycopgs_prepared_statements_off():
    assert engine_options("postgresql+psycopg://db/loyalty", False)["connect_args"]["prepare_threshold"] is None
    assert "prepare_threshold" not in engine_options("postgresql+psycopg://db/loyalty")["connect_args"]


@pytest.mark.skipif(not ON_POSTGRES, reason="prepared statements are PostgreSQL's")
@pytest.mark.parametrize("prepared", [True, False])
def test_a_server_behind_pgbouncer_leaves_no_prepared_statement_on_its_connection(prepared):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
                      "DATABASE_PREPARED_STATEMENTS": prepared})
    with app.app_context():
        try:
            with db.engine.connect() as connection:
                for _ in range(10):  # psycopg prepares a statement from its fifth run on
                    connection.execute(select(Member.id).where(Member.id == "nobody"))
                left = connection.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
        finally:
            db.engine.dispose()
    assert (left > 0) is prepared
