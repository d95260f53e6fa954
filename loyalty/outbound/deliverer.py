"""The deliverer (`flask --app wsgi loyalty deliver-webhooks`): sends what is due, records each attempt.

A batch is claimed in one short transaction: the due deliveries are picked (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so deliverers running at the same moment pick different rows; SQLite
has one writer at a time) and leased, their `next_attempt_at` moved past the time the batch can
take. The sends then run with no transaction open, a few at a time, and their results are written
in a second transaction. A deliverer that dies mid-batch (kill -9, a lost machine) leaves its
lease to run out, and the deliveries are sent again: at least once, never twice at the same time.
"""
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError

from loyalty import clock
from loyalty.extensions import db
from loyalty.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from loyalty.outbound import secrets
from loyalty.outbound.endpoints import host_allowed
from loyalty.outbound.signing import HEADER, signature_header

log = logging.getLogger(__name__)
# What is read of an answer's body (for keep-alive); a larger one is cut off and its connection closed.
ANSWER_READ_LIMIT = 64 * 1024
USER_AGENT = "loyalty-webhooks/1"
DATABASE_RETRY_SECONDS = 5


@dataclass
class Claimed:
    id: str
    url: str
    body: bytes
    attempts: int
    round_start: int
    secrets: list[str]  # empty when the endpoint's secret cannot be read (SECRET_KEY changed)


@dataclass
class Outcome:
    delivery: Claimed
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Settings:
    timeout: float
    batch_size: int
    concurrency: int
    poll_seconds: float
    lease_seconds: float
    retry_schedule: tuple[int, ...]
    allowed_hosts: tuple[str, ...]

    @classmethod
    def from_config(cls, config) -> "Settings":
        timeout, batch, concurrency = (config["WEBHOOK_TIMEOUT_SECONDS"], config["WEBHOOK_BATCH_SIZE"],
                                       config["WEBHOOK_CONCURRENCY"])
        return cls(timeout=timeout, batch_size=batch, concurrency=concurrency,
                   poll_seconds=config["WEBHOOK_POLL_SECONDS"],
                   lease_seconds=config["WEBHOOK_LEASE_SECONDS"] or lease_seconds(batch, concurrency, timeout),
                   retry_schedule=tuple(config["WEBHOOK_RETRY_SCHEDULE"]),
                   allowed_hosts=tuple(config["WEBHOOK_ALLOWED_HOSTS"]))


def lease_seconds(batch_size: int, concurrency: int, timeout: float) -> float:
    """Long enough for every send of a batch to time out, one round of `concurrency` after another
    (connect and read each up to `timeout`), with a minute to spare for writing the results."""
    return math.ceil(batch_size / concurrency) * 2 * timeout + 60


# -- claiming -----------------------------------------------------------------------------------

def claim(settings: Settings) -> list[Claimed]:
    """Pick up to batch_size due deliveries and lease them to this deliverer; commits."""
    now = clock.now()
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
               WebhookEndpoint.active, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(settings.batch_size)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    try:
        ids = db.session.execute(due).scalars().all()
        rows = _lease(ids, now, settings) if ids else []
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return [Claimed(id=row.id, url=row.url, body=row.body.encode(), attempts=row.attempts,
                    round_start=row.round_start, secrets=_signing_secrets(row, now)) for row in rows]


def _lease(ids: list[str], now: datetime, settings: Settings) -> list:
    """Keep the deliveries from other deliverers for the lease; their rows, with what sending needs."""
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                       .values(next_attempt_at=now + timedelta(seconds=settings.lease_seconds))
                       .execution_options(synchronize_session=False))
    return db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.round_start, WebhookEvent.body,
               WebhookEndpoint.url, WebhookEndpoint.secret_encrypted, WebhookEndpoint.previous_secret_encrypted,
               WebhookEndpoint.previous_secret_expires_at)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids))
    ).all()


def _signing_secrets(row, now: datetime) -> list[str]:
    """The secrets to sign with: the current one, and the previous one until it expires. None can
    be read after SECRET_KEY changed: then nothing is sent (an unsigned delivery would be refused)."""
    try:
        current = [secrets.decrypt(row.secret_encrypted)]
    except InvalidToken:
        return []
    if row.previous_secret_encrypted is None or row.previous_secret_expires_at <= now:
        return current
    try:
        return current + [secrets.decrypt(row.previous_secret_encrypted)]
    except InvalidToken:
        return current


# -- sending ------------------------------------------------------------------------------------

