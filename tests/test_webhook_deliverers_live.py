"""Deliverer processes against a real committed database: two at once, kill -9, SIGTERM."""
import os
import signal
import subprocess
import time

import pytest
import requests

from tests.helpers import ON_POSTGRES
from tests.live import ROOT, VENV_BIN

EVENTS = 40  # what webhook_live_shop enrols


def deliverer(server, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([str(VENV_BIN / "flask"), "--app", "wsgi", "loyalty", "deliver-webhooks", *args],
                            cwd=ROOT, env={**server.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def deliveries(server, **filters) -> list[dict]:
    rows, cursor = [], None
    while True:
        params = {"limit": 100, **filters, **({"cursor": cursor} if cursor else {})}
        page = requests.get(server.url + "/v1/webhook-deliveries", headers=server.admin, params=params,
                            timeout=10).json()
        rows += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def test_two_deliverers_started_at_once_send_each_delivery_once(webhook_live_shop, webhook_receiver):
    webhook_receiver.delay = 0.02  # sends overlap in time between the two processes
    both = [deliverer(webhook_live_shop, "--once", WEBHOOK_BATCH_SIZE="5", WEBHOOK_CONCURRENCY="4") for _ in range(2)]
    for process in both:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    ids = webhook_receiver.event_ids()
    assert len(ids) == EVENTS and len(set(ids)) == EVENTS
    assert {row["status"] for row in deliveries(webhook_live_shop)} == {"delivered"}
    assert all(row["attempts"] == 1 for row in deliveries(webhook_live_shop))


def test_sigterm_lets_the_sends_in_flight_finish_and_be_recorded(webhook_live_shop, webhook_receiver):
    webhook_receiver.delay = 1.5
    process = deliverer(webhook_live_shop, WEBHOOK_BATCH_SIZE="100", WEBHOOK_CONCURRENCY="8")
    _wait_for(lambda: len(webhook_receiver.received) >= 8)
    process.send_signal(signal.SIGTERM)
    output, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    in_flight = len(webhook_receiver.received)
    assert 8 <= in_flight < EVENTS  # the sends begun finished; the rest of the batch was left
    rows = deliveries(webhook_live_shop)
    delivered = [row for row in rows if row["status"] == "delivered"]
    assert len(delivered) == in_flight == len(set(webhook_receiver.event_ids()))
    assert f"{in_flight} attempt(s)" in output
    left = [row for row in rows if row["status"] == "pending"]
    assert len(left) == EVENTS - in_flight and all(row["attempts"] == 0 for row in left)
    queue = requests.get(webhook_live_shop.url + "/v1/webhook-queue", headers=webhook_live_shop.admin,
                         timeout=10).json()
    assert queue["due"] == len(left)  # released for the next deliverer, not leased away


@pytest.mark.skipif(not ON_POSTGRES, reason="kill -9 mid-batch is checked on PostgreSQL")
def test_a_deliverer_killed_mid_batch_loses_nothing(webhook_live_shop, webhook_receiver):
    webhook_receiver.delay = 3
    killed = deliverer(webhook_live_shop, WEBHOOK_BATCH_SIZE="10", WEBHOOK_CONCURRENCY="10",
                       WEBHOOK_LEASE_SECONDS="4")
    _wait_for(lambda: len(webhook_receiver.received) >= 5)
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=10)
    interrupted = set(webhook_receiver.event_ids())
    webhook_receiver.delay = 0
    time.sleep(4.5)  # the dead deliverer's lease runs out
    rescue = deliverer(webhook_live_shop, "--once")
    _, errors = rescue.communicate(timeout=120)
    assert rescue.returncode == 0, errors
    assert {row["status"] for row in deliveries(webhook_live_shop)} == {"delivered"}
    sent = webhook_receiver.event_ids()
    assert set(sent) == {row["event_id"] for row in deliveries(webhook_live_shop)} and len(set(sent)) == EVENTS
    assert interrupted <= set(sent) and len(sent) == EVENTS + len(interrupted)  # those were sent again


def _wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
