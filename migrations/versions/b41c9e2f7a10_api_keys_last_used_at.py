"""api_keys.last_used_at: when a key was last used, for `loyalty list-api-keys`

Revision ID: b41c9e2f7a10
Revises: c66884515a85
Create Date: 2026-12-04 16:30:00

"""
from alembic import op
import sqlalchemy as sa

import loyalty.models.types


revision = 'b41c9e2f7a10'
down_revision = 'c66884515a85'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_used_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
