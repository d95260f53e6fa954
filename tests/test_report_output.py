"""Report output for people and spreadsheets: CSV cells that cannot run as formulas, and CLI
tables that say what they cover and show money as money."""
import csv
import io
from datetime import datetime, timezone

import pytest

from loyalty import clock
from loyalty.extensions import db
from loyalty.models import Program
from loyalty.reports.formatting import major_units, spreadsheet_safe, to_csv, to_table

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"])
def test_a_text_cell_that_could_start_a_formula_gets_a_quote(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["ann@example.com", "-12", "-0.5000", "12", "", "a=b"])
def test_numbers_and_plain_text_are_left_as_they_are(text):
    assert spreadsheet_safe(text) == text


def test_csv_rows_are_defused_but_negative_numbers_stay_numbers():
    rows = [{"email": "=cmd|' /C calc'!A0@evil.example", "adjusted": -5, "name": "@me"}]
    cells = list(csv.reader(io.StringIO(to_csv(rows, ["email", "adjusted", "name"]))))[1]
    assert cells == ["'=cmd|' /C calc'!A0@evil.example", "-5", "'@me"]


def test_an_email_starting_a_formula_comes_out_quoted_in_the_at_risk_csv(client, admin, program, enroll):
    member = enroll(email="=1+2@evil.example")
    with clock.frozen(datetime(2025, 1, 1, tzinfo=timezone.utc)):
        bought = client.post("/v1/purchases", headers=admin, json={
            "member_id": member["id"], "order_id": "formula-1", "amount": 5000, "currency": "usd"})
    assert bought.status_code == 201, bought.get_json()
    with clock.frozen(NOW):
        response = client.get("/v1/reports/at-risk", headers=admin, query_string={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["email"] for row in rows if row["member_id"] == member["id"]] == ["'=1+2@evil.example"]


@pytest.mark.parametrize("amount, currency, shown", [
    (177151, "usd", "1,771.51 usd"), (5, "usd", "0.05 usd"), (-123456, "eur", "-1,234.56 eur"),
    (1234567, "jpy", "1,234,567 jpy"), (1234, "kwd", "1.234 kwd"), (0, "usd", "0.00 usd"),
])
def test_money_in_major_units_with_its_currency(amount, currency, shown):
    assert major_units(amount, currency) == shown


def test_a_money_object_is_one_column_in_a_table():
    rows = [{"closing": 177151, "liability": {"amount": 177151, "currency": "usd"}}]
    header, rule, line = to_table(rows, ["closing", "liability_amount", "liability_currency"]).splitlines()
    assert header.split() == ["closing", "liability"]
    assert line.split(None, 1) == ["177151", "1,771.51 usd"]


def test_cli_points_table_states_its_period_and_shows_the_liability_as_money(app, client, admin, program, enroll):
    program_row = db.session.get(Program, 1)
    program_row.point_value_amount, program_row.point_value_currency = 1, "usd"
    db.session.commit()
    member = enroll()
    with clock.frozen(datetime(2026, 2, 10, tzinfo=timezone.utc)):
        adjusted = client.post(f"/v1/members/{member['id']}/adjustments", headers=admin,
                               json={"points": 177151, "reason": "opening balance"})
    assert adjusted.status_code == 201, adjusted.get_json()
    with clock.frozen(NOW):
        result = app.test_cli_runner().invoke(args=["loyalty", "report", "points", "--from", "2026-02-01",
                                                     "--to", "2026-03-01"])
    assert result.exit_code == 0, result.output
    title, header, _, values = result.output.splitlines()
    assert "2026-02-01 to 2026-02-28" in title and "as of 2026-03-01 12:00 UTC" in title
    assert "liability" in header.split() and "liability_amount" not in header
    assert values.rstrip().endswith("1,771.51 usd")


@pytest.mark.parametrize("name, covers", [
    ("repurchase-by-tier", "repurchase window 45 days"), ("cohorts", "windows 30, 60 and 90 days"),
    ("at-risk", "qualifying points of the last 365 days"),
])
def test_cli_tables_say_what_they_cover(app, program, name, covers):
    with clock.frozen(NOW):
        result = app.test_cli_runner().invoke(args=["loyalty", "report", name, "--from", "2026-01-01",
                                                     "--to", "2026-02-01", "--window-days", "45"])
    assert result.exit_code == 0, result.output
    title = result.output.splitlines()[0]
    assert covers in title and "as of 2026-03-01 12:00 UTC" in title
    if name != "at-risk":
        assert "2026-01-01 to 2026-01-31" in title
