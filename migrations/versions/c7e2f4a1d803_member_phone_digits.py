"""members: phone_digits (the phone's digits alone), indexed, for the ?phone= look-up

Revision ID: c7e2f4a1d803
Revises: b51d7c3e2a90
Create Date: 2026-12-04 16:40:00

"""
import sqlalchemy as sa
from alembic import op


revision = 'c7e2f4a1d803'
down_revision = 'b51d7c3e2a90'
branch_labels = None
depends_on = None


def _digits(phone):
    digits = "".join(character for character in phone or "" if character.isascii() and character.isdigit())
    return digits or None


def upgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_digits', sa.String(length=50), nullable=True))
        batch_op.create_index(batch_op.f('ix_members_phone_digits'), ['phone_digits'], unique=False)
    members = sa.table('members', sa.column('id', sa.String), sa.column('phone', sa.String),
                       sa.column('phone_digits', sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(members.c.id, members.c.phone).where(members.c.phone.is_not(None))).all()
    for member_id, phone in rows:
        connection.execute(members.update().where(members.c.id == member_id).values(phone_digits=_digits(phone)))


def downgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_phone_digits'))
        batch_op.drop_column('phone_digits')