class Sender:
    """Sends deliveries a few at a time, each thread keeping its own HTTP connections alive.

    Once `stop` is set, sends not yet begun are skipped (None): the ones in flight finish.
    """

    def __init__(self, settings: Settings, stop: threading.Event):
        self.settings = settings
        self.stop = stop
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="webhook")

    def send_all(self, batch: list[Claimed]) -> list[Outcome | None]:
        return list(self._pool.map(self.send, batch))

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = True  # HTTPS_PROXY / HTTP_PROXY: the egress proxy (README)
            self._sessions.append(session)
        return session

    def send(self, delivery: Claimed) -> Outcome | None:
        if self.stop.is_set():
            return None
        attempted_at = clock.now()
        started = time.monotonic()
        status_code, error = None, None
        if not host_allowed(delivery.url, list(self.settings.allowed_hosts)):
            error = "host not in WEBHOOK_ALLOWED_HOSTS: not sent"
        elif not delivery.secrets:
            error = "the endpoint's secret cannot be read (SECRET_KEY changed?): rotate it; not sent"
        else:
            status_code, error = self._post(delivery)
        return Outcome(delivery, attempted_at, status_code, error, int((time.monotonic() - started) * 1000))

    def _post(self, delivery: Claimed) -> tuple[int | None, str | None]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   HEADER: signature_header(delivery.body, delivery.secrets, int(time.time()))}
        try:
            with self._session().post(delivery.url, data=delivery.body, headers=headers,
                                      timeout=self.settings.timeout, allow_redirects=False, stream=True) as answer:
                _read_answer(answer)
                status = answer.status_code
        except requests.Timeout:
            return None, f"timed out after {self.settings.timeout:g} s"
        except requests.ConnectionError as problem:
            return None, _short(f"connection failed: {problem}")
        except requests.RequestException as problem:
            return None, _short(f"request failed: {problem}")
        return status, None if 200 <= status < 300 else f"answered {status}"

    def close(self):
        self._pool.shutdown(wait=True)
        for session in self._sessions:
            session.close()


def _read_answer(answer: requests.Response) -> None:
    """Read the answer's body to its end, so that its connection is kept for the next send; a body
    larger than ANSWER_READ_LIMIT is left unread and its connection closed."""
    read = 0
    for chunk in answer.iter_content(8192):
        read += len(chunk)
        if read > ANSWER_READ_LIMIT:
            break


def _short(text: str) -> str:
    return text if len(text) <= 500 else text[:497] + "..."


# -- recording ----------------------------------------------------------------------------------

DELIVERIES = WebhookDelivery.__table__
RECORD_OUTCOME = (
    update(DELIVERIES).where(DELIVERIES.c.id == bindparam("delivery_id"))
    .values(status=bindparam("new_status"), attempts=DELIVERIES.c.attempts + 1,
            next_attempt_at=bindparam("next_at"), last_status_code=bindparam("code"),
            last_error=bindparam("problem"), delivered_at=bindparam("delivered"))
)
INSERT_ATTEMPT = insert(WebhookAttempt.__table__)


def record(batch: list[Claimed], outcomes: list[Outcome | None], settings: Settings) -> None:
    """Write each attempt and the delivery's new state in one transaction; commits.

    Deliveries not sent (the deliverer is stopping) are released, due again at once. A delivery
    deleted meanwhile (its endpoint was deleted) is skipped.
    """
    now = clock.now()
    unsent = [delivery.id for delivery, outcome in zip(batch, outcomes) if outcome is None]
    outcomes = [outcome for outcome in outcomes if outcome is not None]
    ids = [outcome.delivery.id for outcome in outcomes]
    try:
        if unsent:
            db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(unsent))
                               .values(next_attempt_at=now).execution_options(synchronize_session=False))
        still_there = set(db.session.execute(
            select(WebhookDelivery.id).where(WebhookDelivery.id.in_(ids)).with_for_update()).scalars())
        outcomes = [outcome for outcome in outcomes if outcome.delivery.id in still_there]
        if outcomes:
            db.session.execute(RECORD_OUTCOME, [_new_state(outcome, settings, now) for outcome in outcomes])
            db.session.execute(INSERT_ATTEMPT, [
                {"delivery_id": outcome.delivery.id, "attempted_at": outcome.attempted_at,
                 "status_code": outcome.status_code, "error": outcome.error, "duration_ms": outcome.duration_ms}
                for outcome in outcomes])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _new_state(outcome: Outcome, settings: Settings, now: datetime) -> dict:
    state = {"delivery_id": outcome.delivery.id, "code": outcome.status_code, "problem": outcome.error}
    if outcome.delivered:
        return {**state, "new_status": "delivered", "next_at": None, "delivered": outcome.attempted_at}
    failures_this_round = outcome.delivery.attempts + 1 - outcome.delivery.round_start
    schedule = settings.retry_schedule
    if failures_this_round > len(schedule):
        return {**state, "new_status": "failed", "next_at": None, "delivered": None}
    retry_at = now + timedelta(seconds=schedule[failures_this_round - 1])
    return {**state, "new_status": "pending", "next_at": retry_at, "delivered": None}


# -- the loop -----------------------------------------------------------------------------------

def run(*, once: bool, stop: threading.Event) -> int:
    """Send what is due until `stop` is set (or, with `once`, until nothing is due); returns how
    many attempts were made. A stop lets the batch in flight finish and be recorded."""
    settings = Settings.from_config(current_app.config)
    sender = Sender(settings, stop)
    sent = 0
    try:
        while not stop.is_set():
            try:
                batch = claim(settings)
                if batch:
                    outcomes = sender.send_all(batch)
                    record(batch, outcomes, settings)
                    sent += sum(outcome is not None for outcome in outcomes)
            except DBAPIError:
                if once:
                    raise
                # The database went away (a restart, a fail-over): wait and carry on. A batch whose
                # results could not be written is sent again when its lease runs out.
                log.exception("deliver-webhooks: database error; retrying in %s s", DATABASE_RETRY_SECONDS)
                db.session.remove()
                stop.wait(DATABASE_RETRY_SECONDS)
                continue
            finally:
                db.session.remove()  # nothing kept between batches: steady memory over days
            if batch:
                continue
            if once:
                break
            stop.wait(settings.poll_seconds)
    finally:
        sender.close()
    return sent
