"""Outbound webhooks: the endpoints API, and the outbox recording each event once with its change."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from loyalty import clock
from loyalty.extensions import db
from loyalty.models import WebhookDelivery, WebhookEvent
from loyalty.outbound import secrets
from tests.helpers import run_jobs, stamp, statements_during

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def events_recorded(event_type=None) -> list[dict]:
    query = select(WebhookEvent.body).order_by(WebhookEvent.id)
    if event_type is not None:
        query = query.where(WebhookEvent.type == event_type)
    return [json.loads(body) for body in db.session.execute(query).scalars()]


def deliveries(endpoint_id=None) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    return db.session.execute(query).scalars().all()


def types_recorded() -> list[str]:
    return [recorded["type"] for recorded in events_recorded()]


def buy(client, headers, member_id, dollars, order_id, occurred_at=None):
    body = {"member_id": member_id, "order_id": order_id, "amount": dollars * 100, "currency": "usd"}
    if occurred_at is not None:
        body["occurred_at"] = stamp(occurred_at)
    return client.post("/v1/purchases", json=body, headers=headers)


# -- endpoints ---------------------------------------------------------------------------------

def test_an_endpoint_is_created_with_a_secret_shown_once(client, admin, webhook_endpoint):
    created = webhook_endpoint(events=["member.enrolled", "points.expired"], description="CRM")
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["member.enrolled", "points.expired"]
    assert created["active"] is True and created["description"] == "CRM"
    shown = client.get(f"/v1/webhook-endpoints/{created['id']}", headers=admin).get_json()
    listed = client.get("/v1/webhook-endpoints", headers=admin).get_json()["data"]
    assert "secret" not in shown and all("secret" not in row for row in listed)
    assert [row["id"] for row in listed] == [created["id"]]


def test_the_secret_is_stored_encrypted(webhook_endpoint):
    from loyalty.models import WebhookEndpoint
    created = webhook_endpoint()
    stored = db.session.get(WebhookEndpoint, created["id"]).secret_encrypted
    assert created["secret"].encode() not in stored
    assert secrets.decrypt(stored) == created["secret"]


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.com/hook", "events": ["*"]},
    {"url": "javascript:alert(1)", "events": ["*"]},
    {"url": "not a url", "events": ["*"]},
    {"url": "https://example.com/hook", "events": []},
    {"url": "https://example.com/hook", "events": ["member.unknown"]},
    {"url": "https://example.com/hook"},
    {"url": "https://example.com/hook", "events": ["*"], "secret": "mine"},
])
def test_bad_endpoints_are_422(client, admin, body):
    response = client.post("/v1/webhook-endpoints", headers=admin, json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"


def test_the_allow_list_setting_refuses_other_hosts(app, client, admin):
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ["hooks.example.com", "*.crm.example"]
    try:
        refused = client.post("/v1/webhook-endpoints", headers=admin,
                              json={"url": "http://169.254.169.254/latest", "events": ["*"]})
        allowed = [client.post("/v1/webhook-endpoints", headers=admin, json={"url": url, "events": ["*"]})
                   for url in ("https://hooks.example.com/x", "https://eu.crm.example/in")]
    finally:
        app.config["WEBHOOK_ALLOWED_HOSTS"] = []
    assert refused.status_code == 422 and "url" in refused.get_json()["error"]["details"]["fields"]
    assert [response.status_code for response in allowed] == [201, 201]


def test_endpoints_are_admin_only(client, storefront, webhook_endpoint):
    created = webhook_endpoint()
    for method, path in (("get", "/v1/webhook-endpoints"), ("get", f"/v1/webhook-endpoints/{created['id']}"),
                         ("get", "/v1/webhook-deliveries"), ("get", "/v1/webhook-queue")):
        assert getattr(client, method)(path, headers=storefront).status_code == 403


def test_update_disable_and_delete(client, admin, webhook_endpoint):
    created = webhook_endpoint()
    path = f"/v1/webhook-endpoints/{created['id']}"
    changed = client.patch(path, headers=admin, json={
        "url": "https://example.com/new", "events": ["points.expired", "points.expired"],
        "description": "new", "active": False}).get_json()
    assert (changed["url"], changed["events"], changed["description"], changed["active"]) == (
        "https://example.com/new", ["points.expired"], "new", False)
    assert client.patch(path, headers=admin, json={"url": "gopher://x"}).status_code == 422
    deleted = client.delete(path, headers=admin)
    assert deleted.status_code == 200 and deleted.get_json() == {"id": created["id"], "deleted": True}
    assert client.get(path, headers=admin).status_code == 404
    assert client.delete(path, headers=admin).status_code == 404
    assert client.get("/v1/webhook-endpoints", headers=admin).get_json()["data"] == []


def test_rotation_gives_a_new_secret_and_keeps_the_old_one_a_while(client, admin, webhook_endpoint):
    created = webhook_endpoint()
    path = f"/v1/webhook-endpoints/{created['id']}/rotate-secret"
    with clock.frozen(T0):
        rotated = client.post(path, headers=admin, json={"expire_previous_in_hours": 2}).get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"] == stamp(T0 + timedelta(hours=2))
    assert client.post(path, headers=admin, json={"expire_previous_in_hours": 73}).status_code == 422
    now = client.post(path, headers=admin, json={"expire_previous_in_hours": 0}).get_json()
    assert now["previous_secret_expires_at"] is None
    default = client.post(path, headers=admin, json={}).get_json()
    assert default["previous_secret_expires_at"] is not None


# -- the outbox ----------------------------------------------------------------------------------

def test_enrolment_records_member_enrolled_with_the_member_as_the_api_shows_it(client, admin, enroll,
                                                                                webhook_endpoint):
    hook = webhook_endpoint(events=["member.enrolled"])
    member = enroll(email="ann@example.com")
    [recorded] = events_recorded()
    assert recorded["type"] == "member.enrolled" and recorded["id"].startswith("evt_")
    assert recorded["data"]["object"] == client.get(f"/v1/members/{member['id']}", headers=admin).get_json()
    [delivery] = deliveries()
    assert (delivery.endpoint_id, delivery.event_id, delivery.status, delivery.attempts) == (
        hook["id"], recorded["id"], "pending", 0)


def test_a_refused_enrolment_records_nothing(client, admin, enroll, program, webhook_endpoint):
    webhook_endpoint()
    enroll(external_id="twice")
    assert client.post("/v1/members", json={"external_id": "twice"}, headers=admin).status_code == 409
    assert types_recorded() == ["member.enrolled"]


def test_one_delivery_per_subscribed_active_endpoint(client, admin, enroll, program, webhook_endpoint):
    everything, enrolments = webhook_endpoint(), webhook_endpoint(events=["member.enrolled"])
    other = webhook_endpoint(events=["points.expired"])
    disabled = webhook_endpoint()
    client.patch(f"/v1/webhook-endpoints/{disabled['id']}", headers=admin, json={"active": False})
    deleted = webhook_endpoint()
    client.delete(f"/v1/webhook-endpoints/{deleted['id']}", headers=admin)
    enroll()
    assert sorted(delivery.endpoint_id for delivery in deliveries()) == sorted([everything["id"], enrolments["id"]])
    assert other["id"] not in {delivery.endpoint_id for delivery in deliveries()}


def test_a_tier_change_is_recorded_once_and_not_for_the_first_tier(client, admin, enroll, ladder, webhook_endpoint):
    webhook_endpoint()
    member = enroll()
    with clock.frozen(T0):
        buy(client, admin, member["id"], 100, "o1", T0)
        buy(client, admin, member["id"], 450, "o2", T0)
        buy(client, admin, member["id"], 10, "o3", T0)
    [changed] = events_recorded("member.tier_changed")
    assert changed["data"]["object"] == {"member_id": member["id"], "from": "bronze", "to": "silver",
                                         "direction": "up", "effective_at": stamp(T0), "reason": "purchase"}
    assert types_recorded() == ["member.enrolled", "member.tier_changed"]


def test_a_downgrade_is_recorded_with_direction_down(client, admin, enroll, ladder, webhook_endpoint):
    webhook_endpoint(events=["member.tier_changed"])
    member = enroll()
    with clock.frozen(T0):
        buy(client, admin, member["id"], 600, "o1", T0)
    later = T0 + timedelta(days=800)
    run_jobs(later)
    changes = [recorded["data"]["object"] for recorded in events_recorded("member.tier_changed")]
    assert [(change["from"], change["to"], change["direction"]) for change in changes] == [
        ("bronze", "silver", "up"), ("silver", "bronze", "down")]
    assert changes[1]["effective_at"] == stamp(later) and changes[1]["reason"] == "evaluation"


def test_an_earn_costs_nothing_extra_unless_it_emits_an_event_and_then_one_statement(
        client, admin, enroll, ladder, webhook_endpoint):
    webhook_endpoint()
    member = enroll()
    with clock.frozen(T0):
        buy(client, admin, member["id"], 10, "warm", T0)  # settings read and kept
        quiet = statements_during(lambda: buy(client, admin, member["id"], 10, "quiet", T0))
        crossing = statements_during(lambda: buy(client, admin, member["id"], 500, "crossing", T0))
    assert not [statement for statement in quiet if "webhook" in statement]
    assert [statement for statement in crossing if "webhook" in statement] == [
        next(statement for statement in crossing if statement.startswith("INSERT INTO webhook_events"))]


def test_a_rolled_back_change_records_nothing(client, admin, enroll, ladder, webhook_endpoint):
    from loyalty import members as member_domain
    from loyalty.actors import SYSTEM
    webhook_endpoint()
    db.session.commit()
    try:
        member_domain.enroll({"external_id": "rolled-back"}, SYSTEM)
        assert types_recorded() == ["member.enrolled"]
    finally:
        db.session.rollback()
    assert types_recorded() == [] and deliveries() == []


def test_redemption_events_carry_the_redemption_as_the_api_shows_it(client, admin, voucher, webhook_endpoint):
    webhook_endpoint(events=["redemption.issued", "redemption.used", "redemption.voided"])
    _, used = voucher()
    client.post(f"/v1/redemptions/{used['code']}/use", headers=admin, json={})
    assert client.post(f"/v1/redemptions/{used['code']}/use", headers=admin, json={}).status_code == 409
    _, voided = voucher()
    client.post(f"/v1/redemptions/{voided['code']}/void", headers=admin, json={})
    assert client.post(f"/v1/redemptions/{voided['code']}/void", headers=admin, json={}).status_code == 409
    recorded = [(e["type"], e["data"]["object"]["id"], e["data"]["object"]["status"])
                for e in events_recorded() if e["type"].startswith("redemption.")]
    assert recorded == [("redemption.issued", used["id"], "issued"), ("redemption.used", used["id"], "used"),
                        ("redemption.issued", voided["id"], "issued"), ("redemption.voided", voided["id"], "voided")]
    shown = client.get(f"/v1/redemptions/{voided['code']}", headers=admin).get_json()
    assert events_recorded("redemption.voided")[0]["data"]["object"] == shown


def test_use_now_records_issued_then_used(client, admin, voucher, webhook_endpoint):
    webhook_endpoint()
    voucher(use_now=True)
    assert [t for t in types_recorded() if t.startswith("redemption.")] == ["redemption.issued", "redemption.used"]


def test_a_refused_redemption_records_nothing(client, admin, voucher, webhook_endpoint):
    member, _ = voucher()
    webhook_endpoint()
    before = types_recorded()
    expensive = client.post("/v1/rewards", headers=admin, json={
        "name": "Car", "cost_points": 10**6, "kind": "custom", "value": {}}).get_json()
    response = client.post(f"/v1/members/{member['id']}/redemptions", headers=admin,
                           json={"reward_id": expensive["id"]})
    assert response.status_code == 409
    assert types_recorded() == before and deliveries() == []


def test_an_expired_voucher_and_expired_points_are_recorded_once(client, admin, voucher, webhook_endpoint):
    member, _ = voucher()
    webhook_endpoint()
    client.patch("/v1/program", headers=admin, json={"expiry_policy": "inactivity", "expiry_days": 30})
    later = clock.now() + timedelta(days=400)
    run_jobs(later)
    run_jobs(later)
    [expired_voucher] = events_recorded("redemption.expired")
    assert expired_voucher["data"]["object"]["status"] == "expired"
    [expired] = events_recorded("points.expired")
    assert expired["data"]["object"] == {"member_id": member["id"], "points": 1000}


def test_expiring_notice_days_is_a_program_setting(client, admin, program):
    assert client.get("/v1/program", headers=admin).get_json()["expiring_notice_days"] == 14
    changed = client.patch("/v1/program", headers=admin, json={"expiring_notice_days": 7})
    assert changed.get_json()["expiring_notice_days"] == 7
    assert client.patch("/v1/program", headers=admin, json={"expiring_notice_days": -1}).status_code == 422


# -- deliveries API -------------------------------------------------------------------------------

def test_deliveries_are_listed_filtered_shown_and_retried(client, admin, enroll, program, webhook_endpoint):
    first, second = webhook_endpoint(), webhook_endpoint(events=["member.enrolled"])
    enroll()
    enroll()
    listed = client.get("/v1/webhook-deliveries", headers=admin).get_json()["data"]
    assert len(listed) == 4 and listed == sorted(listed, key=lambda row: row["id"], reverse=True)
    mine = client.get(f"/v1/webhook-deliveries?endpoint_id={second['id']}", headers=admin).get_json()["data"]
    assert {row["endpoint_id"] for row in mine} == {second["id"]} and len(mine) == 2
    assert client.get("/v1/webhook-deliveries?status=failed", headers=admin).get_json()["data"] == []
    assert len(client.get("/v1/webhook-deliveries?event_type=member.enrolled&status=pending",
                          headers=admin).get_json()["data"]) == 4
    assert client.get("/v1/webhook-deliveries?status=lost", headers=admin).status_code == 422
    assert client.get("/v1/webhook-deliveries?event_type=x.y", headers=admin).status_code == 422
    page = client.get("/v1/webhook-deliveries?limit=3", headers=admin).get_json()
    rest = client.get(f"/v1/webhook-deliveries?limit=3&cursor={page['next_cursor']}", headers=admin).get_json()
    assert [row["id"] for row in page["data"] + rest["data"]] == [row["id"] for row in listed]

    one = client.get(f"/v1/webhook-deliveries/{listed[0]['id']}", headers=admin).get_json()
    assert one["event"]["id"] == one["event_id"] and one["event"]["type"] == "member.enrolled"
    assert one["attempt_log"] == [] and one["status"] == "pending"
    assert client.get("/v1/webhook-deliveries/whd_nope", headers=admin).status_code == 404

    retried = client.post(f"/v1/webhook-deliveries/{listed[0]['id']}/retry", headers=admin)
    assert retried.status_code == 200 and retried.get_json()["status"] == "pending"
    assert client.post("/v1/webhook-deliveries/whd_nope/retry", headers=admin).status_code == 404
    queue = client.get("/v1/webhook-queue", headers=admin).get_json()
    assert queue["pending"] == 4 and queue["failed"] == 0 and queue["due"] >= 1


def test_deleting_an_endpoint_drops_its_pending_deliveries(client, admin, enroll, program, webhook_endpoint):
    kept, dropped = webhook_endpoint(), webhook_endpoint()
    enroll()
    client.delete(f"/v1/webhook-endpoints/{dropped['id']}", headers=admin)
    assert [delivery.endpoint_id for delivery in deliveries()] == [kept["id"]]


def test_case_and_feedback_events_carry_them_as_the_api_shows_them(client, admin, enroll, webhook_endpoint):
    webhook_endpoint(events=["case.opened", "case.resolved", "feedback.received"])
    member = enroll()
    opened = client.post(f"/v1/members/{member['id']}/cases", headers=admin,
                         json={"subject": "Late parcel", "category": "delivery"}).get_json()
    resolved = client.post(f"/v1/cases/{opened['id']}/resolve", headers=admin, json={"resolution": "Refunded"})
    assert resolved.status_code == 200
    assert client.post(f"/v1/cases/{opened['id']}/resolve", headers=admin,
                       json={"resolution": "Again"}).status_code == 409
    feedback = client.post(f"/v1/members/{member['id']}/feedback", headers=admin,
                           json={"kind": "csat", "score": 5}).get_json()
    assert [e["type"] for e in events_recorded() if not e["type"].startswith("member.")] == [
        "case.opened", "case.resolved", "feedback.received"]
    assert events_recorded("case.opened")[0]["data"]["object"]["status"] == "open"
    assert events_recorded("case.resolved")[0]["data"]["object"] == resolved.get_json()
    assert events_recorded("feedback.received")[0]["data"]["object"] == feedback
    assert len(deliveries()) == 3
