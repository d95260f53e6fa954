"""program.settings_revision: lets each process keep settings rows between requests

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


def upgrade():
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settings_revision', sa.String(length=32), nullable=True))
    # A random first revision, as the application gives a new program row.
    op.execute(sa.text("UPDATE program SET settings_revision = :revision")
               .bindparams(revision=secrets.token_hex(16)))
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.alter_column('settings_revision', existing_type=sa.String(length=32), nullable=False)


def downgrade():
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.drop_column('settings_revision')
