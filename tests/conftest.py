"""Every fixture of the suite: one schema per run, each test inside a transaction that is rolled back.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.
Tests that need real commits (concurrency against a live server) use `live_server`.

Where things are: fixtures live here and only here (a test module never defines one another
module could want, nor imports one); plain helpers (stamp, run_jobs, balance, cli, all_at_once)
in tests/helpers.py; rows made through the domain functions in tests/factories.py; Stripe
payloads in tests/stripe_events.py and a stand-in Stripe API in tests/fake_stripe.py.
"""
import subprocess
import sys
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import has_request_context, request
from flask.globals import app_ctx
from flask_migrate import upgrade
from sqlalchemy import event as sa_event
from sqlalchemy import orm, text
from sqlalchemy.engine import Engine

from loyalty import auth, clock, create_app, purchases
from loyalty.actors import SYSTEM
from loyalty.extensions import db
from loyalty.models import Program, Purchase
from tests import fake_stripe
from tests.helpers import STAFF_PASSWORD, TEST_DATABASE_URL, run_jobs, stamp
from tests.live import fresh_database
from tests.stripe_events import deliver, event, payment_intent, unique


def _test_database_url() -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite:///{tempfile.mkdtemp(prefix='loyalty-test-')}/test.sqlite3"


def reset_schema():
    """Drop everything and build the models' schema (with the ledger guard triggers)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        db.drop_all()
    db.create_all()


@pytest.fixture(scope="session")
def app():
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _test_database_url(),
        "STRIPE_WEBHOOK_SECRETS": ["whsec_test_secret"],
        "RATELIMIT_ENABLED": False,
        "CREDENTIAL_CACHE_SECONDS": 0,  # tokens looked up on every request (API keys are kept 1 s)
        # Each test's requests stay in its outer transaction (below), reads included; apps of their
        # own (live servers, test_read_transactions.py) read in autocommit as in production.
        "READS_WITHOUT_TRANSACTION": False,
    })
    with app.app_context():
        reset_schema()
    yield app


# Flask-SQLAlchemy's own scoped session, which the app uses outside the tests' transaction.
APP_SESSION = db.session


def _app_context_scope() -> int:
    """One session per Flask application context, as Flask-SQLAlchemy scopes its own."""
    return id(app_ctx.g)


@pytest.fixture(autouse=True)
def _transaction(app):
    """Run the test in a transaction that is rolled back; code under test may still commit.

    SQLAlchemy's "Joining a Session into an External Transaction": the session is bound to a
    connection whose transaction the test began, and each of its commits only releases a SAVEPOINT
    (join_transaction_mode="create_savepoint"). A plain SQLAlchemy Session: Flask-SQLAlchemy's own
    picks the engine over a bound connection.
    """
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        db.session = orm.scoped_session(
            orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_context_scope)
        try:
            yield
        finally:
            db.session.remove()
            db.session = APP_SESSION
            outer.rollback()
            connection.close()


# In production a GET or HEAD runs in autocommit (loyalty.reads_without_transaction): anything it
# wrote would commit at once. Every test checks that its reads wrote only what may stand alone.
WRITES_A_READ_MAY_MAKE = ("INSERT INTO program ", "UPDATE api_keys SET last_used_at")
_writes_in_reads: list[str] = []


@sa_event.listens_for(Engine, "before_cursor_execute")
def _note_writes_in_reads(connection, cursor, statement, parameters, context, executemany):
    if (has_request_context() and request.method in ("GET", "HEAD")
            and statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
            and not statement.startswith(WRITES_A_READ_MAY_MAKE)):
        _writes_in_reads.append(f"{request.method} {request.path}: {statement[:120]}")


@pytest.fixture(autouse=True)
def _reads_write_nothing():
    _writes_in_reads.clear()
    yield
    assert not _writes_in_reads, _writes_in_reads


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def program(app):
    """The program with a usd, jpy and kwd earn rate of 1 point per major unit."""
    row = db.session.get(Program, 1) or Program(id=1)
    row.earn_rates = {"usd": "1", "eur": "1", "jpy": "0.01", "kwd": "1"}
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture(autouse=True)
def _no_kept_credentials():
    """Each test starts with no credential kept by auth.authenticate (the cache is per process)."""
    auth._checked.clear()


@pytest.fixture
def ticking(monkeypatch):
    """auth's time.monotonic, standing still until the test moves it on (`ticking.seconds += 2`):
    a credential a worker keeps (auth.authenticate) stays kept until then."""
    class Ticking:
        seconds = 1000.0

    monkeypatch.setattr(auth, "monotonic", lambda: Ticking.seconds)
    return Ticking


@pytest.fixture
def api_key():
    """api_key(role) -> Authorization headers for a new API key of that role."""
    def make(role="admin"):
        _, plain = auth.create_api_key(f"test {role}", role)
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}
    return make


@pytest.fixture
def admin(api_key):
    return api_key("admin")


@pytest.fixture
def storefront(api_key):
    return api_key("storefront")


@pytest.fixture
def enroll(client, admin):
    """enroll(external_id=..., **fields) -> the member JSON."""
    counter = iter(range(1, 10**6))

    def make(external_id=None, **fields):
        body = {"external_id": external_id or f"cust-{next(counter)}", **fields}
        response = client.post("/v1/members", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return make


@pytest.fixture
def at():
    """at("2026-03-01T10:00:00Z") freezes the clock there for a `with` block."""
    def freeze(stamp: str):
        return clock.frozen(datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc))
    return freeze


class Shopper:
    """One member and what a test does with them over HTTP, each step with the clock at `on`."""

    def __init__(self, client, admin, member: dict):
        self.client, self.admin, self.member, self.id = client, admin, member, member["id"]
        self._orders = iter(range(10**6))

    def buy(self, dollars: int, on: datetime) -> dict:
        """POST a purchase of whole dollars that occurred (and is sent) at `on`; the purchase JSON."""
        with clock.frozen(on):
            response = self.client.post("/v1/purchases", headers=self.admin, json={
                "member_id": self.id, "order_id": f"{self.member['external_id']}-{next(self._orders)}",
                "amount": dollars * 100, "currency": "usd", "occurred_at": stamp(on)})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    __call__ = buy

    def spend(self, points: int, on: datetime) -> None:
        with clock.frozen(on):
            response = self.client.post(f"/v1/members/{self.id}/adjustments", headers=self.admin,
                                        json={"points": -points, "reason": "spent"})
        assert response.status_code == 201, response.get_json()

    def state(self, on: datetime | None = None) -> dict:
        """GET /v1/members/{id}, now or with the clock at `on`."""
        if on is None:
            return self.client.get(f"/v1/members/{self.id}", headers=self.admin).get_json()
        with clock.frozen(on):
            return self.client.get(f"/v1/members/{self.id}", headers=self.admin).get_json()

    def entries(self) -> list[dict]:
        return self.client.get(f"/v1/members/{self.id}/transactions?limit=100", headers=self.admin).get_json()["data"]

    def history(self) -> list[tuple]:
        rows = self.client.get(f"/v1/members/{self.id}/tier-history", headers=self.admin).get_json()["data"]
        return [(row["tier"], row["effective_at"], row["reason"]) for row in rows]


# -- members, tiers, rewards, campaigns (over HTTP) -----------------------------------------------

@pytest.fixture
def shopper(client, admin, enroll, program):
    """A member born on 15 March 1990 who buys, spends and is looked at over HTTP (a Shopper)."""
    return Shopper(client, admin, enroll(external_id="life", birthday="1990-03-15"))


@pytest.fixture
def shopper_with_pending_points(client, admin, shopper):
    """The shopper, in a program where points stay pending for 14 days."""
    response = client.patch("/v1/program", headers=admin, json={"pending_days": 14})
    assert response.status_code == 200, response.get_json()
    return shopper


@pytest.fixture
def ladder(client, admin, program):
    """Bronze 0 (×1), Silver 500 (×1.5), Gold 1500 (×2); window and retention 365 days."""
    made = {}
    for key, threshold, multiplier in (("bronze", 0, "1"), ("silver", 500, "1.5"), ("gold", 1500, "2")):
        response = client.post("/v1/tiers", headers=admin, json={
            "key": key, "name": key.title(), "min_qualifying_points": threshold,
            "multiplier": multiplier, "benefits": [f"{key} perk"]})
        assert response.status_code == 201, response.get_json()
        made[key] = response.get_json()
    run_jobs()
    return made


@pytest.fixture
def tiered_shopper(client, admin, enroll, ladder):
    """A Shopper enrolled once the `ladder` exists (so in bronze); call it to buy: tiered_shopper(dollars, on)."""
    return Shopper(client, admin, enroll(external_id="tiered"))


@pytest.fixture
def rich(enroll, client, admin, program):
    """rich(points) -> a member holding exactly that many points (given by an adjustment)."""
    def make(points, **fields):
        member = enroll(**fields)
        if points:
            response = client.post(f"/v1/members/{member['id']}/adjustments", headers=admin,
                                   json={"points": points, "reason": "test"})
            assert response.status_code == 201
        return member
    return make


@pytest.fixture
def busy_ledger(client, admin, program, enroll):
    """Two members with bonuses, adjustments, a purchase and a refund: a consistent ledger."""
    client.patch("/v1/program", json={"signup_bonus": 50}, headers=admin)
    members = [enroll(), enroll()]
    for member in members:
        for points in (30, -20):
            response = client.post(f"/v1/members/{member['id']}/adjustments", headers=admin,
                                   json={"points": points, "reason": "r"})
            assert response.status_code == 201, response.get_json()
        purchase = client.post("/v1/purchases", headers=admin, json={
            "member_id": member["id"], "order_id": f"v-{member['id']}", "amount": 4000, "currency": "usd"}).get_json()
        client.post(f"/v1/purchases/{purchase['id']}/refunds", json={"amount": 1500}, headers=admin)
    return members


@pytest.fixture
def reward(client, admin):
    """reward(**fields) -> the JSON of a new reward (a 100-point free coffee unless fields say otherwise)."""
    def make(**fields):
        body = {"name": "Coffee", "cost_points": 100, "kind": "free_item", "value": {"sku": "COF"}, **fields}
        response = client.post("/v1/rewards", headers=admin, json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return make


@pytest.fixture
def campaign(client, admin, program):
    """campaign(**fields) -> the JSON of a new campaign: "Double March", ×2 from 1 to 15 March 2026."""
    def make(**fields):
        body = {"name": "Double March", "multiplier": "2", "starts_at": "2026-03-01T00:00:00Z",
                "ends_at": "2026-03-15T00:00:00Z", **fields}
        response = client.post("/v1/campaigns", headers=admin, json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return make


# -- people: customers and staff --------------------------------------------------------------------

@pytest.fixture
def customer(client, storefront, admin, enroll, program):
    """customer(member) -> (member, headers) for a fresh customer token of that member."""
    def make(member=None):
        member = member or enroll()
        response = client.post(f"/v1/members/{member['id']}/access-tokens", headers=storefront)
        assert response.status_code == 201, response.get_json()
        return member, {"Authorization": f"Bearer {response.get_json()['token']}"}
    return make


@pytest.fixture
def cashier(client, admin):
    """The staff member Cass (cashier, password STAFF_PASSWORD), as the API returns them."""
    response = client.post("/v1/staff", headers=admin, json={
        "email": "Cass@Shop.test", "name": "Cass", "role": "cashier", "password": STAFF_PASSWORD})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def staff_login(client, admin):
    """staff_login(role) -> Authorization headers of a fresh staff session."""
    counter = iter(range(10**6))

    def login(role):
        email = f"{role}{next(counter)}@shop.test"
        assert client.post("/v1/staff", headers=admin, json={
            "email": email, "name": role.title(), "role": role, "password": STAFF_PASSWORD}).status_code == 201
        response = client.post("/v1/staff/sessions", json={"email": email, "password": STAFF_PASSWORD})
        assert response.status_code == 201, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}
    return login


# -- the service desk -------------------------------------------------------------------------------

@pytest.fixture
def desk_staff(client, admin):
    """desk_staff(role, name=None) -> (staff id, Authorization headers) of a new staff member's session."""
    counter = iter(range(10**6))

    def login(role, name=None):
        email = f"{role}{next(counter)}@desk.test"
        created = client.post("/v1/staff", headers=admin, json={
            "email": email, "name": name or role.title(), "role": role, "password": STAFF_PASSWORD})
        assert created.status_code == 201, created.get_json()
        session = client.post("/v1/staff/sessions", json={"email": email, "password": STAFF_PASSWORD})
        assert session.status_code == 201, session.get_json()
        return created.get_json()["id"], {"Authorization": f"Bearer {session.get_json()['token']}"}
    return login


