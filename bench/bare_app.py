"""The ceiling: a bare Flask + SQLAlchemy Core app on the project's own schema.

No flask-smorest, no marshmallow, no auth, no ORM: just the work an earn, a balance read and
a hello-world have to do. `bench/run.py` serves it with the same gunicorn settings as the
project (`gunicorn bench.bare_app:app`, DATABASE_URL from the environment).

- POST /earn {"member_id", "order_id", "amount", "currency"}: one transaction that inserts a
  purchase row, moves members.points_balance with a conditional UPDATE ... RETURNING, inserts
  one ledger_entries row, and commits (the project's earn, without tiers/campaigns/auth).
- GET /members/<id>: the member row as JSON.
- GET /hello: {"hello": "world"}.
"""
import hashlib
import os
import secrets
import time
from datetime import date, datetime, timezone

from flask import Flask, abort, jsonify, request
from sqlalchemy import create_engine, event, text


def _url(value: str) -> str:
    if value.split("://", 1)[0] in ("postgres", "postgresql"):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


DATABASE_URL = _url(os.environ["DATABASE_URL"])
SQLITE = DATABASE_URL.startswith("sqlite")
engine = create_engine(DATABASE_URL, **({"connect_args": {"timeout": 30}} if SQLITE else {}))

if SQLITE:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, like the project
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

app = Flask(__name__)

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def now():
    moment = datetime.now(timezone.utc)
    return moment.replace(tzinfo=None) if SQLITE else moment


INSERT_PURCHASE = text(
    "INSERT INTO purchases (id, member_id, order_id, source, amount, currency, refunded_amount,"
    " disputed_amount, occurred_at, created_at, earn_rate, tier_multiplier, campaign_multiplier,"
    " points_earned, qualifying_points, pending_points, fingerprint)"
    " VALUES (:id, :member_id, :order_id, 'api', :amount, :currency, 0, 0, :now, :now, :rate, :one, :one,"
    " :points, :points, 0, :fingerprint)"
)
UPDATE_BALANCE = text(
    "UPDATE members SET points_balance = points_balance + :points"
    " WHERE id = :member_id AND status = 'active' RETURNING points_balance"
)
INSERT_ENTRY = text(
    "INSERT INTO ledger_entries (member_id, type, points, balance_after, created_at, purchase_id,"
    " actor_type, actor_id) VALUES (:member_id, 'earn', :points, :balance, :now, :purchase_id,"
    " 'api_key', 'bench')"
)
SELECT_MEMBER = text("SELECT * FROM members WHERE id = :id")


@app.post("/earn")
def earn():
    body = request.get_json()
    member_id, amount, currency = body["member_id"], int(body["amount"]), body["currency"].lower()
    points = amount // 100  # earn rate 1 point per usd
    one = "1" if SQLITE else 1
    stamp = now()
    purchase_id = new_id("pur")
    fingerprint = hashlib.sha256(f"{member_id}|{amount}|{currency}|-".encode()).hexdigest()
    with engine.begin() as connection:
        if SQLITE:  # take the write lock up front, as the project does (reads stay lock-free)
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.execute(INSERT_PURCHASE, {
            "id": purchase_id, "member_id": member_id, "order_id": body["order_id"], "amount": amount,
            "currency": currency, "now": stamp, "rate": one, "one": one, "points": points,
            "fingerprint": fingerprint})
        balance = connection.execute(UPDATE_BALANCE, {"points": points, "member_id": member_id}).scalar()
        if balance is None:
            abort(404)
        connection.execute(INSERT_ENTRY, {"member_id": member_id, "points": points, "balance": balance,
                                          "now": stamp, "purchase_id": purchase_id})
    return jsonify(id=purchase_id, member_id=member_id, order_id=body["order_id"], amount=amount,
                   currency=currency, points_earned=points, balance_after=balance), 201


@app.get("/members/<member_id>")
def member(member_id):
    with engine.connect() as connection:
        row = connection.execute(SELECT_MEMBER, {"id": member_id}).mappings().first()
    if row is None:
        abort(404)
    return jsonify({key: (value.isoformat() if isinstance(value, (date, datetime)) else value)
                    for key, value in row.items()})


@app.get("/hello")
def hello():
    return jsonify(hello="world")
