"""outbound webhooks: endpoints, their subscriptions, the event outbox, deliveries, attempts,
member notices, program.expiring_notice_days, and the trigger that fans an event out to deliveries

The trigger's SQL is the same as loyalty/models/triggers.py (FAN_OUT), copied so that this
revision does not change when the application does.

Revision ID: b7d41c9e5a30
Revises: b7d41e09c3f2
Create Date: 2026-12-04 16:08:30.758722

"""
from alembic import op
import sqlalchemy as sa

import loyalty.models.types


# revision identifiers, used by Alembic.
revision = 'b7d41c9e5a30'
down_revision = 'b7d41e09c3f2'
branch_labels = None
depends_on = None

FAN_OUT_INSERT = """INSERT INTO webhook_deliveries (id, event_id, event_type, endpoint_id, status, attempts,
        round_start, next_attempt_at, created_at)
    SELECT 'whd_' || substr(NEW.id, 5) || substr(e.id, 4), NEW.id, NEW.type, e.id, 'pending', 0, 0,
           NEW.created_at, NEW.created_at
    FROM webhook_endpoints e
    WHERE e.active AND e.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM webhook_subscriptions s
                  WHERE s.endpoint_id = e.id AND s.event_type IN (NEW.type, '*'))"""
FAN_OUT = {
    "sqlite": [f"""CREATE TRIGGER IF NOT EXISTS webhook_events_fan_out AFTER INSERT ON webhook_events
                   BEGIN {FAN_OUT_INSERT}; END"""],
    "postgresql": [
        f"""CREATE OR REPLACE FUNCTION webhook_events_fan_out() RETURNS trigger AS $$
            BEGIN {FAN_OUT_INSERT}; RETURN NULL; END $$ LANGUAGE plpgsql""",
        """CREATE OR REPLACE TRIGGER webhook_events_fan_out AFTER INSERT ON webhook_events
           FOR EACH ROW EXECUTE FUNCTION webhook_events_fan_out()""",
    ],
}
DROP_FAN_OUT = {
    "sqlite": ["DROP TRIGGER IF EXISTS webhook_events_fan_out"],
    "postgresql": ["DROP TRIGGER IF EXISTS webhook_events_fan_out ON webhook_events",
                   "DROP FUNCTION IF EXISTS webhook_events_fan_out()"],
}


def upgrade():
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('previous_secret_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('previous_secret_expires_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_table('webhook_events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('created_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events'))
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_created_at', ['created_at'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('round_start', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f('ck_webhook_deliveries_status')),
    sa.CheckConstraint('attempts >= 0 AND round_start >= 0', name=op.f('ck_webhook_deliveries_attempt_counts')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints')),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], name=op.f('fk_webhook_deliveries_event_id_webhook_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('event_id', 'endpoint_id', name=op.f('uq_webhook_deliveries_event_id_endpoint_id'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_endpoint_id', ['endpoint_id', 'id'], unique=False)

    op.create_table('webhook_subscriptions',
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_subscriptions_endpoint_id_webhook_endpoints')),
    sa.PrimaryKeyConstraint('endpoint_id', 'event_type', name=op.f('pk_webhook_subscriptions'))
    )
    op.create_table('member_notices',
    sa.Column('member_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('created_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_notices_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', 'kind', 'key', name=op.f('pk_member_notices'))
    )
    op.create_table('webhook_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.String(length=80), nullable=False),
    sa.Column('attempted_at', loyalty.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts'))
    )
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_attempts_delivery_id', ['delivery_id', 'id'], unique=False)

    # Not in batch mode: rebuilding the program table on SQLite would drop its triggers.
    op.add_column('program', sa.Column('expiring_notice_days', sa.Integer(), nullable=False, server_default='14'))
    for statement in FAN_OUT.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP_FAN_OUT.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_column('program', 'expiring_notice_days')

    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_attempts_delivery_id')

    op.drop_table('webhook_attempts')
    op.drop_table('member_notices')
    op.drop_table('webhook_subscriptions')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_endpoint_id')
        batch_op.drop_index('ix_webhook_deliveries_due')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_created_at')

    op.drop_table('webhook_events')
    op.drop_table('webhook_endpoints')
