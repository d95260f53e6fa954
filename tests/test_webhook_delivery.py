"""The deliverer against a real HTTP receiver: signing, retries, failures, rotation, disabled endpoints."""
import threading
from datetime import timedelta

import pytest
import stripe
from sqlalchemy import select

from loyalty import clock
from loyalty.extensions import db
from loyalty.models import WebhookDelivery
from loyalty.outbound import deliverer
from tests.webhook_receiver import Receiver


def deliver(later_seconds: float = 0) -> int:
    """Run the deliverer once, optionally with the clock `later_seconds` ahead."""
    with clock.frozen(clock.now() + timedelta(seconds=later_seconds)):
        return deliverer.run(once=True, stop=threading.Event())


def only_delivery() -> WebhookDelivery:
    db.session.expire_all()
    [delivery] = db.session.execute(select(WebhookDelivery)).scalars().all()
    return delivery


def verify(received, secret):
    return stripe.WebhookSignature.verify_header(received.body.decode(), received.headers["Loyalty-Signature"],
                                                 secret, tolerance=300)


def test_a_delivery_is_signed_as_stripe_signs_and_recorded(client, admin, enroll, webhook_endpoint, webhook_receiver):
    endpoint = webhook_endpoint(url=webhook_receiver.url)
    member = enroll()
    assert deliver() == 1
    [received] = webhook_receiver.received
    assert received.headers["Content-Type"] == "application/json"
    assert verify(received, endpoint["secret"])
    with pytest.raises(stripe.SignatureVerificationError):
        verify(received, "whsec_someone_else")
    assert received.event["type"] == "member.enrolled" and received.event["data"]["object"]["id"] == member["id"]
    assert isinstance(received.event["created"], int)
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.next_attempt_at) == (
        "delivered", 1, 200, None)
    shown = client.get(f"/v1/webhook-deliveries/{delivery.id}", headers=admin).get_json()
    assert shown["event"] == received.event and shown["delivered_at"] is not None
    assert [(a["status_code"], a["error"]) for a in shown["attempt_log"]] == [(200, None)]
    assert deliver() == 0  # nothing is sent twice
    assert len(webhook_receiver.received) == 1


def test_failures_are_retried_on_the_schedule_then_failed(client, admin, enroll, webhook_endpoint, webhook_receiver,
                                                          webhook_settings):
    webhook_settings(retry_schedule=[10, 20])
    webhook_endpoint(url=webhook_receiver.url)
    enroll()
    webhook_receiver.status = 503
    deliver()
    first = only_delivery()
    assert (first.status, first.attempts, first.last_status_code, first.last_error) == (
        "pending", 1, 503, "answered 503")
    assert deliver(later_seconds=5) == 0  # not due yet
    assert deliver(later_seconds=11) == 1
    assert only_delivery().attempts == 2 and only_delivery().status == "pending"
    assert deliver(later_seconds=11 + 21) == 1
    failed = only_delivery()
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("failed", 3, None)
    failed_id = failed.id
    assert deliver(later_seconds=10**5) == 0

    webhook_receiver.status = 200
    retried = client.post(f"/v1/webhook-deliveries/{failed_id}/retry", headers=admin).get_json()
    assert retried["status"] == "pending" and retried["attempts"] == 3
    assert deliver() == 1
    assert (only_delivery().status, only_delivery().attempts) == ("delivered", 4)
    assert len(webhook_receiver.received) == 4 and len(set(webhook_receiver.event_ids())) == 1

    again = client.post(f"/v1/webhook-deliveries/{failed_id}/retry", headers=admin)  # a delivered one
    assert again.status_code == 200 and deliver() == 1
    assert (only_delivery().status, only_delivery().attempts, len(webhook_receiver.received)) == ("delivered", 5, 5)


def test_a_receiver_that_recovers_gets_it_on_the_next_try(enroll, webhook_endpoint, webhook_receiver,
                                                         webhook_settings):
    webhook_settings(retry_schedule=[1])
    webhook_endpoint(url=webhook_receiver.url)
    enroll()
    webhook_receiver.fail_next = 1
    deliver()
    deliver(later_seconds=2)
    assert only_delivery().status == "delivered" and only_delivery().attempts == 2


def test_a_refused_connection_is_a_failed_attempt(client, admin, enroll, webhook_endpoint, webhook_settings):
    webhook_settings(retry_schedule=[60])
    with Receiver() as closed:
        url = closed.url
    webhook_endpoint(url=url)
    enroll()
    deliver()
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error.startswith("connection failed")
    [attempt] = client.get(f"/v1/webhook-deliveries/{delivery.id}", headers=admin).get_json()["attempt_log"]
    assert attempt["status_code"] is None and attempt["error"].startswith("connection failed")


def test_a_time_out_is_a_failed_attempt(enroll, webhook_endpoint, webhook_receiver, webhook_settings):
    webhook_settings(retry_schedule=[60], timeout_seconds=0.3)
    webhook_endpoint(url=webhook_receiver.url)
    enroll()
    webhook_receiver.delay = 1.0
    deliver()
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "timed out after 0.3 s")


