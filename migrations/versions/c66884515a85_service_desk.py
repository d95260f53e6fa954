"""service desk: feedback, cases (replies, resolve/reopen history), notes; goodwill points

New tables feedback, cases, case_replies, case_events and notes. The ledger accepts a new entry
type, `goodwill` (a gift of points when a case is resolved), and the program gets
`goodwill_limit` (default 1000), the most one resolution may give.

SQLite cannot change a CHECK constraint in place: the ledger table is rebuilt by batch mode
(nothing references it yet; case_events is created afterwards), which drops its append-only
triggers, so they are created again. The program column is added with plain ADD COLUMN on both
databases (a batch rebuild of `program` would drop its settings-revision trigger).

Revision ID: c66884515a85
Revises: 8f2a61d4c0b7
Create Date: 2026-12-04 16:05:35

"""
from alembic import op
import sqlalchemy as sa

import loyalty.models.types


revision = 'c66884515a85'
down_revision = '8f2a61d4c0b7'
branch_labels = None
depends_on = None

OLD_TYPES = "type IN ('earn', 'bonus', 'redeem', 'return', 'reversal', 'adjustment', 'expiry')"
NEW_TYPES = "type IN ('earn', 'bonus', 'redeem', 'return', 'reversal', 'adjustment', 'expiry', 'goodwill')"
SQLITE_LEDGER_GUARD = [
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
       BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    """CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
       BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
]


def _ledger_types(condition: str) -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_type'), type_='check')
        batch_op.create_check_constraint('type', condition)
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_LEDGER_GUARD:
            op.execute(statement)


def _add_goodwill_limit() -> None:
    # NOT NULL with a server default fills the existing row. PostgreSQL then drops the default (the
    # model gives the value itself); SQLite keeps it, and takes the CHECK in the column definition.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE program ADD COLUMN goodwill_limit BIGINT NOT NULL DEFAULT 1000 "
                   "CONSTRAINT ck_program_goodwill_limit CHECK (goodwill_limit >= 0)")
        return
    op.add_column('program', sa.Column('goodwill_limit', sa.BigInteger(), nullable=False, server_default='1000'))
    op.alter_column('program', 'goodwill_limit', server_default=None)
    op.create_check_constraint('goodwill_limit', 'program', 'goodwill_limit >= 0')


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # Nothing may be left behind when the ledger table is dropped and rebuilt.
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_delete")
    _ledger_types(NEW_TYPES)
    _add_goodwill_limit()
    op.create_table('notes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('member_id', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('author_type', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("author_type IN ('staff', 'api_key')", name=op.f('ck_notes_author_type')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_notes_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notes'))
    )
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index('ix_notes_member_created', ['member_id', 'created_at'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('member_id', sa.String(length=40), nullable=False),
    sa.Column('purchase_id', sa.String(length=40), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopened_count', sa.Integer(), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('goodwill_points', sa.BigInteger(), nullable=False),
    sa.Column('assignee_id', sa.String(length=40), nullable=True),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'open' AND resolved_at IS NULL) OR (status = 'resolved' AND resolved_at IS NOT NULL)", name=op.f('ck_cases_resolved_when_resolved')),
    sa.CheckConstraint("actor_type IN ('staff', 'api_key', 'customer')", name=op.f('ck_cases_actor_type')),
    sa.CheckConstraint("category IN ('product', 'service', 'delivery', 'billing', 'points', 'other')", name=op.f('ck_cases_category')),
    sa.CheckConstraint("channel IN ('online', 'store', 'phone', 'email', 'other')", name=op.f('ck_cases_channel')),
    sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f('ck_cases_status')),
    sa.CheckConstraint('goodwill_points >= 0 AND reopened_count >= 0', name=op.f('ck_cases_counts_not_negative')),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff.id'], name=op.f('fk_cases_assignee_id_staff')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_cases_member_id_members')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_cases_purchase_id_purchases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_assignee_id', ['assignee_id'], unique=False)
        batch_op.create_index('ix_cases_member_opened', ['member_id', 'opened_at'], unique=False)
        batch_op.create_index('ix_cases_opened_at', ['opened_at'], unique=False)
        batch_op.create_index('ix_cases_status_opened', ['status', 'opened_at'], unique=False)

    op.create_table('feedback',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('member_id', sa.String(length=40), nullable=False),
    sa.Column('purchase_id', sa.String(length=40), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('band', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.CheckConstraint("(kind = 'csat' AND score BETWEEN 1 AND 5) OR (kind = 'nps' AND score BETWEEN 0 AND 10)", name=op.f('ck_feedback_score_range')),
    sa.CheckConstraint("actor_type IN ('staff', 'api_key', 'customer')", name=op.f('ck_feedback_actor_type')),
    sa.CheckConstraint("band = CASE WHEN kind = 'csat' THEN (CASE WHEN score <= 2 THEN 'unhappy' WHEN score = 3 THEN 'neutral' ELSE 'happy' END) ELSE (CASE WHEN score <= 6 THEN 'detractor' WHEN score <= 8 THEN 'passive' ELSE 'promoter' END) END", name=op.f('ck_feedback_band')),
    sa.CheckConstraint("channel IN ('online', 'store', 'phone', 'email', 'other')", name=op.f('ck_feedback_channel')),
    sa.CheckConstraint("kind IN ('csat', 'nps')", name=op.f('ck_feedback_kind')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_feedback_member_id_members')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_feedback_purchase_id_purchases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('purchase_id', 'kind', name=op.f('uq_feedback_purchase_id_kind'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_feedback_member_created', ['member_id', 'created_at'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=40), nullable=False),
    sa.Column('member_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('goodwill_points', sa.BigInteger(), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('ledger_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint("type IN ('resolved', 'reopened')", name=op.f('ck_case_events_type')),
    sa.CheckConstraint('goodwill_points >= 0', name=op.f('ck_case_events_goodwill_not_negative')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], name=op.f('fk_case_events_ledger_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_case_events_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events')),
    sa.UniqueConstraint('ledger_entry_id', name=op.f('uq_case_events_ledger_entry_id'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index('ix_case_events_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_case_events_member_at', ['member_id', 'at'], unique=False)

    op.create_table('case_replies',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('case_id', sa.String(length=40), nullable=False),
    sa.Column('member_id', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author_type', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("author_type IN ('staff', 'api_key', 'customer')", name=op.f('ck_case_replies_author_type')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_replies_case_id_cases')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_case_replies_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_replies'))
    )
    with op.batch_alter_table('case_replies', schema=None) as batch_op:
        batch_op.create_index('ix_case_replies_case_created', ['case_id', 'created_at'], unique=False)
        batch_op.create_index('ix_case_replies_member_created', ['member_id', 'created_at'], unique=False)



def downgrade():

    with op.batch_alter_table('case_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_case_replies_member_created')
        batch_op.drop_index('ix_case_replies_case_created')

    op.drop_table('case_replies')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index('ix_case_events_member_at')
        batch_op.drop_index('ix_case_events_case_id')

    op.drop_table('case_events')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_member_created')
        batch_op.drop_index('ix_feedback_created_at')

    op.drop_table('feedback')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_opened')
        batch_op.drop_index('ix_cases_opened_at')
        batch_op.drop_index('ix_cases_member_opened')
        batch_op.drop_index('ix_cases_assignee_id')

    op.drop_table('cases')
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index('ix_notes_member_created')

    op.drop_table('notes')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f('ck_program_goodwill_limit'), 'program', type_='check')
        op.drop_column('program', 'goodwill_limit')
    else:  # SQLite 3.35+ drops a plain column in place (no rebuild of program, which keeps its trigger)
        op.execute("ALTER TABLE program DROP COLUMN goodwill_limit")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_delete")
    _ledger_types(OLD_TYPES)