@pytest.fixture
def maria(enroll, program):
    """A member named Maria, as the API returns her."""
    return enroll(name="Maria")


@pytest.fixture
def role_headers(client, admin, storefront, desk_staff, maria):
    """role_headers(role) -> Authorization headers for any role; a customer's token is `maria`'s."""
    def make(role):
        if role == "admin":
            return admin
        if role == "storefront":
            return storefront
        if role == "customer":
            token = client.post(f"/v1/members/{maria['id']}/access-tokens", headers=storefront).get_json()
            return {"Authorization": f"Bearer {token['token']}"}
        return desk_staff(role)[1]
    return make


SERVICE_STORY_START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def service_story(client, admin, storefront, ladder, reward, desk_staff):
    """A member (Maria) whose history has every kind of timeline item, some at the same moment:
    enrolment and signup bonus on day 0, a $600 purchase by Ana reaching silver on day 1, a refund,
    a dispute, vouchers used, voided and expired, an adjustment, feedback, a case replied to,
    resolved with goodwill and reopened, a pinned note, and points expired on day 60."""
    def on(day, minutes=0):
        return clock.frozen(SERVICE_STORY_START + timedelta(days=day, minutes=minutes))

    def post(path, headers, body=None):
        response = client.post(path, headers=headers, **({"json": body} if body is not None else {}))
        assert response.status_code in (200, 201), (path, response.get_json())
        return response.get_json()

    client.patch("/v1/program", headers=admin, json={"signup_bonus": 20})
    coffee = reward(cost_points=10, voucher_valid_days=5)
    _, ana = desk_staff("cashier", "Ana")
    _, boss = desk_staff("manager", "Boss")
    with on(0):
        member = post("/v1/members", admin, {"external_id": "story", "name": "Maria"})
    m = member["id"]
    with on(1):
        bought = post("/v1/purchases", ana, {"member_id": m, "order_id": "o-1", "amount": 60000, "currency": "usd"})
    with on(2):
        post(f"/v1/purchases/{bought['id']}/refunds", admin, {"amount": 1000})
    with on(3):
        held = db.session.get(Purchase, bought["id"])
        purchases.set_returned_amounts(held, refunded_amount=1000, disputed_amount=2000, actor=SYSTEM,
                                       reason="stripe dispute needs_response")
        db.session.commit()
    with on(4):
        post(f"/v1/members/{m}/redemptions", ana, {"reward_id": coffee["id"], "use_now": True, "location": "Store 12"})
    with on(5):
        voided = post(f"/v1/members/{m}/redemptions", ana, {"reward_id": coffee["id"]})
        post(f"/v1/redemptions/{voided['code']}/void", boss, {})
    with on(6):
        post(f"/v1/members/{m}/redemptions", ana, {"reward_id": coffee["id"]})
    run_jobs(SERVICE_STORY_START + timedelta(days=12))  # the last voucher expires
    with on(13):
        post(f"/v1/members/{m}/adjustments", boss, {"points": 5, "reason": "Birthday cake"})
        post(f"/v1/members/{m}/feedback", ana, {"kind": "csat", "score": 2, "comment": "Slow till"})
    with on(14):
        case = post(f"/v1/members/{m}/cases", ana, {"subject": "Slow till", "category": "service"})
    with on(14, 30):
        post(f"/v1/cases/{case['id']}/replies", ana, {"text": "Sorry, we are short-staffed"})
        post(f"/v1/cases/{case['id']}/resolve", boss, {"resolution": "Apologised", "goodwill_points": 50})
    with on(15):
        post(f"/v1/cases/{case['id']}/reopen", storefront)
        post(f"/v1/members/{m}/notes", boss, {"text": "Prefers the morning shift", "pinned": True})
    client.patch("/v1/program", headers=admin, json={"expiry_policy": "fixed", "expiry_days": 30})
    run_jobs(SERVICE_STORY_START + timedelta(days=60))  # the purchase's points expire
    return member


