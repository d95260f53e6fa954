"""Tiers against API.md, Rules: Tiers and Earning (the multiplier), on both databases."""
from datetime import datetime, timedelta, timezone

import pytest
from tests.helpers import run_jobs, stamp


T0 = datetime(2023, 1, 10, 12, 0, tzinfo=timezone.utc)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_tiers_are_listed_by_rank_for_every_role(client, admin, storefront, ladder):
    """Does GET /v1/tiers list tiers by ascending threshold, to the storefront too?"""
    body = client.get("/v1/tiers", headers=storefront).get_json()
    assert [tier["key"] for tier in body["data"]] == ["bronze", "silver", "gold"]
    assert body["data"][1]["multiplier"] == "1.5"
    assert body["data"][1]["benefits"] == ["silver perk"]


@pytest.mark.parametrize("body, status, code", [
    ({"key": "silver", "name": "Again", "min_qualifying_points": 700}, 409, "tier_exists"),
    ({"key": "plus", "name": "Plus", "min_qualifying_points": 500}, 409, "threshold_taken"),
    ({"key": "zero", "name": "Zero", "min_qualifying_points": 0}, 409, "threshold_taken"),
    ({"key": "neg", "name": "Neg", "min_qualifying_points": -1}, 422, "validation_error"),
    ({"key": "low", "name": "Low", "min_qualifying_points": 10, "multiplier": "0.5"}, 422, "validation_error"),
    ({"key": "flt", "name": "Float", "min_qualifying_points": 10, "multiplier": 1.5}, 422, "validation_error"),
    ({"key": "Bad Key", "name": "X", "min_qualifying_points": 10}, 422, "validation_error"),
])
def test_tier_creation_is_validated(client, admin, ladder, body, status, code):
    """Are keys and thresholds unique (one entry tier at most) and multipliers decimal strings ≥ 1?"""
    response = client.post("/v1/tiers", headers=admin, json=body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code


def test_only_admins_write_tiers(client, storefront, ladder):
    """Is the storefront refused tier writes with 403?"""
    assert client.post("/v1/tiers", headers=storefront, json={
        "key": "x", "name": "X", "min_qualifying_points": 9}).status_code == 403
    assert client.delete(f"/v1/tiers/{ladder['gold']['id']}", headers=storefront).status_code == 403


def test_enrolment_starts_in_the_entry_tier(tiered_shopper, ladder):
    """Does a new member hold the entry tier, with an `enrolled` first history row?"""
    member = tiered_shopper.state()
    assert member["tier"] == {"key": "bronze", "name": "Bronze"}
    assert tiered_shopper.history()[0][0::2] == ("bronze", "enrolled")


def test_crossing_purchase_earns_at_the_old_multiplier(tiered_shopper, ladder):
    """Does the upgrade apply from the next purchase on, effective at the crossing purchase?"""
    assert tiered_shopper(400, day(0))["points_earned"] == 400
    crossing = tiered_shopper(200, day(1))
    assert crossing["points_earned"] == 200            # still Bronze ×1
    assert tiered_shopper(100, day(2))["points_earned"] == 150   # Silver ×1.5
    assert tiered_shopper.history()[1:] == [("silver", stamp(day(1)), "purchase")]


def test_several_thresholds_at_once_jump_straight_to_the_highest(tiered_shopper, ladder):
    """Does one big purchase go from Bronze straight to Gold?"""
    tiered_shopper(1600, day(0))
    assert tiered_shopper.history()[1:] == [("gold", stamp(day(0)), "purchase")]
    assert tiered_shopper(10, day(1))["points_earned"] == 20


@pytest.mark.parametrize("gap_days, upgraded", [
    (364, True),    # both purchases inside (t - 365, t]
    (365, False),   # the first one has just left the window
])
def test_window_edges(tiered_shopper, ladder, gap_days, upgraded):
    """Are qualifying points counted over (t − tier_window_days, t]?"""
    tiered_shopper(400, day(0))
    tiered_shopper(100, day(gap_days))
    assert (tiered_shopper.state(day(gap_days))["tier"]["key"] == "silver") is upgraded


def test_refund_lowers_qualifying_points_but_not_the_tier_before_retention(client, admin, tiered_shopper, ladder, at):
    """Does a refund across the threshold keep the tier until retention ends, then drop it?"""
    first = tiered_shopper(600, day(0))
    with at(stamp(day(10))):
        response = client.post(f"/v1/purchases/{first['id']}/refunds", json={"amount": 20000}, headers=admin)
        assert response.status_code == 201
    member = tiered_shopper.state(day(10))
    assert member["tier"]["key"] == "silver"
    assert member["tier_progress"]["qualifying_points"] == 400
    run_jobs(day(364))
    assert tiered_shopper.state(day(364))["tier"]["key"] == "silver"
    run_jobs(day(366))
    assert tiered_shopper.state(day(366))["tier"]["key"] == "bronze"
    assert tiered_shopper.history()[-1] == ("bronze", stamp(day(366)), "evaluation")


def test_retention_keeps_the_tier_then_an_evaluation_drops_it(tiered_shopper, ladder):
    """Without purchases, is Silver kept for tier_retention_days and lost only when evaluated?"""
    tiered_shopper(600, day(0))
    assert tiered_shopper.state(day(200))["tier_progress"]["held_until"] == stamp(day(365))
    assert tiered_shopper.state(day(400))["tier"]["key"] == "silver"   # reading evaluates nothing
    run_jobs(day(400))
    assert tiered_shopper.state(day(400))["tier"]["key"] == "bronze"
    assert tiered_shopper.history()[1:] == [("silver", stamp(day(0)), "purchase"),
                                  ("bronze", stamp(day(400)), "evaluation")]
    run_jobs(day(401))
    assert len(tiered_shopper.history()) == 3   # run-jobs is idempotent


def test_downgrade_goes_to_the_tier_still_earned(tiered_shopper, ladder):
    """When Gold lapses with Silver's points still in the window, is the member moved to Silver?"""
    tiered_shopper(1500, day(0))
    tiered_shopper(600, day(300))
    run_jobs(day(370))
    assert tiered_shopper.history()[1:] == [("gold", stamp(day(0)), "purchase"),
                                  ("silver", stamp(day(370)), "evaluation")]
    assert tiered_shopper.state(day(370))["tier_progress"]["held_until"] == stamp(day(735))


def test_a_purchase_after_lapse_earns_at_the_held_tier_then_evaluates(tiered_shopper, ladder):
    """Past retention but not yet evaluated, does a purchase earn at the tier still held, and then
    evaluate the member as of now (the downgrade effective then)?"""
    tiered_shopper(600, day(0))
    assert tiered_shopper(100, day(500))["points_earned"] == 150  # Silver is held until evaluated: ×1.5
    assert tiered_shopper.history()[-1] == ("bronze", stamp(day(500)), "evaluation")
    assert tiered_shopper(100, day(501))["points_earned"] == 100


def test_manual_tier_holds_until_its_end_date(client, admin, tiered_shopper, ladder, at):
    """Does a manual tier apply at once, show in history, and end when its date passes?"""
    tiered_shopper(100, day(0))
    with at(stamp(day(1))):
        response = client.put(f"/v1/members/{tiered_shopper.member['id']}/tier", headers=admin, json={
            "tier": "gold", "until": stamp(day(30)), "reason": "service recovery"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tier"]["key"] == "gold"
    assert tiered_shopper(10, day(2))["points_earned"] == 20
    run_jobs(day(20))
    assert tiered_shopper.state(day(20))["tier"]["key"] == "gold"
    run_jobs(day(31))
    assert tiered_shopper.history()[1:] == [("gold", stamp(day(1)), "manual"),
                                  ("bronze", stamp(day(31)), "evaluation")]


def test_manual_tier_is_refused_to_the_storefront_and_checked(client, admin, storefront, tiered_shopper, ladder):
    """Is a manual tier admin/manager only, with a known key and a future end date?"""
    url = f"/v1/members/{tiered_shopper.member['id']}/tier"
    body = {"tier": "gold", "until": "2100-01-01T00:00:00Z", "reason": "vip"}
    assert client.put(url, headers=storefront, json=body).status_code == 403
    assert client.put(url, headers=admin, json={**body, "tier": "nope"}).status_code == 422  # an unknown tier
    assert client.put(url, headers=admin, json={**body, "until": "2000-01-01T00:00:00Z"}).status_code == 422


def test_lower_threshold_upgrades_on_run_jobs(client, admin, tiered_shopper, ladder, at):
    """Does lowering Gold's threshold re-evaluate members in run-jobs, with reason tier_config_changed?"""
    tiered_shopper(1000, day(0))
    with at(stamp(day(5))):
        client.patch(f"/v1/tiers/{ladder['gold']['id']}", headers=admin, json={"min_qualifying_points": 900})
    run_jobs(day(5))
    assert tiered_shopper.history()[-1] == ("gold", stamp(day(5)), "tier_config_changed")
    run_jobs(day(6))
    assert len(tiered_shopper.history()) == 3


def test_deleting_a_tier_moves_its_members(client, admin, tiered_shopper, ladder, at):
    """Does deleting Silver move its members down at once on run-jobs, keeping the key in history?"""
    tiered_shopper(600, day(0))
    with at(stamp(day(5))):
        assert client.delete(f"/v1/tiers/{ladder['silver']['id']}", headers=admin).status_code == 200
    run_jobs(day(5))
    assert tiered_shopper.history()[1:] == [("silver", stamp(day(0)), "purchase"),
                                  ("bronze", stamp(day(5)), "tier_config_changed")]
    assert [t["key"] for t in client.get("/v1/tiers", headers=admin).get_json()["data"]] == ["bronze", "gold"]


def test_tier_progress_reports_the_next_tier(tiered_shopper, ladder):
    """Does tier_progress give window points, the next tier and the points still needed?"""
    tiered_shopper(700, day(0))
    progress = tiered_shopper.state(day(1))["tier_progress"]
    assert (progress["qualifying_points"], progress["next_tier"], progress["points_to_next_tier"]) == (700, "gold", 800)


YEAR = [(300, 0), (250, 40), (400, 90), (900, 200), (50, 420), (700, 600), (100, 640), (20, 990)]


def test_live_year_with_daily_run_jobs(client, admin, enroll, at, ladder):
    """Purchases as they happen and run-jobs every day: upgrades at the crossing purchases,
    downgrades on the first evaluation after retention and the window let go."""
    member = enroll(external_id="live")
    pending = list(YEAR)
    for today in range(0, 1000):
        while pending and pending[0][1] == today:
            dollars, offset = pending.pop(0)
            with at(stamp(day(offset))):
                assert client.post("/v1/purchases", headers=admin, json={
                    "member_id": member["id"], "order_id": f"y-{offset}", "amount": dollars * 100,
                    "currency": "usd", "occurred_at": stamp(day(offset))}).status_code == 201
        run_jobs(day(today + 0.5))
    rows = client.get(f"/v1/members/{member['id']}/tier-history", headers=admin).get_json()["data"]
    assert [(r["tier"], r["effective_at"], r["reason"]) for r in rows[1:]] == [
        ("silver", stamp(day(40)), "purchase"), ("gold", stamp(day(200)), "purchase"),
        ("bronze", stamp(day(565.5)), "evaluation"), ("silver", stamp(day(600)), "purchase"),
        ("bronze", stamp(day(965.5)), "evaluation")]


def test_import_of_past_purchases_places_upgrades_at_their_crossing_purchases(client, admin, enroll, at, ladder):
    """Purchases imported later with past occurred_at, in time order: each upgrade is effective at
    the purchase that crossed, and each purchase earns at the tier held at its moment."""
    member = enroll(external_id="import")
    now = day(300)
    earned = []
    with at(stamp(now)):
        for number, (dollars, offset) in enumerate(YEAR[:4]):
            response = client.post("/v1/purchases", headers=admin, json={
                "member_id": member["id"], "order_id": f"i-{number}", "amount": dollars * 100,
                "currency": "usd", "occurred_at": stamp(day(offset))})
            earned.append(response.get_json()["points_earned"])
    assert earned == [300, 250, 600, 1350]  # Bronze, Bronze (crossing), Silver ×1.5, Silver (crossing)
    rows = client.get(f"/v1/members/{member['id']}/tier-history", headers=admin).get_json()["data"]
    assert [(r["tier"], r["effective_at"], r["reason"]) for r in rows[1:]] == [
        ("silver", stamp(day(40)), "purchase"), ("gold", stamp(day(200)), "purchase")]


def test_members_enrolled_before_the_ladder_hold_the_entry_tier(client, admin, enroll, program):
    """Does every member hold the entry tier at once, even one enrolled before tiers existed?"""
    early = enroll(external_id="early")
    assert early["tier"] is None
    client.post("/v1/tiers", headers=admin, json={"key": "base", "name": "Base", "min_qualifying_points": 0,
                                                   "multiplier": "1.5"})
    assert client.get(f"/v1/members/{early['id']}", headers=admin).get_json()["tier"] == {"key": "base", "name": "Base"}
    purchase = client.post("/v1/purchases", headers=admin, json={
        "member_id": early["id"], "order_id": "e-1", "amount": 1000, "currency": "usd"}).get_json()
    assert purchase["points_earned"] == 15


def test_a_tier_moved_to_but_not_yet_flushed_is_the_one_shown_and_priced(tiered_shopper, ladder):
    """A tier change reaches the database only at the next flush; what is shown and the
    multiplier a purchase gets must follow the member's tier in the session already."""
    from decimal import Decimal

    from loyalty import settings, tiers
    from loyalty.extensions import db
    from loyalty.models import Member

    tiered_shopper(100, day(0))
    member = db.session.get(Member, tiered_shopper.member["id"])
    gold = settings.current().live_tier("gold")
    with db.session.no_autoflush:
        tiers.set_manually(member, gold, day(400), note="test")
        member.tier_reached_at = day(1)
        assert tiers.shown_tier(member).key == "gold"
        assert tiers.multiplier_at(member, day(2)) == Decimal(2)


def test_the_tier_window_sum_is_read_from_the_index_alone(app):
    """A member read sums qualifying points over the tier window: the member/date index carries
    them, so the database never visits one table page per purchase (a member of many purchases
    would otherwise cost a read that grows with them)."""
    from sqlalchemy import text

    from loyalty import tiers
    from loyalty.extensions import db

    moment = datetime(2026, 6, 1, tzinfo=timezone.utc)
    window = tiers.window_points("mem_x", moment - timedelta(days=365), moment)
    sql = str(window.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
        # On an empty, never-analysed table the planner may as well pick the plain index on
        # occurred_at; without it (dropped inside this rolled-back transaction) the only cheap plan
        # left is an index-only scan, possible only if the index carries every column read.
        db.session.execute(text("DROP INDEX ix_purchases_occurred_at"))
        plan = "\n".join(db.session.execute(text(f"EXPLAIN {sql}")).scalars())
        assert "Index Only Scan using ix_purchases_member_window" in plan, plan
    else:
        plan = "\n".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert "COVERING INDEX ix_purchases_member_window" in plan, plan
