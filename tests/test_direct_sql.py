"""DirectQuery (loyalty.direct_sql) gives exactly what SQLAlchemy's own execution gives."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import DBAPIError

from loyalty import auth, members, tiers
from loyalty.extensions import db
from loyalty.models import Member

from tests.helpers import run_jobs, stamp


def day(n: float) -> datetime:
    return datetime(2023, 1, 10, 12, 0, tzinfo=timezone.utc) + timedelta(days=n)

REVOKED = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)


def same_as_sqlalchemy(query, **params):
    """The DirectQuery's row, checked against db.session.execute of the same statement."""
    direct = query.first(**params)
    ordinary = db.session.execute(query.statement, params).first()
    if ordinary is None:
        assert direct is None
        return None
    assert direct._fields == tuple(ordinary._fields)
    assert tuple(direct) == tuple(ordinary)
    for ours, theirs in zip(direct, ordinary):
        assert type(ours) is type(theirs)
        if isinstance(ours, datetime):
            assert ours.utcoffset() == theirs.utcoffset() == timedelta(0)
    return direct


def test_api_key_look_up(program):
    key, _ = auth.create_api_key("revoked", "storefront")
    key.revoked_at = REVOKED
    db.session.flush()
    row = same_as_sqlalchemy(auth.API_KEY_BY_LOOKUP, lookup=key.lookup)
    assert (row.id, row.role, row.revoked_at) == (key.id, "storefront", REVOKED)
    assert row.settings_revision is not None
    assert same_as_sqlalchemy(auth.API_KEY_BY_LOOKUP, lookup="nothing-here") is None


def test_token_look_ups_for_staff_and_customers(client, admin, storefront, enroll):
    assert client.post("/v1/staff", headers=admin, json={
        "email": "d@shop.test", "name": "D", "role": "manager", "password": "a long enough password"}
    ).status_code == 201
    staff_token = client.post("/v1/staff/sessions", json={
        "email": "d@shop.test", "password": "a long enough password"}).get_json()["token"]
    member = enroll()
    customer_token = client.post(f"/v1/members/{member['id']}/access-tokens", headers=storefront).get_json()["token"]

    staff = same_as_sqlalchemy(auth.TOKEN_BY_HASH, token_hash=auth._sha256(staff_token))
    assert (staff.kind, staff.role, staff.active, staff.status) == ("staff", "manager", True, None)
    customer = same_as_sqlalchemy(auth.TOKEN_BY_HASH, token_hash=auth._sha256(customer_token))
    assert (customer.kind, customer.member_id, customer.status, customer.role) == (
        "customer", member["id"], "active", None)
    assert customer.expires_at > datetime.now(timezone.utc)


def test_member_view_with_every_kind_of_column(client, admin, enroll, program):
    member = enroll(email="V@Shop.test", name="Vee", phone="+1 555", birthday="1990-02-03",
                    metadata={"store": "north"})
    client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "view-1", "amount": 2500, "currency": "usd"})
    row = same_as_sqlalchemy(members.MEMBER_VIEW, member_id=member["id"], **tiers.window_now())
    assert isinstance(row, members.MemberView)
    assert (row.email, row.birthday, row.attributes) == ("v@shop.test", date(1990, 2, 3), {"store": "north"})
    assert (row.points_balance, row.qualifying_points_now) == (25, 25)
    assert row.last_purchase_at.tzinfo is not None
    ormed = db.session.get(Member, member["id"])
    assert all(getattr(row, key) == getattr(ormed, key) for key in row._fields if key != "qualifying_points_now")


def test_a_driver_error_is_sqlalchemys_error(app):
    """Driver errors reach the caller as SQLAlchemy's exceptions (the API maps those to 4xx/503)."""
    if db.session.get_bind().dialect.name != "postgresql":
        assert auth.API_KEY_BY_LOOKUP.first(lookup="nul\x00byte") is None  # SQLite stores NUL
        return
    with pytest.raises(DBAPIError):
        auth.API_KEY_BY_LOOKUP.first(lookup="nul\x00byte")


