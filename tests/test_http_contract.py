"""The HTTP conventions of API.md: credentials, the error shape, validation, Idempotency-Key."""
import json

import pytest

from loyalty.extensions import db
from loyalty.models import ApiKey, LedgerEntry, Member
from tests.helpers import assert_error


def member_count(external_id=None):
    query = db.session.query(Member)
    if external_id is not None:
        query = query.filter_by(external_id=external_id)
    return query.count()


# --- 401 versus 403 --------------------------------------------------------------------------

def revoked_key(api_key):
    headers = api_key("admin")
    lookup = headers["Authorization"].removeprefix("Bearer lk_").split("_", 1)[0]
    key = db.session.query(ApiKey).filter_by(lookup=lookup).one()
    key.revoked_at = key.created_at
    db.session.commit()
    return headers


@pytest.mark.parametrize("make_headers", [
    lambda api_key: {},
    lambda api_key: {"Authorization": ""},
    lambda api_key: {"Authorization": "Bearer"},
    lambda api_key: {"Authorization": "Bearer garbage"},
    lambda api_key: {"Authorization": "Bearer lk_000000000000_unknownsecret"},
    lambda api_key: {"Authorization": api_key("admin")["Authorization"][:-3] + "xyz"},  # right id, wrong secret
    lambda api_key: {"Authorization": api_key("admin")["Authorization"].replace("Bearer", "Basic")},
    lambda api_key: {"Authorization": "Bearer st_not-a-real-staff-token"},
    lambda api_key: {"Authorization": "Bearer ct_not-a-real-customer-token"},
    revoked_key,
], ids=["missing", "empty", "no-credential", "garbage", "unknown-key", "wrong-secret", "not-bearer",
        "unknown-staff-token", "unknown-customer-token", "revoked"])
@pytest.mark.parametrize("method, path, body", [
    ("get", "/v1/program", None),
    ("patch", "/v1/program", {"signup_bonus": 999}),
    ("post", "/v1/members", {"external_id": "sneaky"}),
    ("get", "/v1/members?external_id=x", None),
])
def test_without_a_valid_credential_is_unauthenticated(client, api_key, make_headers, method, path, body):
    """Missing, unknown, malformed or revoked credentials: 401 unauthenticated, nothing done."""
    headers = make_headers(api_key)
    kwargs = {"json": body} if body is not None else {}
    response = getattr(client, method)(path, headers=headers, **kwargs)
    assert_error(response, 401, "unauthenticated")
    assert member_count() == 0


def test_the_wrong_role_is_forbidden_not_unauthenticated(client, admin, storefront):
    """A known storefront key on PATCH /v1/program: 403 forbidden, and the program is unchanged."""
    response = client.patch("/v1/program", json={"signup_bonus": 999}, headers=storefront)
    assert_error(response, 403, "forbidden")
    assert client.get("/v1/program", headers=storefront).get_json()["signup_bonus"] == 0
    allowed = client.patch("/v1/program", json={"signup_bonus": 5}, headers=admin)
    assert allowed.status_code == 200
    assert client.get("/v1/program", headers=storefront).get_json()["signup_bonus"] == 5


def test_authentication_comes_before_validation(client):
    """An invalid body without a credential is a 401, not a 422 that reveals the schema."""
    response = client.post("/v1/members", json={"bogus": 1})
    assert_error(response, 401, "unauthenticated")


# --- routing errors --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v1/members/x/y/z", "/v2/members"])
def test_unknown_path_is_not_found_json(client, admin, path):
    assert_error(client.get(path, headers=admin), 404, "not_found")


@pytest.mark.parametrize("method, path, allowed", [
    ("put", "/healthz", {"GET"}),
    ("post", "/healthz", {"GET"}),
    ("delete", "/v1/program", {"GET", "PATCH"}),
    ("put", "/v1/members", {"GET", "POST"}),
    ("get", "/v1/purchases", {"POST"}),
])
def test_wrong_method_is_405_json_with_allow(client, admin, method, path, allowed):
    """A known path with an unsupported method: 405 JSON and an Allow header listing what works."""
    response = getattr(client, method)(path, headers=admin)
    assert_error(response, 405, "method_not_allowed")
    listed = {name.strip().upper() for name in response.headers.get("Allow", "").split(",") if name.strip()}
    assert allowed <= listed
    assert method.upper() not in listed


# --- request bodies --------------------------------------------------------------------------

