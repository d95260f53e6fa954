"""The settings snapshot (loyalty.settings): loaded once per revision, never a stale rate or tier."""
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests
from sqlalchemy import text

from loyalty import auth, settings
from loyalty.extensions import db
from loyalty.models import Campaign, Program, Tier
from tests.helpers import stamp, statements_during


def _base_tier(client, admin, multiplier="1"):
    response = client.post("/v1/tiers", headers=admin, json={
        "key": "base", "name": "Base", "min_qualifying_points": 0, "multiplier": multiplier})
    assert response.status_code == 201, response.get_json()


def test_settings_are_loaded_once_per_revision(client, admin, program):
    """A transaction after the first asks only which revision is in force."""
    _base_tier(client, admin)
    db.session.rollback()
    settings.current()  # the first transaction of this revision loads the snapshot
    db.session.rollback()

    def read_settings():
        assert [tier.key for tier in settings.current().ladder] == ["base"]
        assert settings.current().program.earn_rates["usd"] == "1"

    statements = statements_during(read_settings)
    assert len(statements) == 1 and "settings_revision" in statements[0], statements


@pytest.mark.parametrize("key_kept", [False, True])
def test_a_member_read_learns_the_revision_from_its_own_statements(client, admin, program, enroll, ticking,
                                                                  key_kept):
    """The revision rides along with the credential and the member: no statement of its own,
    whether the worker looks the key up or has kept it (auth.API_KEY_RECHECK_SECONDS)."""
    _base_tier(client, admin)
    member = enroll()
    client.get(f"/v1/members/{member['id']}", headers=admin)
    if not key_kept:
        ticking.seconds += auth.API_KEY_RECHECK_SECONDS
    statements = statements_during(lambda: client.get(f"/v1/members/{member['id']}", headers=admin))
    assert len(statements) == (1 if key_kept else 2), statements  # [the credential], the member
    assert all("settings_revision" in statement for statement in statements)


def test_the_snapshot_cannot_be_changed_and_has_every_column():
    """Frozen, and in step with the models: a new column must be added to the snapshot too."""
    for snapshot_class, model in ((settings.ProgramSettings, Program), (settings.TierSettings, Tier),
                                  (settings.CampaignSettings, Campaign)):
        assert {field.name for field in dataclasses.fields(snapshot_class)} == set(model.__table__.c.keys())
    program = settings.current().program
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.signup_bonus = 5
    with pytest.raises(TypeError):
        program.earn_rates["usd"] = "5"


def test_a_change_is_seen_by_the_next_request(client, admin, program, enroll):
    member = enroll()

    def earn(order):
        response = client.post("/v1/purchases", headers=admin, json={
            "member_id": member["id"], "order_id": order, "amount": 1000, "currency": "usd"})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["points_earned"]

    assert earn("a") == 10
    assert client.patch("/v1/program", headers=admin, json={"earn_rates": {"usd": "3"}}).status_code == 200
    assert earn("b") == 30
    _base_tier(client, admin, multiplier="2")
    assert earn("c") == 60
    now = datetime.now(timezone.utc)
    response = client.post("/v1/campaigns", headers=admin, json={
        "name": "Now", "multiplier": "1.5", "starts_at": stamp(now - timedelta(hours=1)),
        "ends_at": stamp(now + timedelta(hours=1))})
    assert response.status_code == 201, response.get_json()
    assert earn("d") == 90


def test_a_rolled_back_change_is_seen_only_by_its_own_transaction(client, admin, program):
    _base_tier(client, admin)
    db.session.rollback()
    assert settings.current().ladder[0].multiplier == 1
    db.session.rollback()

    db.session.get(Tier, settings.current().ladder[0].id).multiplier = Decimal(5)
    db.session.flush()
    assert settings.current().ladder[0].multiplier == 5  # the writing transaction reads its own change
    db.session.rollback()

    assert settings.current().ladder[0].multiplier == 1


def test_a_change_made_in_plain_sql_is_seen_at_once(client, admin, program):
    """The database's triggers give a new revision to a change made outside the application."""
    _base_tier(client, admin)
    db.session.rollback()
    assert settings.current().ladder[0].name == "Base"
    db.session.rollback()

    db.session.execute(text("UPDATE tiers SET name = 'Renamed'"))
    db.session.commit()
    assert settings.current().ladder[0].name == "Renamed"


def test_every_worker_prices_with_the_new_settings_from_its_next_request(live_server):
    """4 gunicorn workers, each with settings kept from earlier requests: after a change to the
    earn rate, the ladder or the campaigns, every earn on every worker uses the new settings."""
    server = live_server(workers=4)
    admin = server.api_key("admin")
    url = server.url
    requests.patch(url + "/v1/program", json={"earn_rates": {"usd": "1"}}, headers=admin).raise_for_status()
    member = requests.post(url + "/v1/members", json={"external_id": "cached"}, headers=admin).json()
    counter = iter(range(10**6))

    def burst(n=40):
        def earn(_):
            return requests.post(url + "/v1/purchases", headers=admin, json={
                "member_id": member["id"], "order_id": f"o-{next(counter)}", "amount": 1000, "currency": "usd"})
        with ThreadPoolExecutor(max_workers=16) as pool:
            responses = list(pool.map(earn, range(n)))
        assert {r.status_code for r in responses} == {201}
        return {r.json()["points_earned"] for r in responses}

    assert burst() == {10}  # every worker has read and kept the settings
    requests.patch(url + "/v1/program", json={"earn_rates": {"usd": "3"}}, headers=admin).raise_for_status()
    assert burst() == {30}
    requests.post(url + "/v1/tiers", headers=admin, json={
        "key": "base", "name": "Base", "min_qualifying_points": 0, "multiplier": "2"}).raise_for_status()
    assert burst() == {60}
    now = datetime.now(timezone.utc)
    requests.post(url + "/v1/campaigns", headers=admin, json={
        "name": "Now", "multiplier": "1.5", "starts_at": stamp(now - timedelta(hours=1)),
        "ends_at": stamp(now + timedelta(hours=1))}).raise_for_status()
    assert burst() == {90}
    with ThreadPoolExecutor(max_workers=16) as pool:
        shown = list(pool.map(lambda _: requests.get(url + f"/v1/members/{member['id']}", headers=admin).json(),
                              range(20)))
    assert {m["tier"]["key"] for m in shown} == {"base"}
    assert server.flask("loyalty", "verify-ledger").returncode == 0


def test_the_first_request_on_a_fresh_database_may_be_a_read(live_server):
    """A GET's transaction takes no write lock on SQLite; creating the program's defaults still works."""
    server = live_server(workers=1)
    admin = server.api_key("admin")
    response = requests.get(server.url + "/v1/program", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["earn_rates"] == {}
