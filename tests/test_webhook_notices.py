"""run-jobs' webhook events: points.expiring (once per member and date) and member.at_risk (once per
quiet spell), however often run-jobs runs."""
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from loyalty.extensions import db
from loyalty.models import MemberNotice, WebhookEvent
from tests.helpers import run_jobs, stamp

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def recorded(event_type: str) -> list[dict]:
    bodies = db.session.execute(select(WebhookEvent.body).where(WebhookEvent.type == event_type)
                                .order_by(WebhookEvent.id)).scalars()
    return [json.loads(body)["data"]["object"] for body in bodies]


def test_points_expiring_is_recorded_once_per_member_and_date(client, admin, new_shopper, webhook_endpoint):
    webhook_endpoint(events=["points.expiring"])
    client.patch("/v1/program", headers=admin, json={"expiry_policy": "inactivity", "expiry_days": 30,
                                                     "expiring_notice_days": 14})
    buy = new_shopper()
    buy(50, T0)
    run_jobs(day(10))
    assert recorded("points.expiring") == []  # 20 days ahead: not yet
    run_jobs(day(17))
    run_jobs(day(17.5))
    run_jobs(day(20))
    assert recorded("points.expiring") == [{"member_id": buy.id, "points": 50,
                                            "on": day(30).date().isoformat()}]
    buy(20, day(25))  # the date moves to day 55
    run_jobs(day(31))
    assert len(recorded("points.expiring")) == 1
    run_jobs(day(42))
    run_jobs(day(43))
    assert recorded("points.expiring")[1:] == [{"member_id": buy.id, "points": 70,
                                                "on": day(55).date().isoformat()}]
    run_jobs(day(56))
    assert recorded("points.expired") == [{"member_id": buy.id, "points": 70}]
    assert len(recorded("points.expiring")) == 2


def test_points_expiring_under_fixed_expiry_names_the_first_lot(client, admin, new_shopper, webhook_endpoint):
    webhook_endpoint(events=["*"])
    client.patch("/v1/program", headers=admin, json={"expiry_policy": "fixed", "expiry_days": 100,
                                                     "expiring_notice_days": 7})
    buy = new_shopper()
    buy(30, T0)
    buy(40, day(5))
    run_jobs(day(94))
    assert recorded("points.expiring") == [{"member_id": buy.id, "points": 30,
                                            "on": day(100).date().isoformat()}]
    run_jobs(day(101))
    assert recorded("points.expired") == [{"member_id": buy.id, "points": 30}]
    assert [notice["on"] for notice in recorded("points.expiring")] == [
        day(100).date().isoformat(), day(105).date().isoformat()]


def test_no_subscriber_no_expiring_work(client, admin, new_shopper, webhook_endpoint):
    webhook_endpoint(events=["member.enrolled"])
    client.patch("/v1/program", headers=admin, json={"expiry_policy": "inactivity", "expiry_days": 30})
    new_shopper()(50, T0)
    run_jobs(day(20))
    assert recorded("points.expiring") == []
    assert db.session.execute(select(MemberNotice)).scalars().all() == []


def test_member_at_risk_is_recorded_once_per_quiet_spell(client, admin, new_shopper, webhook_endpoint):
    webhook_endpoint(events=["member.at_risk"])
    once, regular = new_shopper(), new_shopper()
    once(10, T0)
    for n in range(4):
        regular(10, day(n * 10))  # a purchase every 10 days: at risk after 30 quiet days
    run_jobs(day(60))
    assert recorded("member.at_risk") == [
        {"member_id": regular.id, "last_purchase_at": stamp(day(30)), "days_since_last_purchase": 30}]
    run_jobs(day(92))
    run_jobs(day(93))
    assert recorded("member.at_risk")[1:] == [
        {"member_id": once.id, "last_purchase_at": stamp(T0), "days_since_last_purchase": 92}]
    regular(10, day(94))  # back: a new quiet spell may begin
    run_jobs(day(100))
    assert len(recorded("member.at_risk")) == 2
    run_jobs(day(200))
    run_jobs(day(201))
    spells = [(event["member_id"], event["last_purchase_at"]) for event in recorded("member.at_risk")]
    assert spells[2:] == [(regular.id, stamp(day(94)))]


def test_no_subscriber_no_at_risk_work(new_shopper, webhook_endpoint):
    webhook_endpoint(events=["points.expired"])
    new_shopper()(10, T0)
    run_jobs(day(100))
    assert recorded("member.at_risk") == []
