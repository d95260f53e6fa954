"""`loyalty import members FILE` and `loyalty import purchases FILE`: another system's history.

The file (CSV with a header line, or JSON Lines; `-` for standard input) is streamed: rows are
read, checked with the API's own schemas and handed to loyalty.imports a batch at a time, each
batch one transaction, committed (rolled back with --dry-run) by the command; on PostgreSQL a few
batches are written at once on worker threads (_BatchWriter) while the next is read. At most
that many batches are held at a time, so memory stays flat whatever the file's size. A bad row
is reported on standard error with its line number and reason; the others load. The last line on
standard output is the summary.
"""
import contextlib
import contextvars
import csv
import gc
import itertools
import json
import os
import re
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import AppGroup
import marshmallow as ma
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from loyalty import bulk, imports
from loyalty.api.fields import EARLIEST, LATEST, Timestamp
from loyalty.api.members import MemberInSchema
from loyalty.api.purchases import PurchaseInSchema
from loyalty.currency import is_code
from loyalty.extensions import db

# Gathered into `flask loyalty ...` by cli/__init__.py.
commands = AppGroup("imports")

# A member's rows are kept in one batch, up to this many batches' worth (then the batch is cut).
MEMBER_ROWS_LIMIT = 50


class MemberImportSchema(MemberInSchema):
    enrolled_at = Timestamp(metadata={"description": "When the member joined the other system (default now)"})


class PurchaseImportSchema(PurchaseInSchema):
    occurred_at = Timestamp(required=True)
    source = ma.fields.String(load_default="api", validate=ma.validate.OneOf(["api", "pos"]))


ISO_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)\Z")
PURCHASE_KEYS = {"external_id", "member_id", "order_id", "amount", "currency", "occurred_at", "source"}


def _plain_purchase(fields: dict) -> dict | None:
    """A purchase row in its usual plain form, loaded without the schema's machinery (a million
    rows spend minutes in it); None for anything else, which the schema then loads or explains.
    Accepts only what PurchaseImportSchema accepts, and gives what it would."""
    if not fields.keys() <= PURCHASE_KEYS or ("member_id" in fields) == ("external_id" in fields):
        return None
    owner, order_id, amount = fields.get("member_id") or fields.get("external_id"), fields.get("order_id"), fields.get("amount")
    currency, occurred_at, source = fields.get("currency"), fields.get("occurred_at"), fields.get("source", "api")
    if not (isinstance(owner, str) and owner and isinstance(order_id, str) and 1 <= len(order_id) <= 255
            and type(amount) is int and 1 <= amount <= 10**15 and isinstance(currency, str) and is_code(currency)
            and isinstance(occurred_at, str) and ISO_STAMP.match(occurred_at) and source in ("api", "pos")):
        return None
    moment = datetime.fromisoformat(occurred_at).astimezone(timezone.utc)
    if not EARLIEST <= moment < LATEST:
        return None
    owner_key = "member_id" if "member_id" in fields else "external_id"
    return {owner_key: owner, "order_id": order_id, "amount": amount, "currency": currency.lower(),
            "occurred_at": moment, "source": source}


KINDS = {
    # kind: (schema, batch writer, what names a row's member (rows of one member stay together),
    #        a quicker loader for rows of the usual form, or None)
    "members": (MemberImportSchema(), imports.add_members, lambda fields: fields["external_id"], None),
    "purchases": (PurchaseImportSchema(), imports.add_purchases,
                  lambda fields: fields.get("member_id") or fields.get("external_id"), _plain_purchase),
}
# The planner's statistics of the tables written are refreshed once this many rows were added,
# then each time that doubles (the look-ups of later batches need them: bulk.refresh_statistics).
STATISTICS_FIRST = 5_000
INTEGER_FIELDS = {"amount"}  # CSV cells are text: these are read as integers
JSON_FIELDS = {"metadata"}  # and these as JSON


@commands.group("import")
def import_group():
    """Load another system's members and purchase history (CSV with a header, or JSON Lines)."""


def _import_options(command):
    command = click.argument("file", type=click.File("r", encoding="utf-8-sig"))(command)
    command = click.option("--dry-run", is_flag=True, help="Check every row and write nothing.")(command)
    command = click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 8),
                           help="Batches written at once, each in its own transaction (PostgreSQL; "
                                "SQLite writes one at a time).")(command)
    return click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 100_000),
                        help="Rows written (and committed) together.")(command)


