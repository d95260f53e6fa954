"""Staff accounts and sessions against API.md (Staff), with the login lock."""
import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from loyalty import clock
from loyalty.extensions import db
from loyalty.models import Staff
from tests.helpers import STAFF_PASSWORD

T = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
PASSWORD = STAFF_PASSWORD


def log_in(client, email="cass@shop.test", password=PASSWORD):
    return client.post("/v1/staff/sessions", json={"email": email, "password": password})


def bearer(response):
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_created_staff_has_no_password_in_output_and_a_slow_hash(cashier):
    """Is the password never echoed and stored with a slow hash?"""
    assert cashier == {"id": cashier["id"], "email": "cass@shop.test", "name": "Cass", "role": "cashier",
                       "active": True}
    stored = db.session.get(Staff, cashier["id"]).password_hash
    assert stored.startswith(("scrypt:", "pbkdf2:")) and PASSWORD not in stored


@pytest.mark.parametrize("body", [
    {"password": "short"}, {"role": "owner"}, {"email": "not-an-email"}, {"active": True},
])
def test_staff_creation_is_validated(client, admin, body):
    response = client.post("/v1/staff", headers=admin, json={
        "email": "x@shop.test", "name": "X", "role": "manager", "password": PASSWORD, **body})
    assert response.status_code == 422


def test_duplicate_email_is_a_conflict(client, admin, cashier):
    response = client.post("/v1/staff", headers=admin, json={
        "email": "cass@shop.test", "name": "Again", "role": "manager", "password": PASSWORD})
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "staff_exists")


def test_staff_admin_is_admin_only(client, storefront, cashier):
    staff_token = bearer(log_in(client))
    for headers in (storefront, staff_token):
        assert client.get("/v1/staff", headers=headers).status_code == 403
        assert client.post("/v1/staff", headers=headers, json={}).status_code == 403


def test_login_gives_a_token_for_at_most_12_hours(client, cashier):
    with clock.frozen(T):
        response = log_in(client, email=" CASS@shop.test ")
    assert response.status_code == 201, response.get_json()
    expires = datetime.fromisoformat(response.get_json()["expires_at"].replace("Z", "+00:00"))
    assert timedelta(0) < expires - T <= timedelta(hours=12)
    with clock.frozen(T + timedelta(hours=1)):
        assert client.get("/v1/tiers", headers=bearer(response)).status_code == 200
    with clock.frozen(expires):
        assert client.get("/v1/tiers", headers=bearer(response)).status_code == 401


def test_wrong_password_and_unknown_email_look_the_same(client, cashier):
    wrong, unknown = log_in(client, password="wrong password"), log_in(client, email="nobody@shop.test")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.get_json()["error"]["code"] == "invalid_credentials"


def test_logout_revokes_the_token(client, cashier):
    headers = bearer(log_in(client))
    assert client.delete("/v1/staff/sessions/current", headers=headers).status_code == 204
    assert client.get("/v1/tiers", headers=headers).status_code == 401