def test_a_deleted_tier_still_held_is_shown_until_run_jobs_moves_the_member(client, admin, tiered_shopper, ladder, at):
    shop = tiered_shopper
    shop(600, day(0))
    with at(stamp(day(5))):
        assert client.delete(f"/v1/tiers/{ladder['silver']['id']}", headers=admin).status_code == 200
    shown = shop.state(day(5))
    assert shown["tier"] == {"key": "silver", "name": "Silver"}
    assert shown["tier_progress"]["next_tier"] == "gold"
    run_jobs(day(5))
    assert shop.state(day(5))["tier"] == {"key": "bronze", "name": "Bronze"}


def test_unknown_member_is_404(client, admin):
    response = client.get("/v1/members/mem_nope", headers=admin)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_statement_needing_python_side_defaults_is_refused(app):
    """SQLAlchemy fills `updated_at` (onupdate) at execution: a DirectQuery cannot, so it refuses."""
    from sqlalchemy import bindparam, update

    from loyalty.direct_sql import DirectQuery

    query = DirectQuery(update(Member).where(Member.id == bindparam("member_id"))
                        .values(points_pending=0).returning(Member.id))
    with pytest.raises(ValueError, match="every value given"):
        query.first(member_id="mem_x")


def _event_columns(event_id):
    from loyalty import clock

    return {"id": event_id, "receipt_id": f"pev_{event_id}", "type": "charge.succeeded", "status": "failed",
            "payload": "{}", "detail": {}, "attempts": 0, "stripe_created_at": clock.now(),
            "received_at": clock.now(), "processed_at": None, "error": None, "payment_key": None,
            "stripe_customer_id": None, "email": None}


def test_a_write_inside_a_savepoint_is_undone_with_it(app):
    """begin_nested() emits its SAVEPOINT lazily, when the session's connection is asked for: a
    DirectQuery must ask, or its write would escape the savepoint's rollback."""
    from loyalty.direct_sql import add_unless_exists
    from loyalty.models import PaymentEvent

    assert add_unless_exists(PaymentEvent, _event_columns("evt_kept"), ["id"]) is not None
    with pytest.raises(RuntimeError), db.session.begin_nested():
        assert add_unless_exists(PaymentEvent, _event_columns("evt_undone"), ["id"]) is not None
        raise RuntimeError("roll the savepoint back")
    db.session.expunge_all()
    assert db.session.get(PaymentEvent, "evt_kept") is not None
    assert db.session.get(PaymentEvent, "evt_undone") is None


def test_an_added_row_is_the_sessions_loaded_object(app):
    """add_unless_exists gives what a flush or a load would: the session's one persistent object
    for the row, clean, its changes flushed like any other's; a repeat of the key gives None."""
    from sqlalchemy import inspect

    from loyalty.direct_sql import add_unless_exists
    from loyalty.models import PaymentEvent

    event = add_unless_exists(PaymentEvent, _event_columns("evt_loaded"), ["id"])
    state = inspect(event)
    assert state.persistent and not state.modified and not db.session.dirty
    assert db.session.get(PaymentEvent, "evt_loaded") is event
    assert (event.status, event.attempts, event.detail) == ("failed", 0, {})
    event.status, event.attempts = "processed", 1
    assert list(db.session.dirty) == [event]
    db.session.flush()
    assert add_unless_exists(PaymentEvent, _event_columns("evt_loaded"), ["id"]) is None
    db.session.expunge_all()
    stored = db.session.get(PaymentEvent, "evt_loaded")
    assert (stored.status, stored.attempts) == ("processed", 1)


def test_statement_listeners_still_see_every_statement(program):
    """With a before_cursor_execute listener (query logging, recording, counting), a DirectQuery
    runs through SQLAlchemy, so the listener sees it; the row is the same."""
    from sqlalchemy import event

    key, _ = auth.create_api_key("watched", "admin")
    db.session.flush()
    unwatched = auth.API_KEY_BY_LOOKUP.first(lookup=key.lookup)
    seen = []
    engine = db.session.get_bind().engine
    listener = lambda conn, cursor, statement, *rest: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        watched = auth.API_KEY_BY_LOOKUP.first(lookup=key.lookup)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert watched == unwatched and type(watched) is type(unwatched)
    assert len(seen) == 1 and "api_keys" in seen[0]