def test_body_over_one_mebibyte_is_payload_too_large(client, admin):
    """A body over 1 MiB: 413 payload_too_large, nothing enrolled."""
    response = client.post("/v1/members", json={"external_id": "big", "name": "x" * (1024 * 1024)},
                           headers=admin)
    assert_error(response, 413, "payload_too_large")
    assert member_count() == 0


def test_body_just_under_the_limit_is_read(client, admin):
    """The limit is 1 MiB, not less: a large but acceptable body reaches validation (422, not 413)."""
    response = client.post("/v1/members", json={"external_id": "big", "name": "x" * (1024 * 1024 - 100)},
                           headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert "name" in error["details"]["fields"]  # too long for the field, but it was read


@pytest.mark.parametrize("data", ['{"external_id": "x"', "{external_id: 'x'}", "not json at all", "\xff\xfe"])
def test_malformed_json_is_a_validation_error(client, admin, data):
    response = client.post("/v1/members", data=data, content_type="application/json", headers=admin)
    assert_error(response, 422, "validation_error")
    assert member_count() == 0


@pytest.mark.parametrize("path, body, field", [
    ("/v1/members", {"external_id": "u1", "favourite_colour": "blue"}, "favourite_colour"),
    ("/v1/members", {"external_id": "u1", "id": "mem_mine"}, "id"),
    ("/v1/purchases", {"external_id": "known", "order_id": "o", "amount": 100, "currency": "usd",
                       "discount": 5}, "discount"),
])
def test_unknown_field_is_named_in_the_error(client, admin, program, enroll, path, body, field):
    """An unknown field: 422 validation_error with details.fields naming it."""
    enroll(external_id="known")
    error = assert_error(client.post(path, json=body, headers=admin), 422, "validation_error")
    assert field in error["details"]["fields"]


def test_unknown_program_setting_is_refused(client, admin):
    error = assert_error(client.patch("/v1/program", json={"signup_bonuss": 50}, headers=admin),
                         422, "validation_error")
    assert "signup_bonuss" in error["details"]["fields"]
    assert client.get("/v1/program", headers=admin).get_json()["signup_bonus"] == 0


@pytest.mark.parametrize("path, body, field", [
    ("/v1/members", {"external_id": ["a"]}, "external_id"),
    ("/v1/members", {"external_id": "t1", "email": 7}, "email"),
    ("/v1/purchases", {"external_id": "known", "order_id": "o", "amount": "100", "currency": "usd"}, "amount"),
    ("/v1/purchases", {"external_id": "known", "order_id": "o", "amount": 100.0, "currency": "usd"}, "amount"),
    ("/v1/purchases", {"external_id": "known", "order_id": "o", "amount": 100, "currency": 840}, "currency"),
    ("/v1/purchases", {"external_id": "known", "order_id": 12, "amount": 100, "currency": "usd"}, "order_id"),
])
def test_wrong_type_is_a_validation_error(client, admin, program, enroll, path, body, field):
    enroll(external_id="known")
    error = assert_error(client.post(path, json=body, headers=admin), 422, "validation_error")
    assert field in error["details"]["fields"]


@pytest.mark.parametrize("body", [[{"external_id": "x"}], "x", 5, None])
def test_body_that_is_not_an_object_is_a_validation_error(client, admin, body):
    response = client.post("/v1/members", data=json.dumps(body), content_type="application/json",
                           headers=admin)
    assert_error(response, 422, "validation_error")
    assert member_count() == 0


@pytest.mark.parametrize("stamp, ok", [
    ("2026-01-02T10:00:00", False),
    ("2026-01-02 10:00:00", False),
    ("2026-01-02", False),
    ("2026-01-02T10:00:00Z", True),
    ("2026-01-02T10:00:00+01:00", True),
    ("2026-01-02T10:00:00.250-05:00", True),
])
def test_timestamp_needs_an_offset(client, admin, program, enroll, stamp, ok):
    """RFC 3339 with an offset is accepted; a timestamp without one is a 422 naming the field."""
    member = enroll()
    response = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "ts", "amount": 1000, "currency": "usd", "occurred_at": stamp})
    if ok:
        assert response.status_code == 201, response.get_json()
    else:
        error = assert_error(response, 422, "validation_error")
        assert "occurred_at" in error["details"]["fields"]
        assert client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"] == 0