@import_group.command("members")
@_import_options
def import_members(file, dry_run, batch_size, workers):
    """Enrol members (external_id, email, name, phone, birthday, stripe_customer_id, metadata,
    enrolled_at); members already enrolled (by external_id) are left as they are."""
    _run("members", file, dry_run, batch_size, workers)


@import_group.command("purchases")
@_import_options
def import_purchases(file, dry_run, batch_size, workers):
    """Record purchases (external_id or member_id, order_id, amount, currency, occurred_at,
    source api|pos) with their points and tier upgrades; orders already recorded are skipped."""
    _run("purchases", file, dry_run, batch_size, workers)


class Counts:
    def __init__(self):
        self.read = self.added = self.already = self.refused = 0

    def note_refused(self, line: int, reason: str) -> None:
        self.refused += 1
        click.echo(f"line {line}: {reason}", err=True)


def _run(kind: str, file, dry_run: bool, batch_size: int, workers: int = 1) -> None:
    schema, write, member_of, quick = KINDS[kind]
    counts, started = Counts(), time.monotonic()
    lines = _CountingLines(file)
    rows = _checked(_records(lines, schema), schema, quick, counts)
    analyzed_at = STATISTICS_FIRST

    def note(outcome: imports.Outcome) -> None:
        nonlocal analyzed_at
        if not dry_run and counts.added + outcome.added >= analyzed_at:  # each time the rows added double
            bulk.refresh_statistics(imports.TABLES_WRITTEN)
            db.session.commit()
            analyzed_at *= 2
        counts.added += outcome.added
        counts.already += outcome.already
        for line, reason in sorted(outcome.refused):
            counts.note_refused(line, reason)

    with click.progressbar(length=_size(file) or 1, label=f"Importing {kind}", file=sys.stderr) as bar, \
            _BatchWriter(write, dry_run, workers) as writer, _fewer_collections():
        for batch in _batches(rows, batch_size, member_of):
            for outcome in writer.write(batch):
                note(outcome)
            bar.update(lines.consumed - bar.pos)
        for outcome in writer.finish():
            note(outcome)
        bar.update(max(bar.length - bar.pos, 0))
    seconds = time.monotonic() - started
    verb = "would be added (dry run: nothing written)" if dry_run else "added"
    click.echo(f"{kind}: {counts.read} rows read, {counts.added} {verb}, {counts.already} already there, "
               f"{counts.refused} refused; {seconds:.1f} s ({counts.read / max(seconds, 1e-9):.0f} rows/s)")
    if counts.refused:
        sys.exit(1)


