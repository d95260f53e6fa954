"""program.settings_revision, new with every change to the program, tiers or campaigns

Each process keeps the settings rows it read, labelled with this revision
(loyalty/settings.py). Triggers give the program a new revision with any change to those
tables, whoever makes it (the same SQL as loyalty/models/triggers.py).

Revision ID: 3c5d0b7e9a21
Revises: e74950a1f179
Create Date: 2026-11-30 10:15:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '3c5d0b7e9a21'
down_revision = 'e74950a1f179'
branch_labels = None
depends_on = None

SQLITE_NEW_REVISION = "UPDATE program SET settings_revision = lower(hex(randomblob(16))) WHERE id = 1"
SETTINGS_REVISION = {
    "sqlite": [
        f"""CREATE TRIGGER IF NOT EXISTS program_settings_revision AFTER UPDATE ON program
            WHEN NEW.settings_revision IS OLD.settings_revision BEGIN {SQLITE_NEW_REVISION}; END""",
        *(f"""CREATE TRIGGER IF NOT EXISTS {table}_settings_revision_{event} AFTER {event.upper()} ON {table}
              BEGIN {SQLITE_NEW_REVISION}; END"""
          for table in ("tiers", "campaigns") for event in ("insert", "update", "delete")),
    ],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION program_new_settings_revision() RETURNS trigger AS $$
           BEGIN NEW.settings_revision := md5(random()::text || clock_timestamp()::text); RETURN NEW; END
           $$ LANGUAGE plpgsql""",
        """CREATE OR REPLACE TRIGGER program_settings_revision BEFORE UPDATE ON program
           FOR EACH ROW EXECUTE FUNCTION program_new_settings_revision()""",
        """CREATE OR REPLACE FUNCTION settings_changed() RETURNS trigger AS $$
           BEGIN UPDATE program SET settings_revision = md5(random()::text || clock_timestamp()::text)
                 WHERE id = 1; RETURN NULL; END $$ LANGUAGE plpgsql""",
        *(f"""CREATE OR REPLACE TRIGGER {table}_settings_revision AFTER INSERT OR UPDATE OR DELETE ON {table}
              FOR EACH STATEMENT EXECUTE FUNCTION settings_changed()""" for table in ("tiers", "campaigns")),
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS program_settings_revision",
               *(f"DROP TRIGGER IF EXISTS {table}_settings_revision_{event}"
                 for table in ("tiers", "campaigns") for event in ("insert", "update", "delete"))],
    "postgresql": ["DROP TRIGGER IF EXISTS program_settings_revision ON program",
                   "DROP TRIGGER IF EXISTS tiers_settings_revision ON tiers",
                   "DROP TRIGGER IF EXISTS campaigns_settings_revision ON campaigns",
                   "DROP FUNCTION IF EXISTS program_new_settings_revision()",
                   "DROP FUNCTION IF EXISTS settings_changed()"],
}


def upgrade():
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settings_revision', sa.String(length=32), nullable=True))
    # A random first revision, as the application gives a new program row.
    op.execute(sa.text("UPDATE program SET settings_revision = :revision")
               .bindparams(revision=secrets.token_hex(16)))
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.alter_column('settings_revision', existing_type=sa.String(length=32), nullable=False)
    for statement in SETTINGS_REVISION[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade():
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.drop_column('settings_revision')