def test_during_a_rotation_both_secrets_sign(client, admin, enroll, webhook_endpoint, webhook_receiver):
    endpoint = webhook_endpoint(url=webhook_receiver.url)
    path = f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"
    rotated = client.post(path, headers=admin, json={"expire_previous_in_hours": 1}).get_json()
    enroll()
    deliver()
    [received] = webhook_receiver.received
    assert received.headers["Loyalty-Signature"].count("v1=") == 2
    assert verify(received, endpoint["secret"]) and verify(received, rotated["secret"])

    final = client.post(path, headers=admin, json={"expire_previous_in_hours": 0}).get_json()
    enroll()
    deliver()
    latest = webhook_receiver.received[-1]
    assert latest.headers["Loyalty-Signature"].count("v1=") == 1 and verify(latest, final["secret"])
    for old in (endpoint["secret"], rotated["secret"]):
        with pytest.raises(stripe.SignatureVerificationError):
            verify(latest, old)


def test_the_previous_secret_stops_signing_when_it_expires(client, admin, enroll, webhook_endpoint, webhook_receiver):
    endpoint = webhook_endpoint(url=webhook_receiver.url)
    rotated = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin,
                          json={"expire_previous_in_hours": 1}).get_json()
    enroll()
    deliver(later_seconds=3601)
    [received] = webhook_receiver.received
    assert received.headers["Loyalty-Signature"].count("v1=") == 1 and verify(received, rotated["secret"])


def test_a_disabled_endpoint_gets_nothing_until_enabled_and_a_deleted_one_nothing(
        client, admin, enroll, webhook_endpoint, webhook_receiver):
    paused, deleted = webhook_endpoint(url=webhook_receiver.url), webhook_endpoint(url=webhook_receiver.url)
    enroll()
    client.patch(f"/v1/webhook-endpoints/{paused['id']}", headers=admin, json={"active": False})
    client.delete(f"/v1/webhook-endpoints/{deleted['id']}", headers=admin)
    enroll()
    assert deliver() == 0 and webhook_receiver.received == []
    client.patch(f"/v1/webhook-endpoints/{paused['id']}", headers=admin, json={"active": True})
    assert deliver() == 1  # the first enrolment's, kept while it was disabled; the second made none
    assert len(webhook_receiver.received) == 1


def test_a_delivery_to_a_deleted_endpoint_cannot_be_retried(client, admin, enroll, webhook_endpoint,
                                                            webhook_receiver):
    endpoint = webhook_endpoint(url=webhook_receiver.url)
    enroll()
    deliver()
    delivery = only_delivery()
    client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=admin)
    response = client.post(f"/v1/webhook-deliveries/{delivery.id}/retry", headers=admin)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "endpoint_deleted"


def test_a_host_taken_off_the_allow_list_is_not_sent_to(enroll, webhook_endpoint, webhook_receiver, webhook_settings):
    webhook_settings(retry_schedule=[60])
    webhook_endpoint(url=webhook_receiver.url)
    enroll()
    webhook_settings(allowed_hosts=["hooks.example.com"])
    deliver()
    assert webhook_receiver.received == []
    assert only_delivery().last_error == "host not in WEBHOOK_ALLOWED_HOSTS: not sent"


def test_the_queue_shows_what_waits(client, admin, enroll, webhook_endpoint, webhook_receiver, webhook_settings):
    webhook_settings(retry_schedule=[60])
    webhook_endpoint(url=webhook_receiver.url)
    with clock.frozen(clock.now() - timedelta(seconds=30)):
        enroll()
    queue = client.get("/v1/webhook-queue", headers=admin).get_json()
    assert (queue["pending"], queue["due"]) == (1, 1) and queue["oldest_due_seconds"] >= 29
    deliver()
    assert client.get("/v1/webhook-queue", headers=admin).get_json()["pending"] == 0


def test_after_secret_key_changes_nothing_unsigned_is_sent_until_the_secret_is_rotated(
        app, client, admin, enroll, webhook_endpoint, webhook_receiver, webhook_settings):
    webhook_settings(retry_schedule=[60])
    endpoint = webhook_endpoint(url=webhook_receiver.url)
    enroll()
    app.config["SECRET_KEY"] = "a-new-secret-key"  # restored by `settings`
    deliver()
    assert webhook_receiver.received == [] and "rotate it" in only_delivery().last_error
    rotated = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin,
                          json={"expire_previous_in_hours": 24}).get_json()
    client.post(f"/v1/webhook-deliveries/{only_delivery().id}/retry", headers=admin)
    deliver()
    [received] = webhook_receiver.received
    assert received.headers["Loyalty-Signature"].count("v1=") == 1 and verify(received, rotated["secret"])


def test_run_jobs_forgets_old_finished_events_but_never_pending_ones(client, admin, enroll, webhook_endpoint,
                                                                    webhook_receiver):
    from loyalty import jobs
    from loyalty.models import WebhookAttempt, WebhookEvent

    webhook_endpoint(url=webhook_receiver.url)
    with clock.frozen(clock.now() - timedelta(days=40)):
        enroll()  # delivered below: forgotten
        enroll()  # still pending (not due yet): kept
    enroll()      # recent: kept
    pending_one = sorted(db.session.execute(select(WebhookDelivery.id)).scalars())[1]
    db.session.execute(WebhookDelivery.__table__.update().where(WebhookDelivery.id == pending_one)
                       .values(next_attempt_at=clock.now() + timedelta(days=1)))
    db.session.commit()
    assert deliver() == 2
    list(jobs.run_all())
    db.session.expire_all()
    events = db.session.execute(select(WebhookEvent.id)).scalars().all()
    left = db.session.execute(select(WebhookDelivery.status)).scalars().all()
    assert len(events) == 2 and sorted(left) == ["delivered", "pending"]
    assert len(db.session.execute(select(WebhookAttempt.id)).scalars().all()) == 1
