"""API.md Operations: health, the OpenAPI document, the append-only ledger and the CLI commands."""
import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from loyalty.api.security import EVERYONE
from loyalty.extensions import db
from loyalty.models import ApiKey, LedgerEntry
from tests.helpers import allowed_roles, cli


def adjust(client, headers, member_id, points, reason="r"):
    response = client.post(f"/v1/members/{member_id}/adjustments", json={"points": points, "reason": reason},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- /healthz --------------------------------------------------------------------------------

def test_healthz_is_ok_without_a_credential(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(unreachable_app):
    response = unreachable_app.test_client().get("/healthz")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "service_unavailable"


def test_api_is_503_not_500_when_the_database_is_unreachable(unreachable_app):
    """Any endpoint that needs the database says so with a 503 JSON error, not a crash."""
    response = unreachable_app.test_client().get(
        "/v1/program", headers={"Authorization": "Bearer lk_abcdefabcdef_secret"})
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert "Traceback" not in response.get_data(as_text=True)


def test_the_api_description_needs_no_database(unreachable_app):
    assert unreachable_app.test_client().get("/openapi.json").status_code == 200


def test_api_is_503_when_no_database_connection_is_free(client, admin, monkeypatch):
    """A connection pool still exhausted after its timeout is a busy service (503), not a crash."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from loyalty import members

    def exhausted(member_id):
        raise PoolTimeout("QueuePool limit of size 5 overflow 5 reached, connection timed out")

    monkeypatch.setattr(members, "get_member_with_progress", exhausted)
    response = client.get("/v1/members/mem_any", headers=admin)
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"


# --- /openapi.json and /docs -----------------------------------------------------------------

def api_operations(app):
    """(OpenAPI path, method) for every Flask route under /v1."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/") and rule.rule != "/v1":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield path, method.lower()


def test_openapi_is_version_3(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert "bearer" in spec["components"]["securitySchemes"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_openapi_documents_every_route(app, spec):
    """Every /v1 route and method is in the document, with its success response; nothing extra."""
    operations = sorted(set(api_operations(app)))
    assert len(operations) >= 10
    missing = [(path, method) for path, method in operations if method not in spec["paths"].get(path, {})]
    assert missing == []
    for path, method in operations:
        responses = spec["paths"][path][method]["responses"]
        assert any(re.fullmatch(r"2\d\d", code) for code in responses), (path, method)
    documented = {(path, method) for path, item in spec["paths"].items() for method in item
                  if path.startswith("/v1") and method in ("get", "post", "patch", "put", "delete")}
    assert documented == set(operations)


def _refs_error_schema(response_doc, spec):
    if "$ref" in response_doc:
        response_doc = spec["components"]["responses"][response_doc["$ref"].rsplit("/", 1)[-1]]
    schema = response_doc["content"]["application/json"]["schema"]
    return schema == {"$ref": "#/components/schemas/Error"}


# Operations that take no credential: logging in is how a staff member gets one.
PUBLIC_OPERATIONS = {("/v1/staff/sessions", "post")}


def test_openapi_documents_the_error_responses(app, spec):
    """Each /v1 operation documents 401 (and 403 unless every role may call it), 422 when it reads input, 404 when it takes an id,
    all with the contract's error schema."""
    for path, method in set(api_operations(app)):
        operation = spec["paths"][path][method]
        responses = operation["responses"]
        public = (path, method) in PUBLIC_OPERATIONS
        assert public == (operation.get("security") == []), (path, method)
        expected = {"401"}
        if public:
            expected = set()
        elif allowed_roles(app, path, method) != set(EVERYONE):
            expected.add("403")  # some credentials are let in, others not
        if "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", [])):
            expected.add("422")
        if "{" in path:
            expected.add("404")
        assert expected <= responses.keys(), (path, method, sorted(responses))
        for code, response_doc in responses.items():
            if code.startswith(("4", "5")):
                assert _refs_error_schema(response_doc, spec), (path, method, code)
        assert public or operation.get("security", spec.get("security")), (path, method)


def test_openapi_error_schema_matches_the_contract(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    body = schemas["Error"]["properties"]["error"]
    body = schemas[body["$ref"].rsplit("/", 1)[-1]] if "$ref" in body else body
    assert {"code", "message", "details"} <= body["properties"].keys()
    assert {"code", "message"} <= set(body["required"])


def test_open_documents_need_no_credential(spec):
    """/healthz is documented as needing no credential."""
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "503" in spec["paths"]["/healthz"]["get"]["responses"]


def _documented(spec, path, method):
    return spec["paths"][path][method]["responses"].keys()


@pytest.mark.parametrize("case", [
    "member_exists", "not_found", "currency_not_enabled", "refund_exceeds_purchase", "order_exists",
    "insufficient_points",
])
def test_statuses_the_api_gives_are_documented(client, admin, program, enroll, spec, case):
    """An error status an endpoint really answers is listed among that operation's responses."""
    member = enroll(external_id="doc-1")
    purchase = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "doc-o", "amount": 1000, "currency": "usd"}).get_json()
    requests = {
        "member_exists": ("post", "/v1/members", "/v1/members", {"external_id": "doc-1"}),
        "not_found": ("get", "/v1/members/mem_none", "/v1/members/{member_id}", None),
        "currency_not_enabled": ("post", "/v1/purchases", "/v1/purchases",
                                 {"member_id": member["id"], "order_id": "gbp", "amount": 100, "currency": "gbp"}),
        "refund_exceeds_purchase": ("post", f"/v1/purchases/{purchase['id']}/refunds",
                                    "/v1/purchases/{purchase_id}/refunds", {"amount": 1001}),
        "order_exists": ("post", "/v1/purchases", "/v1/purchases",
                         {"member_id": member["id"], "order_id": "doc-o", "amount": 999, "currency": "usd"}),
        "insufficient_points": ("post", f"/v1/members/{member['id']}/adjustments",
                                "/v1/members/{member_id}/adjustments", {"points": -1000, "reason": "too much"}),
    }
    method, url, path, body = requests[case]
    response = getattr(client, method)(url, headers=admin, **({"json": body} if body is not None else {}))
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]["code"] == case
    assert str(response.status_code) in _documented(spec, path, method)