# --- the unexpected --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/boom", "/boom-key"])
def test_unexpected_exception_is_a_generic_500(fragile_app, path):
    """An unhandled exception: 500 internal_error JSON, with no traceback or exception text."""
    response = fragile_app.test_client().get(path)
    error = assert_error(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    for leak in ("secret-internal-detail", "RuntimeError", "KeyError", "thing.py", "missing", 'File "'):
        assert leak not in text, leak
    assert "details" not in error


# --- every error is JSON ---------------------------------------------------------------------

@pytest.mark.parametrize("method, path, kwargs, status", [
    ("get", "/v1/members", {}, 401),
    ("get", "/v1/nothing-here", {}, 404),
    ("delete", "/healthz", {}, 405),
    ("post", "/v1/members", {"data": "{", "content_type": "application/json"}, 422),
    ("post", "/v1/members", {"data": "x" * (1024 * 1024 + 1), "content_type": "application/json"}, 413),
    ("post", "/v1/members", {"data": "external_id=x", "content_type": "application/x-www-form-urlencoded"}, 422),
    ("get", "/v1/members/mem_unknown", {}, 404),
])
def test_every_error_is_json(client, admin, method, path, kwargs, status):
    headers = {} if status == 401 else admin
    response = getattr(client, method)(path, headers=headers, **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"]


# --- Idempotency-Key -------------------------------------------------------------------------

def entry_count(member_id):
    return db.session.query(LedgerEntry).filter_by(member_id=member_id).count()


def balance_of(client, headers, member_id):
    return client.get(f"/v1/members/{member_id}", headers=headers).get_json()["points"]["balance"]


def test_same_key_same_body_replays_the_adjustment(client, admin, enroll):
    """A retried adjustment returns the first 201 and body, and moves the points once."""
    member = enroll()
    url = f"/v1/members/{member['id']}/adjustments"
    headers = {**admin, "Idempotency-Key": "adj-1"}
    first = client.post(url, json={"points": 40, "reason": "sorry"}, headers=headers)
    again = client.post(url, json={"points": 40, "reason": "sorry"}, headers=headers)
    assert first.status_code == 201, first.get_json()
    assert again.status_code == first.status_code
    assert again.get_json() == first.get_json()
    assert balance_of(client, admin, member["id"]) == 40
    assert entry_count(member["id"]) == 1


def test_same_key_same_body_replays_the_enrolment(client, admin):
    """A retried enrolment returns the same 201 member, not a 409, and enrols once."""
    headers = {**admin, "Idempotency-Key": "enrol-1"}
    body = {"external_id": "idem-1", "email": "idem@example.com"}
    first = client.post("/v1/members", json=body, headers=headers)
    again = client.post("/v1/members", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert again.mimetype == "application/json"
    assert member_count("idem-1") == 1
    without_key = client.post("/v1/members", json=body, headers=admin)
    assert_error(without_key, 409, "member_exists")


def test_replayed_purchase_keeps_its_first_status(client, admin, program, enroll):
    """With a key, a retry answers the first 201 (without one, a repeated order answers 200)."""
    member = enroll()
    body = {"member_id": member["id"], "order_id": "idem-o", "amount": 1500, "currency": "usd"}
    headers = {**admin, "Idempotency-Key": "buy-1"}
    first = client.post("/v1/purchases", json=body, headers=headers)
    again = client.post("/v1/purchases", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert client.post("/v1/purchases", json=body, headers=admin).status_code == 200
    assert balance_of(client, admin, member["id"]) == 15


@pytest.mark.parametrize("second", [
    {"points": 41, "reason": "sorry"},
    {"points": 40, "reason": "other reason"},
    {"points": 40, "reason": "sorry", "location": "berlin"},
])
def test_same_key_other_body_is_refused(client, admin, enroll, second):
    """The same key with another body: 409 idempotency_key_reused, and nothing more moves."""
    member = enroll()
    url = f"/v1/members/{member['id']}/adjustments"
    headers = {**admin, "Idempotency-Key": "adj-2"}
    assert client.post(url, json={"points": 40, "reason": "sorry"}, headers=headers).status_code == 201
    response = client.post(url, json=second, headers=headers)
    assert_error(response, 409, "idempotency_key_reused")
    assert balance_of(client, admin, member["id"]) == 40
    assert entry_count(member["id"]) == 1


def test_same_key_on_another_endpoint_is_refused(client, admin, enroll):
    """One key names one request: reusing it for another member's adjustment is a 409."""
    one, two = enroll(), enroll()
    body = {"points": 5, "reason": "r"}
    headers = {**admin, "Idempotency-Key": "adj-3"}
    assert client.post(f"/v1/members/{one['id']}/adjustments", json=body, headers=headers).status_code == 201
    response = client.post(f"/v1/members/{two['id']}/adjustments", json=body, headers=headers)
    assert_error(response, 409, "idempotency_key_reused")
    assert balance_of(client, admin, two["id"]) == 0


def test_keys_are_scoped_to_the_credential(client, api_key, enroll):
    """The same key from another API key is a new request: it runs, and moves points again."""
    first_admin, second_admin = api_key("admin"), api_key("admin")
    member = enroll()
    url = f"/v1/members/{member['id']}/adjustments"
    body = {"points": 10, "reason": "scoped"}
    first = client.post(url, json=body, headers={**first_admin, "Idempotency-Key": "shared"})
    second = client.post(url, json=body, headers={**second_admin, "Idempotency-Key": "shared"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.get_json()["id"] != first.get_json()["id"]
    assert second.get_json()["balance_after"] == 20
    # Each credential still replays its own first answer.
    replay = client.post(url, json=body, headers={**second_admin, "Idempotency-Key": "shared"})
    assert replay.get_json() == second.get_json()
    assert entry_count(member["id"]) == 2


def test_other_body_from_another_credential_is_not_a_conflict(client, api_key, enroll):
    """Another credential's key does not collide, even with a different body."""
    first_admin, second_admin = api_key("admin"), api_key("admin")
    member = enroll()
    url = f"/v1/members/{member['id']}/adjustments"
    assert client.post(url, json={"points": 1, "reason": "a"},
                       headers={**first_admin, "Idempotency-Key": "k"}).status_code == 201
    response = client.post(url, json={"points": 2, "reason": "b"}, headers={**second_admin, "Idempotency-Key": "k"})
    assert response.status_code == 201, response.get_json()
    assert balance_of(client, first_admin, member["id"]) == 3


def test_failed_validation_does_not_burn_the_key(client, admin, enroll):
    """A request refused by validation changed nothing (as at Stripe): a corrected retry with the key runs."""
    member = enroll()
    url = f"/v1/members/{member['id']}/adjustments"
    headers = {**admin, "Idempotency-Key": "adj-fail"}
    assert_error(client.post(url, json={"points": 0, "reason": "zero"}, headers=headers), 422, "validation_error")
    assert entry_count(member["id"]) == 0
    response = client.post(url, json={"points": 5, "reason": "fixed"}, headers=headers)
    assert response.status_code == 201, response.get_json()
    again = client.post(url, json={"points": 5, "reason": "fixed"}, headers=headers)
    assert again.get_json() == response.get_json()
    assert entry_count(member["id"]) == 1


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"])
def test_timestamp_out_of_range_is_a_validation_error(client, admin, program, enroll, stamp):
    """Does a timestamp that cannot be turned into UTC give a 422, not a 500?"""
    member = enroll()
    response = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "far", "amount": 100, "currency": "usd", "occurred_at": stamp})
    assert response.status_code == 422, response.get_json()


def test_cursor_with_a_huge_number_is_a_validation_error(client, admin, enroll):
    import base64
    member = enroll()
    cursor = base64.urlsafe_b64encode(b"[1000000000000000000000000000]").decode().rstrip("=")
    response = client.get(f"/v1/members/{member['id']}/transactions?cursor={cursor}", headers=admin)
    assert response.status_code == 422


def test_nul_characters_are_refused_not_crashed_on(client, admin, program, enroll):
    """A NUL character (which PostgreSQL cannot store) in a credential, a body or a query: 401/422."""
    assert client.get("/v1/program", headers={"Authorization": "Bearer lk_ab\x00cd_x"}).status_code == 401
    response = client.post("/v1/members", headers=admin, json={"external_id": "nul\x00here"})
    assert response.status_code in (201, 422)  # SQLite stores it; PostgreSQL cannot
    assert client.get("/v1/members?email=a%00b", headers=admin).status_code in (200, 422)
    login = client.post("/v1/staff/sessions", json={"email": "a\x00@shop.test", "password": "x"})
    assert login.status_code in (401, 422)


def test_overlong_idempotency_key_is_a_validation_error(client, admin, program, enroll):
    member = enroll()
    response = client.post("/v1/purchases", headers={**admin, "Idempotency-Key": "k" * 300}, json={
        "member_id": member["id"], "order_id": "long-key", "amount": 100, "currency": "usd"})
    assert response.status_code == 422


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z"])
def test_timestamps_outside_1970_to_2200_are_refused(client, admin, program, enroll, stamp):
    member = enroll()
    response = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "old", "amount": 100, "currency": "usd", "occurred_at": stamp})
    assert response.status_code == 422


def test_earn_rate_is_bounded(client, admin):
    assert client.patch("/v1/program", headers=admin, json={"earn_rates": {"jpy": "1e20"}}).status_code == 422