# -- Stripe ---------------------------------------------------------------------------------------

@pytest.fixture
def stripe_ready(program, client, admin):
    """The program with usd/jpy earn rates (1 point a dollar, 1 a hundred yen) and no auto-enrolment."""
    response = client.patch("/v1/program", json={"auto_enroll": False}, headers=admin)
    assert response.status_code == 200, response.get_json()
    return program


@pytest.fixture
def paid(client, admin, stripe_ready, enroll):
    """A member who paid $100.00 (100 points) through Stripe: (member id, pi, ch)."""
    member = enroll()
    pi, ch = unique("pi"), unique("ch")
    response = deliver(client, event("payment_intent.succeeded", payment_intent(
        pi, 10000, latest_charge=ch, metadata={"loyalty_member_id": member["id"]})))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "processed", response.get_json()
    assert client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]["balance"] == 100
    return member["id"], pi, ch


@pytest.fixture
def paying_event(stripe_ready, enroll):
    """A payment_intent.succeeded event of $10.00 naming a new member."""
    member = enroll()
    return event("payment_intent.succeeded", payment_intent(unique("pi"), 1000, metadata={"loyalty_member_id": member["id"]}))


@pytest.fixture
def stripe_api(app, monkeypatch):
    """A local stand-in for api.stripe.com (tests/fake_stripe.py); the app's STRIPE_API_BASE points at it."""
    fake = fake_stripe.RecordedStripe
    fake.events, fake.requests = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "STRIPE_API_KEY", fake_stripe.API_KEY)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{server.server_address[1]}")
    yield fake
    server.shutdown()
    server.server_close()


