"""Operators' credential commands: list-api-keys, revoke-api-key, create-staff (API.md, Operations)."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from loyalty import auth, clock
from loyalty.cli import credentials
from loyalty.extensions import db
from loyalty.models import ApiKey, Staff


def cli(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=["loyalty", *args], **kwargs)


def new_key(role="admin", name="till server"):
    key, plain = auth.create_api_key(name, role)
    db.session.commit()
    return key, {"Authorization": f"Bearer {plain}"}


def test_list_api_keys_shows_each_key_but_never_the_key_itself(app, client):
    with clock.frozen(datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)):
        used, used_headers = new_key("storefront", "web shop")
        unused, _ = new_key("admin", "reporting")
        assert client.get("/v1/rewards", headers=used_headers).status_code == 200
    plain = used_headers["Authorization"].removeprefix("Bearer ")

    result = cli(app, "list-api-keys")

    assert result.exit_code == 0, result.output
    header, _, *lines = result.output.splitlines()
    assert header.split() == ["id", "name", "role", "created", "last_used", "revoked"]
    by_id = {line.split()[0]: line for line in lines}
    assert "web shop" in by_id[used.id] and "storefront" in by_id[used.id]
    assert by_id[used.id].count("2026-03-01 09:30 UTC") == 2  # created, and used then
    assert "never" in by_id[unused.id]
    assert plain not in result.output and plain.split("_")[-1] not in result.output


def test_a_key_use_is_recorded_at_most_once_per_precision(app, client):
    key, headers = new_key()
    first = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    with clock.frozen(first):
        client.get("/v1/program", headers=headers)
    with clock.frozen(first + auth.KEY_USE_PRECISION):
        client.get("/v1/program", headers=headers)  # this process recorded it just now: no write
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).last_used_at == first


@pytest.fixture
def waits(monkeypatch):
    """What happened, in order: "commit" for each commit, ("sleep", seconds) for each wait of the CLI."""
    happened = []
    monkeypatch.setattr(credentials.time, "sleep", lambda seconds: happened.append(("sleep", seconds)))
    listener = lambda session: happened.append("commit")  # noqa: E731
    event.listen(Session, "after_commit", listener)
    yield happened
    event.remove(Session, "after_commit", listener)


def test_a_revoked_key_is_refused_on_its_next_request(app, client, waits):
    key, headers = new_key()
    assert client.get("/v1/program", headers=headers).status_code == 200

    result = cli(app, "revoke-api-key", key.id)

    assert result.exit_code == 0, result.output
    assert key.id in result.output
    response = client.get("/v1/program", headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"
    listed = cli(app, "list-api-keys").output
    assert "no" not in [line.split()[-1] for line in listed.splitlines() if line.startswith(key.id)]


def test_revoke_api_key_returns_only_when_no_worker_takes_the_key_any_more(app, waits):
    """Workers take a key they checked as valid for auth.API_KEY_RECHECK_SECONDS: the command waits
    that long after its commit (tests/test_credential_cache.py runs it against four workers)."""
    key, _ = new_key()
    waits.clear()
    assert cli(app, "revoke-api-key", key.id).exit_code == 0
    assert waits == ["commit", ("sleep", auth.API_KEY_RECHECK_SECONDS + auth.CLOCK_RATE_MARGIN_SECONDS)]


def test_revoking_an_unknown_key_fails_with_a_message(app):
    result = cli(app, "revoke-api-key", "key_nonexistent")
    assert result.exit_code == 1 and "No API key key_nonexistent" in result.output


def test_create_staff_reads_the_password_from_stdin_and_the_account_signs_in(app, client):
    result = cli(app, "create-staff", "--email", "Ana@Shop.example", "--name", "Ana Silva", "--role", "cashier",
                 "--password-stdin", input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert "correct horse" not in result.output
    login = client.post("/v1/staff/sessions", json={"email": "ana@shop.example", "password": "correct horse battery"})
    assert login.status_code == 201, login.get_json()
    assert db.session.query(Staff).filter_by(email="ana@shop.example").one().role == "cashier"


def test_create_staff_asks_for_the_password_twice_without_stdin(app, client):
    result = cli(app, "create-staff", "--email", "mo@shop.example", "--name", "Mo", "--role", "manager",
                 input="short\nlong enough pass\nlong enough pass\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "10" in result.output  # the short one was refused, saying why
    login = client.post("/v1/staff/sessions", json={"email": "mo@shop.example", "password": "long enough pass"})
    assert login.status_code == 201


@pytest.mark.parametrize("args, stdin, says", [
    (["--email", "not-an-email", "--name", "X", "--role", "cashier"], "long enough pass\n", "email"),
    (["--email", "x@shop.example", "--name", "X", "--role", "owner"], "long enough pass\n", "owner"),
    (["--email", "x@shop.example", "--name", "X", "--role", "cashier"], "short\n", "password"),
])
def test_create_staff_refuses_what_the_api_refuses(app, args, stdin, says):
    result = cli(app, "create-staff", *args, "--password-stdin", input=stdin)
    assert result.exit_code == 2 and says in result.output
    assert db.session.query(Staff).filter_by(email="x@shop.example").count() == 0


def test_create_staff_twice_is_refused(app):
    args = ["create-staff", "--email", "dup@shop.example", "--name", "Dup", "--role", "cashier", "--password-stdin"]
    assert cli(app, *args, input="long enough pass\n").exit_code == 0
    again = cli(app, *args, input="long enough pass\n")
    assert again.exit_code == 1 and "already exists" in again.output
