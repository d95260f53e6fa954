"""`loyalty import members FILE` and `loyalty import purchases FILE`: another system's history.

The file (CSV with a header line, or JSON Lines; `-` for standard input) is streamed: rows are
read, checked with the API's own schemas and handed to loyalty.imports a batch at a time, each
batch committed (rolled back with --dry-run) before the next is read, so memory stays flat
whatever the file's size. A bad row is reported on standard error with its line number and
reason; the others load. The last line on standard output is the summary.
"""
import csv
import itertools
import json
import os
import re
import sys
import time
from datetime import datetime, timezone

import click
from flask.cli import AppGroup
import marshmallow as ma

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
    return click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000),
                        help="Rows written (and committed) together.")(command)


@import_group.command("members")
@_import_options
def import_members(file, dry_run, batch_size):
    """Enrol members (external_id, email, name, phone, birthday, stripe_customer_id, metadata,
    enrolled_at); members already enrolled (by external_id) are left as they are."""
    _run("members", file, dry_run, batch_size)


@import_group.command("purchases")
@_import_options
def import_purchases(file, dry_run, batch_size):
    """Record purchases (external_id or member_id, order_id, amount, currency, occurred_at,
    source api|pos) with their points and tier upgrades; orders already recorded are skipped."""
    _run("purchases", file, dry_run, batch_size)


class Counts:
    def __init__(self):
        self.read = self.added = self.already = self.refused = 0

    def note_refused(self, line: int, reason: str) -> None:
        self.refused += 1
        click.echo(f"line {line}: {reason}", err=True)


def _run(kind: str, file, dry_run: bool, batch_size: int) -> None:
    schema, write, member_of, quick = KINDS[kind]
    counts, started = Counts(), time.monotonic()
    lines = _CountingLines(file)
    rows = _checked(_records(lines, schema), schema, quick, counts)
    analyzed_at = STATISTICS_FIRST
    with click.progressbar(length=_size(file) or 1, label=f"Importing {kind}", file=sys.stderr) as bar:
        for batch in _batches(rows, batch_size, member_of):
            outcome = write(batch)
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
                if counts.added + outcome.added >= analyzed_at:  # each time the rows added double
                    bulk.refresh_statistics(imports.TABLES_WRITTEN)
                    db.session.commit()
                    analyzed_at *= 2
            counts.added += outcome.added
            counts.already += outcome.already
            for line, reason in sorted(outcome.refused):
                counts.note_refused(line, reason)
            bar.update(lines.consumed - bar.pos)
        bar.update(max(bar.length - bar.pos, 0))
    seconds = time.monotonic() - started
    verb = "would be added (dry run: nothing written)" if dry_run else "added"
    click.echo(f"{kind}: {counts.read} rows read, {counts.added} {verb}, {counts.already} already there, "
               f"{counts.refused} refused; {seconds:.1f} s ({counts.read / max(seconds, 1e-9):.0f} rows/s)")
    if counts.refused:
        sys.exit(1)


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
