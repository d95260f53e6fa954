"""Rules the database keeps, whoever writes: the ledger is append-only, and any change to the
program, the tiers or the campaigns gives the program a new settings revision."""
from sqlalchemy import DDL, event

SQLITE_GUARD = [
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
       BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    """CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
       BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
]
POSTGRES_GUARD = [
    """CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
       FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()""",
]


def install_ledger_guard(table):
    for dialect, statements in (("sqlite", SQLITE_GUARD), ("postgresql", POSTGRES_GUARD)):
        for statement in statements:
            event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))


# Every worker keeps the settings rows it read under the revision it read them at
# (loyalty.settings): a change made by any writer must show as a new revision.
SQLITE_NEW_REVISION = "UPDATE program SET settings_revision = lower(hex(randomblob(16))) WHERE id = 1"
SQLITE_SETTINGS = [
    # Only when the UPDATE did not set a new revision itself (so the trigger's own UPDATE stops).
    f"""CREATE TRIGGER IF NOT EXISTS program_settings_revision AFTER UPDATE ON program
        WHEN NEW.settings_revision IS OLD.settings_revision BEGIN {SQLITE_NEW_REVISION}; END""",
    *(f"""CREATE TRIGGER IF NOT EXISTS {table}_settings_revision_{event} AFTER {event.upper()} ON {table}
          BEGIN {SQLITE_NEW_REVISION}; END"""
      for table in ("tiers", "campaigns") for event in ("insert", "update", "delete")),
]
POSTGRES_SETTINGS = [
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
]


def install_settings_revision(metadata):
    """Once create_all has made every table (the tiers' and campaigns' triggers name program)."""
    for dialect, statements in (("sqlite", SQLITE_SETTINGS), ("postgresql", POSTGRES_SETTINGS)):
        for statement in statements:
            event.listen(metadata, "after_create", DDL(statement).execute_if(dialect=dialect))


# The outbox's fan-out (models/webhooks.py): the statement that records an event also writes one
# delivery for each active endpoint subscribed to its type now, so an event costs its change one
# statement and is never committed without its deliveries. The delivery's id joins the event's
# and the endpoint's (one delivery per pair, ordered by the event's time).
FAN_OUT_SELECT = """
    SELECT 'whd_' || substr(NEW.id, 5) || substr(e.id, 4), NEW.id, NEW.type, e.id, 'pending', 0, 0,
           NEW.created_at, NEW.created_at
    FROM webhook_endpoints e
    WHERE e.active AND e.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM webhook_subscriptions s
                  WHERE s.endpoint_id = e.id AND s.event_type IN (NEW.type, '*'))"""
FAN_OUT_INSERT = ("INSERT INTO webhook_deliveries (id, event_id, event_type, endpoint_id, status, attempts, "
                  "round_start, next_attempt_at, created_at)" + FAN_OUT_SELECT)
SQLITE_FAN_OUT = [
    f"""CREATE TRIGGER IF NOT EXISTS webhook_events_fan_out AFTER INSERT ON webhook_events
        BEGIN {FAN_OUT_INSERT}; END""",
]
POSTGRES_FAN_OUT = [
    f"""CREATE OR REPLACE FUNCTION webhook_events_fan_out() RETURNS trigger AS $$
        BEGIN {FAN_OUT_INSERT}; RETURN NULL; END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER webhook_events_fan_out AFTER INSERT ON webhook_events
       FOR EACH ROW EXECUTE FUNCTION webhook_events_fan_out()""",
]
FAN_OUT = {"sqlite": SQLITE_FAN_OUT, "postgresql": POSTGRES_FAN_OUT}


def install_webhook_fan_out(metadata):
    """Once create_all has made every table (the trigger on events writes deliveries)."""
    for dialect, statements in FAN_OUT.items():
        for statement in statements:
            event.listen(metadata, "after_create", DDL(statement).execute_if(dialect=dialect))
