"""Bad input is a clear 4xx that tells the caller what to do (issue 16, items 4, 5, 6, 8 and 10):
malformed JSON, currencies ISO 4217 does not list, unknown query parameters, report windows,
and the messages of 401, 403, a body that is not JSON and a fractional amount."""
import hashlib
import hmac
import json
import time

import pytest
from click.testing import CliRunner

from tests.stripe_events import SECRET, deliver, event, payment_intent, unique
from tests.helpers import assert_error

# --- 4. malformed JSON ---------------------------------------------------------------------------

MALFORMED = {
    "nested 1,000 deep": "[" * 1000 + "]" * 1000,
    "objects nested 1,000 deep": '{"a":' * 1000 + "1" + "}" * 1000,
    "nested 100 deep": '{"external_id": ' + "[" * 100 + "]" * 100 + "}",
    "a 5,000-digit number": '{"external_id": "x", "amount": ' + "9" * 5000 + "}",
    "a 5,000-digit float": '{"external_id": "x", "amount": 0.' + "9" * 5000 + "}",
    "an infinite number": '{"external_id": "x", "amount": 1e999999}',
    "NaN": '{"external_id": "x", "amount": NaN}',
    "a lone surrogate": '{"external_id": "\\ud800", "email": "a@b.test", "password": "x"}',
    "a lone surrogate in a key": '{"\\udfff": 1}',
    "invalid UTF-8": b'{"external_id": "\xff\xfe\xc3"}',
    "not JSON": "{'external_id': 1}",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("path", ["/v1/staff/sessions", "/v1/members", "/v1/purchases", "/v1/program"])
def test_malformed_json_is_a_validation_error_on_every_endpoint(client, admin, program, path, body):
    method = client.patch if path == "/v1/program" else client.post
    response = method(path, data=body, headers={**admin, "Content-Type": "application/json"})
    error = assert_error(response, 422, "validation_error")
    assert "_body" in error["details"]["fields"], error


def test_malformed_json_needs_no_credential_to_be_refused(client):
    for name, body in MALFORMED.items():
        response = client.post("/v1/staff/sessions", data=body, headers={"Content-Type": "application/json"})
        assert_error(response, 422, "validation_error")


def test_request_get_json_reads_bodies_the_same_strict_way(app):
    """Code reading request.get_json() (not webargs) gets the same 422 as the API's arguments."""
    from flask import request

    from loyalty.errors import ValidationFailed
    with app.test_request_context("/", method="POST", data=MALFORMED["a lone surrogate"],
                                  content_type="application/json"):
        with pytest.raises(ValidationFailed, match="Unicode"):
            request.get_json()
    with app.test_request_context("/", method="POST", data=b"{}", content_type="text/plain"):
        with pytest.raises(ValidationFailed, match="Content-Type: application/json"):
            request.get_json()


def test_a_sensible_body_still_parses(client, admin, program):
    """Escaped pairs (an emoji), unicode text and deep-enough bodies are fine."""
    response = client.post("/v1/members", headers=admin, json={
        "external_id": "emoji-\U0001F600", "name": "Zoë \u00e9", "metadata": {"note": "\\ud800 as text"}})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["external_id"] == "emoji-\U0001F600"
    escaped = '{"external_id": "pair-\\ud83d\\ude00"}'
    response = client.post("/v1/members", headers={**admin, "Content-Type": "application/json"}, data=escaped)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["external_id"] == "pair-\U0001F600"


def _signed_bytes(payload: bytes) -> dict:
    timestamp = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


@pytest.mark.parametrize("body", [MALFORMED[name] for name in (
    "nested 1,000 deep", "a 5,000-digit number", "a lone surrogate", "NaN", "not JSON")])
def test_a_signed_webhook_that_cannot_be_parsed_is_400_and_stores_nothing(client, admin, body):
    payload = body.encode() if isinstance(body, str) else body
    response = client.post("/webhooks/stripe", data=payload, headers=_signed_bytes(payload))
    assert_error(response, 400, "bad_request")
    assert client.get("/v1/payment-events", headers=admin).get_json()["data"] == []


def test_a_signed_webhook_with_a_deep_object_is_400(client, admin, program, enroll):
    paying = event("payment_intent.succeeded", payment_intent(unique("pi"), 1000))
    payload = ('{"deep": ' + "[" * 100 + "]" * 100 + ", " + json.dumps(paying)[1:]).encode()
    response = client.post("/webhooks/stripe", data=payload, headers=_signed_bytes(payload))
    assert_error(response, 400, "bad_request")


# --- 5. ISO 4217 currencies ----------------------------------------------------------------------

@pytest.mark.parametrize("currency", ["xyz", "abc", "XXX", "xau", "usdd", "us"])
def test_a_code_iso_4217_does_not_list_is_refused_everywhere(client, admin, program, enroll, currency):
    """Not a currency (or, like XXX and gold, one with no minor unit): 422 as an earn rate, a point
    value, a reward's value and a purchase's currency."""
    member = enroll()
    for method, path, body in [
        ("patch", "/v1/program", {"earn_rates": {currency: "1"}}),
        ("patch", "/v1/program", {"point_value": {"amount": 1, "currency": currency}}),
        ("post", "/v1/rewards", {"name": "Five off", "cost_points": 100, "kind": "discount_amount",
                                 "value": {"amount": 500, "currency": currency}}),
        ("post", "/v1/purchases", {"member_id": member["id"], "order_id": "o-1", "amount": 1000,
                                   "currency": currency}),
    ]:
        response = getattr(client, method)(path, headers=admin, json=body)
        error = assert_error(response, 422, "validation_error")
        assert "ISO 4217" in str(error["details"]), (path, error)
    assert currency.lower() not in client.get("/v1/program", headers=admin).get_json()["earn_rates"]


@pytest.mark.parametrize("currency, amount, points", [
    ("CLF", 12345, 1),    # four decimals (Chile's unidad de fomento): 1.2345
    ("isk", 250, 250),    # zero decimals
    ("bhd", 1500, 1),     # three decimals
    ("mga", 250, 2),      # ISO 4217 gives the ariary 2 decimals
])
def test_exponents_come_from_iso_4217(client, admin, program, enroll, currency, amount, points):
    assert client.patch("/v1/program", headers=admin, json={"earn_rates": {currency: "1"}}).status_code == 200
    member = enroll()
    response = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": f"o-{currency}", "amount": amount, "currency": currency})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["points_earned"] == points


def test_a_stripe_payment_in_an_unknown_currency_fails_and_records_nothing(client, admin, program, enroll):
    from loyalty.extensions import db
    from loyalty.models import Program
    row = db.session.get(Program, 1)
    row.earn_rates = {**row.earn_rates, "zzz": "1"}  # as an older release could have stored it
    db.session.commit()
    member = enroll()
    body = deliver(client, event("payment_intent.succeeded", payment_intent(
        unique("pi"), 5000, "zzz", metadata={"loyalty_member_id": member["id"]}))).get_json()
    assert body["status"] == "failed"
    assert client.get(f"/v1/members/{member['id']}/purchases", headers=admin).get_json()["data"] == []


# --- 6. unknown query parameters, ?phone= ---------------------------------------------------------

def _endpoints(app):
    from loyalty.api import RESOURCE_BLUEPRINTS
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in RESOURCE_BLUEPRINTS:
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<{argument}>", "x")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def test_every_endpoint_refuses_a_query_parameter_it_does_not_take(app, client, admin, storefront, enroll):
    member = enroll()
    customer = client.post(f"/v1/members/{member['id']}/access-tokens", headers=storefront, json={})
    headers = {"admin": admin, "customer": {"Authorization": f"Bearer {customer.get_json()['token']}"}}
    checked = 0
    for method, path in _endpoints(app):
        role = "customer" if path == "/v1/me" or path.startswith("/v1/me/") else "admin"
        kwargs = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
        response = client.open(path + "?phone_number=555&limit=5", method=method, headers=headers[role], **kwargs)
        error = assert_error(response, 422, "validation_error")
        assert "phone_number" in str(error), (method, path, error)
        checked += 1
    assert checked > 40


def test_every_operation_documents_its_422(client):
    """Any operation may answer 422 (an unknown query parameter at least): /openapi.json says so."""
    spec = client.get("/openapi.json").get_json()
    missing = [f"{method.upper()} {path}" for path, operations in spec["paths"].items()
               for method, operation in operations.items()
               if method in ("get", "post", "put", "patch", "delete") and "422" not in operation["responses"]]
    assert missing == []


def test_query_parameters_an_endpoint_takes_still_work(client, admin, enroll):
    enroll(external_id="known")
    response = client.get("/v1/members?external_id=known&limit=5", headers=admin)
    assert response.status_code == 200
    assert [m["external_id"] for m in response.get_json()["data"]] == ["known"]


def test_phone_is_a_lookup_on_its_digits(client, admin, enroll):
    wanted = enroll(phone="15550102030", email="ana@shop.test")
    formatted = enroll(phone="+1 (555) 010-2030")
    enroll(phone="+1 555 010 2031")
    for _ in range(3):
        enroll(email=f"{unique('x')}@shop.test")
    for asked in ("+1 (555) 010-2030", "15550102030", "1-555-010-2030"):
        response = client.get("/v1/members", query_string={"phone": asked}, headers=admin)
        assert response.status_code == 200
        assert {m["id"] for m in response.get_json()["data"]} == {wanted["id"], formatted["id"]}, asked
    assert client.get("/v1/members?phone=555", headers=admin).get_json()["data"] == []
    assert_error(client.get("/v1/members?phone=abc", headers=admin), 422, "validation_error")


def test_a_changed_or_closed_phone_is_found_by_its_new_digits_only(client, admin, enroll):
    member = enroll(phone="555-0100")
    client.patch(f"/v1/members/{member['id']}", headers=admin, json={"phone": "(555) 0199"})
    assert client.get("/v1/members?phone=5550100", headers=admin).get_json()["data"] == []
    assert [m["id"] for m in client.get("/v1/members?phone=5550199", headers=admin).get_json()["data"]] == [
        member["id"]]
    client.delete(f"/v1/members/{member['id']}", headers=admin)
    assert client.get("/v1/members?phone=5550199", headers=admin).get_json()["data"] == []


# --- 8. window_days ------------------------------------------------------------------------------

@pytest.mark.parametrize("window_days", [0, -1, 366, 100000])
def test_window_days_outside_1_to_365_is_refused_by_every_report(client, admin, program, window_days):
    campaign = client.post("/v1/campaigns", headers=admin, json={
        "name": "c", "multiplier": "2", "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-03-15T00:00:00Z"})
    for path in ["/v1/reports/repurchase-by-tier?from=2026-01-01&to=2026-02-01",
                 f"/v1/campaigns/{campaign.get_json()['id']}/results?"]:
        error = assert_error(client.get(f"{path}&window_days={window_days}", headers=admin), 422,
                             "validation_error")
        assert "window_days" in error["details"]["fields"], error


def test_window_days_is_checked_by_the_reports_themselves(app, program):
    """The CLI and any other caller meet the same rule as the API."""
    from datetime import date

    from loyalty import campaigns
    from loyalty.errors import ValidationFailed
    from loyalty.reports import repurchase
    from loyalty.reports.period import Period
    for call in (lambda: repurchase.report(Period.of_dates(date(2026, 1, 1), date(2026, 2, 1)), 0),
                 lambda: campaigns.results("cmp_none", 366)):
        with pytest.raises(ValidationFailed, match="window_days"):
            call()


def test_cli_report_refuses_window_days_out_of_range(app):
    result = CliRunner().invoke(app.cli, ["loyalty", "report", "repurchase-by-tier", "--window-days", "0"])
    assert result.exit_code == 2 and "window-days" in result.output


# --- 10. errors that say what to do --------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_401_names_the_scheme(client, headers):
    response = client.get("/v1/program", headers=headers)
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_403_names_the_roles_that_may(client, storefront, staff_login):
    staff_headers = staff_login("cashier")
    error = assert_error(client.patch("/v1/program", headers=storefront, json={"signup_bonus": 1}), 403,
                         "forbidden")
    assert "admin" in error["message"] and "storefront" in error["message"]
    assert error["details"]["allowed_roles"] == ["admin"]
    error = assert_error(client.post("/v1/members", headers=staff_headers, json={"external_id": "x"}), 403,
                         "forbidden")
    assert "admin or storefront" in error["message"], error
    assert "cashier" in error["message"]  # what this credential is


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_body_without_a_json_content_type_says_so(client, admin, program, content_type):
    headers = dict(admin)
    if content_type:
        headers["Content-Type"] = content_type
    for method, path in (("post", "/v1/members"), ("patch", "/v1/program")):
        response = getattr(client, method)(path, headers=headers, data='{"external_id": "x", "signup_bonus": 1}')
        error = assert_error(response, 422, "validation_error")
        assert "Content-Type: application/json" in error["message"], error
        assert "Missing data" not in str(error)


def test_no_body_at_all_still_lists_the_missing_fields(client, admin):
    error = assert_error(client.post("/v1/members", headers=admin), 422, "validation_error")
    assert error["details"]["fields"]["external_id"] == ["Missing data for required field."]


@pytest.mark.parametrize("amount", [25.99, "25.99", "2599", 25.0])
def test_a_fractional_amount_says_amounts_are_minor_units(client, admin, program, enroll, amount):
    member = enroll()
    response = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "o-1", "amount": amount, "currency": "usd"})
    error = assert_error(response, 422, "validation_error")
    [message] = error["details"]["fields"]["amount"]
    assert "minor unit" in message and "2599" in message
