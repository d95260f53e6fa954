"""Members over HTTP, against API.md Members: enrolment, look-ups, profiles, closing, ledger, adjustments."""
import base64
import json
import re
from datetime import datetime, timezone

import marshmallow as ma
import pytest

from loyalty.api.common import Computed
from loyalty.extensions import db
from loyalty.models import LedgerEntry, Member

# Short, and from an alphabet without the look-alikes 0/O and 1/I (API.md: "short, unambiguous").
MEMBER_CODE = re.compile(r"^[2-9A-HJ-NP-Z]{4,12}$")


def get_member(client, headers, member_id):
    return client.get(f"/v1/members/{member_id}", headers=headers)


def balance(client, headers, member_id):
    return get_member(client, headers, member_id).get_json()["points"]["balance"]


def entries(client, headers, member_id, **query):
    response = client.get(f"/v1/members/{member_id}/transactions", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def adjust(client, headers, member_id, points, reason="goodwill", **extra):
    return client.post(f"/v1/members/{member_id}/adjustments", headers=headers,
                       json={"points": points, "reason": reason, **extra})


def lookup(client, headers, **query):
    response = client.get("/v1/members", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


FULL_PROFILE = {
    "external_id": "shop-1001",
    "email": "ann@example.com",
    "name": "Ann Example",
    "phone": "+1 555 0100",
    "birthday": "1990-05-17",
    "stripe_customer_id": "cus_Ann1001",
    "metadata": {"source": "web", "store": "berlin"},
}


# --- enrolment -------------------------------------------------------------------------------

def test_enrolment_returns_the_member(client, storefront, at):
    """Does POST /v1/members answer 201 with every field it was given plus the computed ones?"""
    with at("2026-03-01T10:00:00Z"):
        response = client.post("/v1/members", json=FULL_PROFILE, headers=storefront)
    assert response.status_code == 201, response.get_json()
    member = response.get_json()
    for field, value in FULL_PROFILE.items():
        assert member[field] == value, field
    assert isinstance(member["id"], str) and member["id"]
    assert member["status"] == "active"
    assert member["enrolled_at"] == "2026-03-01T10:00:00Z"
    assert member["points"] == {"balance": 0, "pending": 0}
    assert member["tier"] is None  # no tiers are configured
    assert {"qualifying_points", "next_tier", "points_to_next_tier"} <= member["tier_progress"].keys()
    assert get_member(client, storefront, member["id"]).get_json() == member


def test_enrolment_needs_only_the_external_id(client, admin):
    response = client.post("/v1/members", json={"external_id": "bare"}, headers=admin)
    assert response.status_code == 201, response.get_json()
    member = response.get_json()
    assert member["external_id"] == "bare"
    assert (member["email"], member["name"], member["phone"], member["birthday"]) == (None, None, None, None)


def test_member_codes_are_short_unambiguous_and_unique(enroll):
    """Is every member_code short, free of 0/O/1/I, and different from the others?"""
    codes = [enroll()["member_code"] for _ in range(25)]
    for code in codes:
        assert MEMBER_CODE.match(code), code
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("body, field", [
    ({}, "external_id"),
    ({"external_id": ""}, "external_id"),
    ({"external_id": 42}, "external_id"),
    ({"external_id": "x", "email": "not-an-email"}, "email"),
    ({"external_id": "x", "birthday": "17/05/1990"}, "birthday"),
    ({"external_id": "x", "birthday": "1990-02-30"}, "birthday"),
    ({"external_id": "x", "metadata": {"tier": 3}}, "metadata"),
    ({"external_id": "x", "metadata": "vip"}, "metadata"),
    ({"external_id": "x", "status": "active"}, "status"),  # not settable on enrolment
    ({"external_id": "x", "points": 100}, "points"),       # read-only
    ({"external_id": "x", "loyalty": True}, "loyalty"),
])
def test_bad_enrolment_is_a_validation_error(client, admin, body, field):
    """Missing, malformed and unknown fields: 422 naming the field, nobody enrolled."""
    response = client.post("/v1/members", json=body, headers=admin)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]
    assert db.session.query(Member).count() == 0


@pytest.mark.parametrize("bonus", [0, 50])
def test_signup_bonus_is_paid_on_enrolment(client, admin, enroll, bonus):
    """With signup_bonus set, does a new member start with it, as one `bonus` entry?"""
    response = client.patch("/v1/program", json={"signup_bonus": bonus}, headers=admin)
    assert response.status_code == 200, response.get_json()
    member = enroll()
    assert member["points"] == {"balance": bonus, "pending": 0}
    assert balance(client, admin, member["id"]) == bonus
    page = entries(client, admin, member["id"])
    if bonus:
        assert [(e["type"], e["points"], e["balance_after"]) for e in page["data"]] == [("bonus", bonus, bonus)]
    else:
        assert page["data"] == []


def test_signup_bonus_is_paid_once_per_member(client, admin, enroll):
    """A refused second enrolment of the same customer pays nothing more."""
    client.patch("/v1/program", json={"signup_bonus": 50}, headers=admin)
    member = enroll(external_id="twice")
    client.post("/v1/members", json={"external_id": "twice"}, headers=admin)
    assert balance(client, admin, member["id"]) == 50
    assert db.session.query(LedgerEntry).count() == 1


def test_duplicate_external_id_is_member_exists(client, admin, storefront, enroll):
    """Enrolling an external_id again: 409 member_exists with the existing member's id."""
    first = enroll(external_id="cust-dup", email="first@example.com")
    response = client.post("/v1/members", json={"external_id": "cust-dup", "email": "second@example.com"},
                           headers=storefront)
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "member_exists"
    assert error["details"]["member_id"] == first["id"]
    found = lookup(client, admin, external_id="cust-dup")["data"]
    assert [(m["id"], m["email"]) for m in found] == [(first["id"], "first@example.com")]


# --- look-ups --------------------------------------------------------------------------------

@pytest.mark.parametrize("field, query", [
    ("external_id", lambda m: m["external_id"]),
    ("email", lambda m: m["email"]),
    ("email", lambda m: m["email"].upper()),
    ("member_code", lambda m: m["member_code"]),
    ("member_code", lambda m: m["member_code"].lower()),
    ("stripe_customer_id", lambda m: m["stripe_customer_id"]),
])
def test_lookup_finds_exactly_the_member(client, storefront, enroll, field, query):
    """Does GET /v1/members?<field>= return that member and nobody else?"""
    wanted = enroll(external_id="look-a", email="a@example.com", stripe_customer_id="cus_A")
    enroll(external_id="look-b", email="b@example.com", stripe_customer_id="cus_B")
    page = lookup(client, storefront, **{field: query(wanted)})
    assert [m["id"] for m in page["data"]] == [wanted["id"]]
    assert page["next_cursor"] is None
    assert page["data"][0]["points"] == wanted["points"]


@pytest.mark.parametrize("field, value", [
    ("external_id", "nobody"),
    ("email", "nobody@example.com"),
    ("member_code", "ZZZZZZZZ"),
    ("stripe_customer_id", "cus_nobody"),
])
def test_lookup_without_a_match_is_an_empty_list(client, admin, enroll, field, value):
    enroll(external_id="someone", email="someone@example.com", stripe_customer_id="cus_someone")
    assert lookup(client, admin, **{field: value}) == {"data": [], "next_cursor": None}


# --- profile changes and closing -------------------------------------------------------------

@pytest.mark.parametrize("changes", [
    {"name": "Ann Other"},
    {"email": "new@example.com"},
    {"phone": "+44 20 7946 0000"},
    {"birthday": "1991-01-31"},
    {"stripe_customer_id": "cus_New"},
    {"metadata": {"segment": "gold"}},
    {"status": "suspended"},
    {"name": None, "phone": None},
])
def test_patch_changes_the_member(client, storefront, enroll, changes):
    """Does PATCH change just the given fields, and keep them?"""
    member = enroll(**{k: v for k, v in FULL_PROFILE.items() if k != "external_id"})
    response = client.patch(f"/v1/members/{member['id']}", json=changes, headers=storefront)
    assert response.status_code == 200, response.get_json()
    expected = {**member, **changes}
    for body in (response.get_json(), get_member(client, storefront, member["id"]).get_json()):
        for field in ("email", "name", "phone", "birthday", "stripe_customer_id", "metadata", "status",
                      "external_id", "member_code", "points"):
            assert body[field] == expected[field], field


@pytest.mark.parametrize("changes, field", [
    ({"status": "closed"}, "status"),      # closing is DELETE
    ({"status": "asleep"}, "status"),
    ({"email": "nope"}, "email"),
    ({"points": {"balance": 1000}}, "points"),
    ({"member_code": "AAAAAAAA"}, "member_code"),
])
def test_bad_patch_is_a_validation_error(client, admin, enroll, changes, field):
    member = enroll(email="keep@example.com")
    response = client.patch(f"/v1/members/{member['id']}", json=changes, headers=admin)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]["fields"]
    assert get_member(client, admin, member["id"]).get_json() == member


