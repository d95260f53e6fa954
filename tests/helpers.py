"""Small helpers shared by test modules (fixtures live in conftest.py, model rows in factories.py)."""
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

from sqlalchemy import event

from config import database_url
from loyalty import clock, jobs
from loyalty.extensions import db

# The suite runs on SQLite unless TEST_DATABASE_URL names another database (PostgreSQL).
TEST_DATABASE_URL = database_url(os.environ.get("TEST_DATABASE_URL"))
ON_POSTGRES = bool(TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgresql"))
STAFF_PASSWORD = "correct horse battery"


def stamp(moment: datetime) -> str:
    """A moment as the API writes it: ISO 8601 in UTC with a Z."""
    return moment.isoformat().replace("+00:00", "Z")


def run_jobs(moment: datetime | None = None) -> dict[str, str]:
    """Run every timed job as `flask loyalty run-jobs` would, now or with the clock at `moment`;
    returns {job name: summary}."""
    if moment is None:
        return dict(jobs.run_all())
    with clock.frozen(moment):
        return dict(jobs.run_all())


def balance(client, headers, member_id: str) -> int:
    """The member's spendable points, as GET /v1/members/{id} shows them."""
    return client.get(f"/v1/members/{member_id}", headers=headers).get_json()["points"]["balance"]


def statements_during(work) -> list[str]:
    """The SQL statements work() runs on the test's connection (the harness's savepoints left out)."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.startswith(("SAVEPOINT", "RELEASE")):
            seen.append(statement)

    engine = db.session.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def cli(app, *args):
    """Invoke `flask loyalty ARGS...` in-process; the click Result."""
    return app.test_cli_runner().invoke(args=["loyalty", *args])


def all_at_once(calls):
    """Call every callable at the same time, each on its own thread; their results in order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def assert_error(response, status, code):
    """A JSON error of the contract's shape, never HTML or a stack trace."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json", response.content_type
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "details"}
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    return error


def allowed_roles(app, path, method):
    """The roles `requires` lets into an operation (None when the view does not say)."""
    for rule in app.url_map.iter_rules():
        if re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule) == path:
            view = app.view_functions[rule.endpoint]
            handler = getattr(getattr(view, "view_class", None), method, view)
            return set(getattr(handler, "_roles", None) or ()) or None
    return None


# -- the reports' reference computations: the contract's rounding in plain Python -----------------

def rounded(numerator, denominator, places: int) -> str:
    """numerator / denominator to `places` decimals, halves away from zero, as a string."""
    with localcontext() as context:
        context.prec = 60
        value = Decimal(numerator) / Decimal(denominator)
        return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def ratio(part: int, whole: int):
    """A rate as the reports give it: 4 decimals, or None when the whole is 0."""
    return rounded(part, whole, 4) if whole else None