def test_deactivating_revokes_tokens_and_logins(client, admin, cashier):
    headers = bearer(log_in(client))
    response = client.patch(f"/v1/staff/{cashier['id']}", headers=admin, json={"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert client.get("/v1/tiers", headers=headers).status_code == 401
    assert log_in(client).status_code == 401


def test_role_change_takes_effect(client, admin, cashier, enroll, program):
    member = enroll()
    headers = bearer(log_in(client))
    adjust = lambda: client.post(f"/v1/members/{member['id']}/adjustments", headers=headers,
                                 json={"points": 5, "reason": "goodwill"})
    assert adjust().status_code == 403
    client.patch(f"/v1/staff/{cashier['id']}", headers=admin, json={"role": "manager"})
    assert adjust().status_code == 201


@pytest.mark.parametrize("email", ["cass@shop.test", "nobody@shop.test"])
def test_five_failures_lock_the_email_for_fifteen_minutes(client, cashier, email):
    """After 5 failures within 15 minutes, is that email refused 429 for 15 minutes, right password or not?"""
    for minute in range(5):
        with clock.frozen(T + timedelta(minutes=2 * minute)):
            assert log_in(client, email=email, password="nope nope nope").status_code == 401
    locked_at = T + timedelta(minutes=8)
    with clock.frozen(locked_at + timedelta(minutes=14)):
        response = log_in(client, email=email)
        assert (response.status_code, response.get_json()["error"]["code"]) == (429, "rate_limited")
        assert int(response.headers["Retry-After"]) > 0
        assert log_in(client, email="other@shop.test").status_code == 401  # other emails are unaffected
    with clock.frozen(locked_at + timedelta(minutes=15, seconds=1)):
        expected = 201 if email == "cass@shop.test" else 401
        assert log_in(client, email=email).status_code == expected


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(client, cashier):
    for minute in range(5):
        with clock.frozen(T + timedelta(minutes=4 * minute)):
            log_in(client, password="nope nope nope")
    with clock.frozen(T + timedelta(minutes=17)):
        assert log_in(client).status_code == 201


def _redis_up() -> bool:
    import socket
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("storage", [
    "memory://",
    pytest.param("redis://127.0.0.1:6379", marks=pytest.mark.skipif(not _redis_up(), reason="no Redis here")),
])
def test_login_requests_are_rate_limited_per_address(limited_app, storage):
    """Does Flask-Limiter cap login attempts per client address, answering the JSON 429?"""
    app = limited_app(RATELIMIT_STORAGE_URI=storage)
    client = app.test_client()
    address = {"REMOTE_ADDR": f"10.9.{os.getpid() % 250}.{int(time.time() * 1000) % 250}"}
    answers = [client.post("/v1/staff/sessions", json={"email": "x@shop.test", "password": "whatever"},
                           environ_base=address).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    response = client.post("/v1/staff/sessions", json={"email": "x@shop.test", "password": "whatever"},
                           environ_base=address)
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in response.headers


def test_rate_limit_headers_are_on_the_login_only(limited_app):
    """The login's limit shows in its X-RateLimit headers; endpoints without a limit carry none."""
    client = limited_app().test_client()
    address = {"REMOTE_ADDR": f"10.7.{os.getpid() % 250}.{int(time.time() * 1000) % 250}"}
    login = client.post("/v1/staff/sessions", json={"email": "x@shop.test", "password": "whatever"},
                        environ_base=address)
    assert (login.status_code, login.headers.get("X-RateLimit-Limit")) == (401, "3")
    assert login.headers["X-RateLimit-Remaining"] == "2"
    other = client.get("/v1/program", environ_base=address)
    assert other.status_code == 401
    assert not [name for name in other.headers.keys() if name.lower().startswith("x-ratelimit")]


DEFAULT_LIMIT_CHECK = """
import sys
from loyalty import create_app
app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1], "RATELIMIT_ENABLED": True,
                  "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_DEFAULT": "2/minute"})
client = app.test_client()
print([client.get("/v1/program").status_code for _ in range(3)])
"""


def test_a_default_limit_applies_to_every_endpoint(app):
    """RATELIMIT_DEFAULT limits every endpoint per address. In a process of its own: Flask-Limiter
    keeps the first default limits it is given for every later app of the process."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", DEFAULT_LIMIT_CHECK, app.config["SQLALCHEMY_DATABASE_URI"]],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[401, 401, 429]"


def test_parallel_wrong_passwords_are_counted_one_after_another(live_server):
    """40 wrong logins for one email at once, across workers: exactly 5 are judged, 35 locked out."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    server = live_server(workers=4)
    admin = server.api_key("admin")
    requests.post(server.url + "/v1/staff", headers=admin, json={
        "email": "target@shop.test", "name": "T", "role": "cashier", "password": PASSWORD}).raise_for_status()
    attempt = lambda _: requests.post(server.url + "/v1/staff/sessions", timeout=60,
                                      json={"email": "target@shop.test", "password": "guess guess"}).status_code
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(attempt, range(40)))
    assert sorted(answers) == [401] * 5 + [429] * 35


def test_a_new_password_ends_sessions(client, admin, cashier):
    headers = bearer(log_in(client))
    client.patch(f"/v1/staff/{cashier['id']}", headers=admin, json={"password": "another horse battery"})
    assert client.get("/v1/tiers", headers=headers).status_code == 401
    assert log_in(client, password="another horse battery").status_code == 201