def test_delete_anonymises_and_closes_but_keeps_the_ledger(client, admin, storefront, enroll):
    """DELETE: personal data gone, status closed, the ledger and balance still there."""
    client.patch("/v1/program", json={"signup_bonus": 50}, headers=admin)
    member = enroll(**{k: v for k, v in FULL_PROFILE.items()})
    assert adjust(client, admin, member["id"], 7).status_code == 201
    before = entries(client, admin, member["id"])["data"]

    response = client.delete(f"/v1/members/{member['id']}", headers=storefront)
    assert response.status_code == 200, response.get_json()
    closed = response.get_json()
    for field in ("email", "name", "phone", "birthday", "stripe_customer_id"):
        assert closed[field] is None, field
    assert closed["metadata"] in ({}, None)
    assert closed["status"] == "closed"
    assert closed["id"] == member["id"]
    assert get_member(client, admin, member["id"]).get_json()["status"] == "closed"

    assert entries(client, admin, member["id"])["data"] == before
    assert db.session.query(LedgerEntry).filter_by(member_id=member["id"]).count() == 2
    assert closed["points"]["balance"] == 57
    # The personal data is really gone, not just hidden from the response.
    for field in ("email", "stripe_customer_id"):
        assert lookup(client, admin, **{field: FULL_PROFILE[field]})["data"] == []
    row = db.session.get(Member, member["id"])
    db.session.refresh(row)
    assert (row.email, row.name, row.phone, row.birthday, row.stripe_customer_id) == (None,) * 5