@contextlib.contextmanager
def _fewer_collections():
    """The cyclic garbage collector, run less often: a batch makes hundreds of thousands of
    short-lived dicts and tuples (none in a cycle), and each collection of the oldest generation
    walks every object the process holds (a sixth of an import's CPU went there). What the process
    held before the import is set aside (gc.freeze) and the first generation collected each
    50,000 allocations instead of 700; both are put back afterwards."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


# PostgreSQL's answers to two transactions waiting on each other: the batch is written again.
RETRIED_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure


class _BatchWriter:
    """Writes batches, each in one transaction, committed (or rolled back for a dry run) before
    its outcome is handed back; outcomes come back in the batches' order.

    With more than one worker (PostgreSQL), batches are written on threads, each in its own
    application context, so with its own session and connection: while PostgreSQL takes one
    batch, the next is read, looked up and priced. Each batch is its own transaction, as if
    several importers ran at once, which the domain already allows (members are locked before
    their rows are written, and an order recorded by another transaction meanwhile is told by the
    unique index). A batch that two transactions made wait on each other is written again, alone.
    SQLite has one writer, and a session bound to one connection (the tests') has no second
    connection to give: both write one batch at a time, on the command's session.
    """

    def __init__(self, write, dry_run: bool, workers: int):
        self.write_batch, self.dry_run = write, dry_run
        bind = db.session.get_bind()
        self.workers = workers if isinstance(bind, Engine) and bind.dialect.name == "postgresql" else 1
        self.app = current_app._get_current_object()
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="import") if self.workers > 1 else None
        self.in_flight: deque = deque()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return False

    def write(self, batch: list) -> list:
        """Write a batch (or start writing it); returns the outcomes of the batches now done, in order."""
        if self.pool is None:
            return [self._write_here(batch)]
        context = contextvars.copy_context()  # the clock, as the command sees it
        self.in_flight.append((batch, self.pool.submit(context.run, self._write_apart, batch)))
        done = []
        while self.in_flight and (len(self.in_flight) > self.workers or self.in_flight[0][1].done()):
            done.append(self._outcome(*self.in_flight.popleft()))
        return done

    def finish(self) -> list:
        """The outcomes of the batches still being written, in order."""
        done = []
        while self.in_flight:
            done.append(self._outcome(*self.in_flight.popleft()))
        return done

    def _write_here(self, batch: list) -> imports.Outcome:
        try:
            outcome = self.write_batch(batch)
        except BaseException:
            db.session.rollback()
            raise
        if self.dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        return outcome

    def _write_apart(self, batch: list) -> imports.Outcome:
        with self.app.app_context():  # a session of its own, removed when the context ends
            return self._write_here(batch)

    def _outcome(self, batch: list, future) -> imports.Outcome:
        try:
            return future.result()
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) not in RETRIED_SQLSTATES:
                raise
        for _, other in self.in_flight:  # the others first, then this batch alone
            other.exception()
        return self._write_here(batch)


def _size(file) -> int | None:
    try:
        return os.fstat(file.fileno()).st_size or None
    except (OSError, ValueError, AttributeError):  # standard input from a pipe, or a test's stream
        return None


class _CountingLines:
    """The file's lines, counting the characters read (for the progress bar)."""

    def __init__(self, file):
        self.file, self.consumed = file, 0

    def __iter__(self):
        for line in self.file:
            self.consumed += len(line)
            yield line


def _records(lines, schema):
    """(line number, fields or None, problem or None) for each record, CSV or JSON Lines alike."""
    lines = iter(lines)
    first = next(lines, "")
    lines = itertools.chain([first], lines)
    if first.lstrip().startswith("{"):
        return _json_lines(lines)
    return _csv_rows(lines, schema)


def _json_lines(lines):
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            yield number, None, f"validation_error: not valid JSON ({error})"
            continue
        if not isinstance(value, dict):
            yield number, None, "validation_error: a line must be one JSON object"
            continue
        yield number, value, None


def _csv_rows(lines, schema):
    reader = csv.reader(lines)
    header = [name.strip() for name in next(reader, [])]
    unknown = sorted(set(header) - set(schema.load_fields))
    if unknown:
        raise click.UsageError(f"Unknown column(s) {', '.join(unknown)}; the columns are "
                               f"{', '.join(schema.load_fields)}.")
    last = reader.line_num
    for cells in reader:
        start, last = last + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield start, None, f"validation_error: {len(cells)} cells where the header names {len(header)}"
            continue
        fields, problem = _typed({name: cell for name, cell in zip(header, cells) if cell != ""})
        yield start, fields, problem


def _typed(fields: dict) -> tuple[dict, str | None]:
    """CSV text as the JSON types the schemas expect: integers and JSON cells parsed."""
    for name in INTEGER_FIELDS & fields.keys():
        text = fields[name].strip()
        if text.lstrip("-").isdigit():
            fields[name] = int(text)
    for name in JSON_FIELDS & fields.keys():
        try:
            fields[name] = json.loads(fields[name])
        except ValueError:
            return fields, f"validation_error: {name}: not valid JSON"
    return fields, None


def _checked(records, schema, quick, counts: Counts):
    """(line, loaded fields) of the rows the schema accepts; the others are reported."""
    for line, fields, problem in records:
        counts.read += 1
        if problem is None:
            loaded = quick(fields) if quick is not None else None
            if loaded is not None:
                yield line, loaded
                continue
            try:
                yield line, schema.load(fields)
                continue
            except ma.ValidationError as error:
                problem = "validation_error: " + _messages(error.normalized_messages())
        counts.note_refused(line, problem)


def _messages(messages, prefix="") -> str:
    if isinstance(messages, dict):
        return "; ".join(_messages(value, f"{prefix}{key}: " if key != "_schema" else prefix)
                         for key, value in messages.items())
    if isinstance(messages, list):
        return " ".join(_messages(value, prefix) if not isinstance(value, str) else prefix + value
                        for value in messages)
    return prefix + str(messages)


def _batches(rows, size: int, member_of):
    """Lists of about `size` rows, a member's consecutive rows never cut apart (up to a limit)."""
    batch = []
    for line, fields in rows:
        if len(batch) >= size and (member_of(fields) != member_of(batch[-1][1])
                                   or len(batch) >= size * MEMBER_ROWS_LIMIT):
            yield batch
            batch = []
        batch.append((line, fields))
    if batch:
        yield batch
