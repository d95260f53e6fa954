"""Retention and points reports (API.md, Reports and Rules), computed in the database.

One module per report, each with `report(...)` returning plain rows (Decimal rates, datetime
stamps) and `COLUMNS` (the CSV header); `formatting` turns rows into JSON values, CSV or a
table, so the API and the CLI show the same thing.
"""