@pytest.mark.parametrize("method, path, body", [
    ("get", "/v1/members/{id}", None),
    ("patch", "/v1/members/{id}", {"name": "x"}),
    ("delete", "/v1/members/{id}", None),
    ("get", "/v1/members/{id}/transactions", None),
    ("post", "/v1/members/{id}/adjustments", {"points": 5, "reason": "r"}),
])
def test_unknown_member_is_not_found(client, admin, enroll, method, path, body):
    """Every /v1/members/{id} route answers 404 not_found for an id that does not exist."""
    enroll()
    kwargs = {"json": body} if body is not None else {}
    response = getattr(client, method)(path.format(id="mem_doesnotexist"), headers=admin, **kwargs)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["code"] == "not_found"


# --- the ledger over HTTP --------------------------------------------------------------------

def test_transactions_are_newest_first_and_paginated(client, admin, enroll):
    """Do limit and next_cursor walk the whole ledger, newest first, each entry once?"""
    member = enroll()
    for points in (1, 2, 3, 4, 5):
        assert adjust(client, admin, member["id"], points, reason=f"r{points}").status_code == 201

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = entries(client, admin, member["id"], **query)
        assert len(page["data"]) <= 2
        seen.extend(page["data"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "pagination does not end"
    assert pages == 3
    assert [e["points"] for e in seen] == [5, 4, 3, 2, 1]
    assert [e["balance_after"] for e in seen] == [15, 10, 6, 3, 1]
    assert [e["note"] for e in seen] == ["r5", "r4", "r3", "r2", "r1"]
    assert len({e["id"] for e in seen}) == 5
    assert all(e["type"] == "adjustment" for e in seen)
    assert entries(client, admin, member["id"], limit=100)["data"] == seen


def test_transactions_default_page_is_twenty(client, admin, enroll):
    member = enroll()
    for n in range(21):
        adjust(client, admin, member["id"], 1, reason=f"n{n}")
    page = entries(client, admin, member["id"])
    assert len(page["data"]) == 20
    assert page["next_cursor"] is not None
    rest = entries(client, admin, member["id"], cursor=page["next_cursor"])
    assert [e["note"] for e in rest["data"]] == ["n0"]
    assert rest["next_cursor"] is None


def test_earn_entry_names_its_purchase(client, admin, program, enroll):
    """An earn entry carries the purchase_id it came from."""
    member = enroll()
    purchase = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "o-1", "amount": 2500, "currency": "usd"}).get_json()
    [entry] = entries(client, admin, member["id"])["data"]
    assert (entry["type"], entry["points"], entry["purchase_id"]) == ("earn", 25, purchase["id"])


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "not-a-cursor"}])
def test_bad_page_arguments_are_a_validation_error(client, admin, enroll, query):
    member = enroll()
    response = client.get(f"/v1/members/{member['id']}/transactions", headers=admin, query_string=query)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "validation_error"


