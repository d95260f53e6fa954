"""Report rows as the contract shows them: JSON values, CSV and a readable table.

JSON values first (decimal strings keep all their places, timestamps are RFC 3339 `Z`); CSV and
the table are drawn from those, so all three formats say the same thing.
"""
import csv
import io
import re
from datetime import datetime, timezone
from decimal import Decimal

from loyalty.currency import exponent

NUMBER = re.compile(r"-?\d+(\.\d+)?")
# A spreadsheet runs a cell starting with one of these as a formula (API.md, Reports: CSV).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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


def spreadsheet_safe(cell: str) -> str:
    """A text cell a spreadsheet shows as text: one that could start a formula gets a leading `'`.

    Numbers ("-12", "-0.5000") are left as they are: a spreadsheet reads them as the numbers they are.
    """
    if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def to_csv(rows: list[dict], columns: list[str], line_end: str = "\r\n") -> str:
    """A header of the JSON field names, then one line per row; null is an empty cell.

    Lines end in CRLF as RFC 4180 says; the CLI asks for plain newlines, friendlier to pipes.
    Text that a spreadsheet would run as a formula is defused (spreadsheet_safe).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(columns)
    for row in rows:
        flat = flatten(json_value(row))
        writer.writerow([spreadsheet_safe(_cell(flat.get(column))) for column in columns])
    return out.getvalue()


def is_money(value) -> bool:
    return isinstance(value, dict) and value.keys() == {"amount", "currency"}


def major_units(amount: int, currency: str) -> str:
    """An amount in minor units, for a person: (177151, "usd") -> "1,771.51 usd"; jpy has no decimals."""
    places = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**places)
    return f"{sign}{whole:,}{f'.{fraction:0{places}d}' if places else ''} {currency}"


def _money_as_text(row: dict) -> dict:
    return {key: major_units(value["amount"], value["currency"]) if is_money(value)
            else _money_as_text(value) if isinstance(value, dict) else value
            for key, value in row.items()}


def table_columns(columns: list[str], rows: list[dict]) -> list[str]:
    """The CSV columns, with each money object's `X_amount`, `X_currency` pair shown as one column `X`."""
    money = {key for row in rows for key, value in row.items() if is_money(value)}
    shown = []
    for column in columns:
        name = column.rsplit("_", 1)[0]
        if name in money:
            if name not in shown:
                shown.append(name)
        else:
            shown.append(column)
    return shown


def to_table(rows: list[dict], columns: list[str]) -> str:
    """Aligned columns for a terminal: numbers to the right, text to the left; money in major units
    with its currency (`1,771.51 usd`), in one column."""
    columns = table_columns(columns, rows)
    flat_rows = [flatten(_money_as_text(json_value(row))) for row in rows]
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