def test_docs_is_an_html_page_for_the_spec(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<html" in page.lower()
    assert "openapi.json" in page


# --- the ledger is append-only ---------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE ledger_entries SET points = 999 WHERE id = :id",
    "UPDATE ledger_entries SET note = 'edited' WHERE id = :id",
    "UPDATE ledger_entries SET balance_after = balance_after WHERE id = :id",
    "DELETE FROM ledger_entries WHERE id = :id",
    "DELETE FROM ledger_entries",
])
def test_ledger_entries_cannot_be_changed_or_removed(client, admin, enroll, statement):
    """The database itself refuses UPDATE and DELETE on ledger entries, whoever asks."""
    member = enroll()
    entry_id = int(adjust(client, admin, member["id"], 25, reason="original")["id"])
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text(statement), {"id": entry_id})
    row = db.session.execute(text("SELECT points, note, balance_after FROM ledger_entries WHERE id = :id"),
                             {"id": entry_id}).one()
    assert tuple(row) == (25, "original", 25)


def test_other_tables_can_still_be_updated(client, admin, enroll):
    """Control for the test above: the guard is specific to ledger_entries."""
    member = enroll(name="Before")
    with db.session.begin_nested():
        db.session.execute(text("UPDATE members SET name = 'After' WHERE id = :id"), {"id": member["id"]})
    assert db.session.execute(text("SELECT name FROM members WHERE id = :id"), {"id": member["id"]}).scalar() == "After"


def test_orm_cannot_edit_a_ledger_entry(client, admin, enroll):
    member = enroll()
    entry_id = int(adjust(client, admin, member["id"], 10)["id"])
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            entry = db.session.get(LedgerEntry, entry_id)
            entry.points = 11
            db.session.flush()
    db.session.expire_all()
    assert db.session.get(LedgerEntry, entry_id).points == 10


# --- verify-ledger ---------------------------------------------------------------------------

def test_verify_ledger_passes_on_a_consistent_ledger(app, busy_ledger):
    result = cli(app, "verify-ledger")
    assert result.exit_code == 0, result.output
    for member in busy_ledger:
        assert member["id"] not in result.output


def corrupt_balance(member_id):
    db.session.execute(text("UPDATE members SET points_balance = points_balance + 1 WHERE id = :id"),
                       {"id": member_id})


def corrupt_pending(member_id):
    db.session.execute(text("UPDATE members SET points_pending = points_pending + 7 WHERE id = :id"),
                       {"id": member_id})


def break_chain(member_id):
    """An appended entry whose balance_after does not follow, with the cached balance kept in step."""
    db.session.add(LedgerEntry(member_id=member_id, type="adjustment", points=5, balance_after=9999,
                               actor_type="system"))
    db.session.flush()
    db.session.execute(text("UPDATE members SET points_balance = points_balance + 5 WHERE id = :id"),
                       {"id": member_id})


@pytest.mark.parametrize("corrupt", [corrupt_balance, corrupt_pending, break_chain])
def test_verify_ledger_fails_on_a_difference(app, client, admin, busy_ledger, corrupt):
    """A cached balance that disagrees with its entries: non-zero exit naming the member."""
    broken, intact = busy_ledger
    corrupt(broken["id"])
    db.session.commit()
    result = cli(app, "verify-ledger")
    assert result.exit_code != 0, result.output
    assert broken["id"] in result.output
    assert intact["id"] not in result.output


# --- create-api-key --------------------------------------------------------------------------

@pytest.mark.parametrize("role, patch_status", [("storefront", 403), ("admin", 200)])
def test_create_api_key_prints_a_working_key(app, client, role, patch_status):
    """The key is alone on the last line, works as a Bearer credential and carries its role."""
    result = cli(app, "create-api-key", "--name", "x", "--role", role)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    key = lines[-1]
    assert key == key.strip() and " " not in key and len(key) >= 20
    assert all(key not in line for line in lines[:-1])  # shown once
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/program", headers=headers).status_code == 200
    assert client.patch("/v1/program", json={"signup_bonus": 1}, headers=headers).status_code == patch_status
    assert client.get("/v1/program", headers={"Authorization": f"Bearer {key}x"}).status_code == 401


def test_api_keys_are_stored_hashed(app):
    result = cli(app, "create-api-key", "--name", "hashed", "--role", "storefront")
    key = result.stdout.strip().splitlines()[-1]
    row = db.session.query(ApiKey).filter_by(name="hashed").one()
    assert row.role == "storefront"
    stored = " ".join(str(value) for value in (row.lookup, row.secret_hash, row.name))
    assert key not in stored
    assert key.rsplit("_", 1)[-1] not in stored  # the secret part is not kept either


@pytest.mark.parametrize("args", [
    ["--name", "x", "--role", "bogus"],
    ["--name", "x", "--role", "manager"],
    ["--name", "x"],
    ["--role", "storefront"],
])
def test_create_api_key_refuses_bad_arguments(app, args):
    """An unknown role or a missing option: non-zero exit and no key created."""
    before = db.session.query(ApiKey).count()
    result = cli(app, "create-api-key", *args)
    assert result.exit_code != 0, result.output
    assert db.session.query(ApiKey).count() == before