# -- apps of their own ------------------------------------------------------------------------------

@pytest.fixture
def spec(client):
    """The OpenAPI document the app serves."""
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture
def fragile_app():
    """A separate app (the shared one may not gain routes) that answers errors as in production."""
    app = create_app({
        "TESTING": True,
        "RAISE_UNEXPECTED": False,
        "RATELIMIT_ENABLED": False,
        "READS_WITHOUT_TRANSACTION": False,  # its requests run in the test's transaction, as the shared app's
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tempfile.mkdtemp(prefix='loyalty-fragile-')}/x.sqlite3",
    })

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret-internal-detail at /srv/app/loyalty/thing.py line 42")

    @app.route("/boom-key")
    def boom_key():
        return {}["missing"]

    return app


@pytest.fixture
def app_sessions():
    """The app's own sessions (Flask-SQLAlchemy's) for this test, not the one bound to the test's
    outer transaction: for apps of their own, whose requests must begin and end transactions."""
    bound = db.session
    db.session = APP_SESSION
    try:
        yield
    finally:
        db.session = bound


@pytest.fixture
def unreachable_app(app_sessions):
    """An app whose database does not answer, with its own session (the test's is bound to a live connection)."""
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/nope"})
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


@pytest.fixture
def migrated_app():
    """An app on a fresh, empty database brought up by `flask db upgrade` (the migrations)."""
    with fresh_database(TEST_DATABASE_URL) as url:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade(directory=MIGRATIONS)
            yield app
            db.engine.dispose()


