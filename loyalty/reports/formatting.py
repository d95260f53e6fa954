"""Report rows as the contract shows them: JSON values, CSV and a readable table.

JSON values first (decimal strings keep all their places, timestamps are RFC 3339 `Z`); CSV and
the table are drawn from those, so all three formats say the same thing.
"""
import csv
import io
import re
from datetime import datetime, timezone
from decimal import Decimal

NUMBER = re.compile(r"-?\d+(\.\d+)?")


def json_value(value):
    """A report value as JSON: Decimal -> "0.5000", datetime -> "2026-03-01T10:00:00Z"."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_value(item) for item in value]
    return value


def flatten(row: dict, prefix: str = "") -> dict:
    """Nested objects become parent_child columns: {"liability": {"amount": 5}} -> liability_amount."""
    flat = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}_"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(rows: list[dict], columns: list[str], line_end: str = "\r\n") -> str:
    """A header of the JSON field names, then one line per row; null is an empty cell.

    Lines end in CRLF as RFC 4180 says; the CLI asks for plain newlines, friendlier to pipes.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(columns)
    for row in rows:
        flat = flatten(json_value(row))
        writer.writerow([_cell(flat.get(column)) for column in columns])
    return out.getvalue()


def to_table(rows: list[dict], columns: list[str]) -> str:
    """Aligned columns for a terminal: numbers to the right, text to the left."""
    flat_rows = [flatten(json_value(row)) for row in rows]
    cells = [[_cell(flat.get(column)) for column in columns] for flat in flat_rows]
    widths = [max([len(column)] + [len(line[index]) for line in cells]) for index, column in enumerate(columns)]
    numeric = [bool(flat_rows) and all(_is_number(flat.get(column)) for flat in flat_rows) for column in columns]

    def line(values, header=False):
        return "  ".join(value.rjust(width) if numeric[index] and not header else value.ljust(width)
                         for index, (value, width) in enumerate(zip(values, widths))).rstrip()

    lines = [line(columns, header=True), "  ".join("-" * width for width in widths)]
    lines += [line(values) for values in cells]
    if not rows:
        lines.append("(no rows)")
    return "\n".join(lines)


def _is_number(value) -> bool:
    """Ints and decimal strings (nulls do not decide either way)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return True
    return isinstance(value, str) and NUMBER.fullmatch(value) is not None