def test_cursor_of_the_wrong_shape_is_a_validation_error(client, admin, enroll):
    """A cursor from another list (string member ids) given to the ledger (integer ids): 422, not 500."""
    member = enroll()
    adjust(client, admin, member["id"], 3)
    foreign = base64.urlsafe_b64encode(json.dumps(["mem_zzzz"]).encode()).decode().rstrip("=")
    response = client.get(f"/v1/members/{member['id']}/transactions", headers=admin,
                          query_string={"cursor": foreign})
    assert response.status_code == 422, response.get_json()


# --- adjustments -----------------------------------------------------------------------------

@pytest.mark.parametrize("moves, final", [
    ([100], 100),
    ([100, -30], 70),
    ([100, -100], 0),
    ([1, 1, 1], 3),
])
def test_adjustment_moves_the_balance(client, admin, enroll, moves, final):
    """Does each adjustment answer 201 with the entry and move the balance by its signed points?"""
    member = enroll()
    running = 0
    for points in moves:
        response = adjust(client, admin, member["id"], points, reason="correction")
        assert response.status_code == 201, response.get_json()
        running += points
        entry = response.get_json()
        assert (entry["type"], entry["points"], entry["balance_after"], entry["note"]) == (
            "adjustment", points, running, "correction")
    assert balance(client, admin, member["id"]) == final
    assert [e["points"] for e in entries(client, admin, member["id"])["data"]] == list(reversed(moves))


@pytest.mark.parametrize("body, field", [
    ({"points": 0, "reason": "nothing"}, "points"),
    ({"points": "5", "reason": "text"}, "points"),
    ({"points": 1.5, "reason": "float"}, "points"),
    ({"points": True, "reason": "bool"}, "points"),
    ({"reason": "no points"}, "points"),
    ({"points": 5}, "reason"),
    ({"points": 5, "reason": ""}, "reason"),
    ({"points": 5, "reason": None}, "reason"),
    ({"points": 5, "reason": "x", "approved_by": "me"}, "approved_by"),
])
def test_bad_adjustment_is_a_validation_error(client, admin, enroll, body, field):
    """Zero, non-integer or missing points, a missing reason: 422 naming the field, nothing moved."""
    member = enroll()
    response = client.post(f"/v1/members/{member['id']}/adjustments", json=body, headers=admin)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]
    assert balance(client, admin, member["id"]) == 0
    assert entries(client, admin, member["id"])["data"] == []


def test_storefront_may_not_adjust(client, admin, storefront, enroll):
    """Adjustments are admin and manager only: a storefront key gets 403 and nothing moves."""
    member = enroll()
    response = adjust(client, storefront, member["id"], 500)
    assert response.status_code == 403, response.get_json()
    assert response.get_json()["error"]["code"] == "forbidden"
    assert balance(client, admin, member["id"]) == 0
    assert entries(client, admin, member["id"])["data"] == []


@pytest.mark.parametrize("schema, value", [
    ("PointsSchema", {"balance": 120, "pending": 0}),
    ("TierProgressSchema", {"qualifying_points": 40, "next_tier": "gold", "points_to_next_tier": 60,
                            "held_until": datetime(2027, 3, 1, 10, 0, 5, 120, tzinfo=timezone.utc)}),
    ("TierProgressSchema", {"qualifying_points": 0, "next_tier": None, "points_to_next_tier": None,
                            "held_until": None}),
])
def test_a_computed_dict_is_written_as_its_schemas_dump(schema, value):
    """Computed writes a dict with the nested schema's fields, skipping Schema.dump: same output?"""
    from loyalty.api import members as api

    nested = getattr(api, schema)
    holder = ma.Schema.from_dict({"field": Computed(nested, lambda obj: value)})
    assert holder().dump(object()) == {"field": nested().dump(value)}