class _LiveServers:
    """Starts LiveServers on fresh databases and tears every one down afterwards."""

    def __init__(self):
        self.servers, self.databases = [], []

    def __call__(self, workers=4, env=None):
        from tests.live import LiveServer, fresh_database

        database = fresh_database(TEST_DATABASE_URL)
        self.databases.append(database)
        server = LiveServer(database.__enter__(), workers=workers, env=env)
        self.servers.append(server)
        return server.start()

    def close(self):
        for server in self.servers:
            server.stop()
        for database in self.databases:
            database.__exit__(None, None, None)


@pytest.fixture
def live_server():
    """live_server(workers=4, env={}) -> a started LiveServer on a fresh, committed database."""
    servers = _LiveServers()
    yield servers
    servers.close()


@pytest.fixture(scope="module")
def shared_live_server():
    """One LiveServer (4 workers) for a whole module whose tests use distinct ids."""
    servers = _LiveServers()
    yield servers()
    servers.close()


@pytest.fixture
def server(shared_live_server):
    """The module's shared LiveServer (4 workers), for races whose tests use distinct ids."""
    return shared_live_server


@pytest.fixture
def fresh_server(live_server):
    """A LiveServer of its own (4 workers) on a fresh database."""
    return live_server(workers=4)


@pytest.fixture
def seeded(live_server):
    """A LiveServer (1 worker) whose database tests/seeds/due_work.py filled with work due for run-jobs."""
    server = live_server(workers=1)
    seed = (Path(__file__).parent / "seeds" / "due_work.py").read_text()
    result = subprocess.run([sys.executable, "-c", seed], env=server.env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return server


# -- outbound webhooks -----------------------------------------------------------------------------

@pytest.fixture
def webhook_receiver():
    """A real HTTP receiver on 127.0.0.1 (tests/webhook_receiver.py) that records every request
    and answers as told (status, delay, fail_next)."""
    from tests.webhook_receiver import Receiver

    with Receiver() as running:
        yield running


@pytest.fixture
def webhook_endpoint(client, admin, program):
    """webhook_endpoint(events=("*",), url=...) -> a new endpoint's JSON, with its secret; by
    default at a closed port (for tests that never send)."""
    def make(events=("*",), url="http://127.0.0.1:9/hook", **fields):
        response = client.post("/v1/webhook-endpoints", headers=admin,
                               json={"url": url, "events": list(events), **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return make


@pytest.fixture
def webhook_settings(app):
    """webhook_settings(retry_schedule=[...], timeout_seconds=..., ...) sets WEBHOOK_* config for
    the test; all of the app's config is put back afterwards."""
    saved = dict(app.config)

    def change(**config):
        app.config.update({f"WEBHOOK_{name.upper()}": value for name, value in config.items()})

    yield change
    app.config.clear()
    app.config.update(saved)


@pytest.fixture
def voucher(client, admin, rich, reward):
    """voucher(**redemption fields) -> (member, redemption JSON): vouchers of a 100-point reward for
    one member holding 1,000 points."""
    member, made = rich(1000), reward(name="Mug", value={"sku": "MUG"})

    def issue(**fields):
        response = client.post(f"/v1/members/{member['id']}/redemptions", headers=admin,
                               json={"reward_id": made["id"], **fields})
        assert response.status_code == 201, response.get_json()
        return member, response.get_json()
    return issue


@pytest.fixture
def new_shopper(client, admin, enroll, program):
    """new_shopper() -> a Shopper for a newly enrolled member, as many as a test needs."""
    return lambda: Shopper(client, admin, enroll())


@pytest.fixture
def webhook_live_shop(live_server, webhook_receiver):
    """A LiveServer (2 workers) with an endpoint at the receiver for member.enrolled, and 40
    members enrolled: 40 deliveries waiting. `.admin` holds admin headers."""
    import requests

    server = live_server(workers=2)
    server.admin = server.api_key("admin")
    created = requests.post(server.url + "/v1/webhook-endpoints", headers=server.admin, timeout=10,
                            json={"url": webhook_receiver.url, "events": ["member.enrolled"]})
    assert created.status_code == 201, created.text

    for index in range(40):
        response = requests.post(server.url + "/v1/members", headers=server.admin, timeout=10,
                                 json={"external_id": f"live-{index}"})
        assert response.status_code == 201, response.text
    return server


@pytest.fixture
def limited_app(app):
    """limited_app(**config) -> an app of its own with Flask-Limiter on (memory storage, 3 logins a
    minute per address unless `config` says otherwise).

    Flask-Limiter's `limiter` is one object for every app of the process, and each init_app sets
    whether it is on: afterwards it is switched off again, so later tests' apps are not limited.
    Default limits (RATELIMIT_DEFAULT) would outlive the test as well: test them in a process of
    their own.
    """
    def make(**config):
        assert "RATELIMIT_DEFAULT" not in config, "a default limit outlives the test: use a subprocess"
        return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                           "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                           "LOGIN_RATE_LIMIT": "3/minute", **config,
                           "READS_WITHOUT_TRANSACTION": False})  # in the test's transaction, as the shared app
    yield make
    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "RATELIMIT_ENABLED": False})
