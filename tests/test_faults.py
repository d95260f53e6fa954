"""Faults against a real server: a worker killed mid-request, the database going away."""
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.helpers import ON_POSTGRES, TEST_DATABASE_URL
from tests.live import LiveServer, fresh_database
from tests.stripe_events import event, payment_intent, signed, unique


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _setup_shop(server):
    admin = server.api_key("admin")
    requests.patch(server.url + "/v1/program", json={"earn_rates": {"usd": "1"}}, headers=admin).raise_for_status()
    reward = requests.post(server.url + "/v1/rewards", headers=admin, json={
        "name": "Tea", "cost_points": 5, "kind": "custom", "value": {}}).json()
    members = [requests.post(server.url + "/v1/members", json={"external_id": f"k{n}"}, headers=admin).json()
               for n in range(5)]
    return admin, reward, members


def test_killing_a_worker_mid_burst_loses_and_invents_nothing(live_server):
    """kill -9 one worker during a burst of earns and redemptions: every request applied fully or not at all."""
    server = live_server(workers=3)
    admin, reward, members = _setup_shop(server)

    def earn(number):
        member = members[number % len(members)]
        try:
            return requests.post(server.url + "/v1/purchases", headers=admin, timeout=30, json={
                "member_id": member["id"], "order_id": f"burst-{number}", "amount": 1000 + number,
                "currency": "usd"}).status_code
        except requests.RequestException:
            return None

    def redeem(number):
        member = members[number % len(members)]
        try:
            return requests.post(server.url + f"/v1/members/{member['id']}/redemptions", headers=admin,
                                 timeout=30, json={"reward_id": reward["id"]}).status_code
        except requests.RequestException:
            return None

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(earn, n) for n in range(150)] + [pool.submit(redeem, n) for n in range(60)]
        time.sleep(0.3)
        workers = _children(server.process.pid)
        assert workers
        os.kill(workers[0], signal.SIGKILL)
        results = [future.result() for future in futures]
    assert results.count(201) > 0
    # The service carries on with the surviving and the restarted workers.
    assert earn(10_000) == 201

    engine = create_engine(server.database_url)
    with engine.connect() as connection:
        unmatched = connection.execute(text(
            "SELECT p.id FROM purchases p LEFT JOIN ledger_entries e ON e.purchase_id = p.id "
            "GROUP BY p.id, p.points_earned HAVING COALESCE(SUM(e.points), 0) <> p.points_earned")).all()
        orphans = connection.execute(text(
            "SELECT r.id FROM redemptions r LEFT JOIN ledger_entries e ON e.redemption_id = r.id "
            "GROUP BY r.id, r.points HAVING COALESCE(SUM(e.points), 0) <> -r.points")).all()
        recorded = connection.execute(text("SELECT COUNT(*) FROM purchases")).scalar_one()
    engine.dispose()
    assert unmatched == [] and orphans == []
    assert recorded >= results[:150].count(201) + 1
    verify = server.flask("loyalty", "verify-ledger")
    assert verify.returncode == 0, verify.stdout


class TcpProxy:
    """Forwards a local port to the database; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.sockets, self.listener, self.up = [], None, False

    def start(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        self.up = True
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while self.up:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.up = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone keeps listening
        except OSError:
            pass
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
        self.sockets = []


@pytest.mark.skipif(not ON_POSTGRES, reason="needs a database server to lose (set TEST_DATABASE_URL)")
def test_database_outage_gives_fast_json_503_and_recovers():
    """With the database unreachable: JSON 503s quickly, /healthz 503; when it returns, service resumes."""
    with fresh_database(TEST_DATABASE_URL) as url:
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname, parts.port or 5432)
        proxy.start()
        proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        server = LiveServer(proxied, workers=2)
        try:
            server.start()
            admin, reward, members = _setup_shop(server)
            earn = lambda n: requests.post(server.url + "/v1/purchases", headers=admin, timeout=30, json={
                "member_id": members[0]["id"], "order_id": f"out-{n}", "amount": 500, "currency": "usd"})
            assert earn(0).status_code == 201
            proxy.cut()
            for n in range(1, 4):
                started = time.monotonic()
                response = earn(n)
                assert response.status_code == 503, response.text
                assert response.headers["Content-Type"].startswith("application/json")
                assert response.json()["error"]["code"] == "service_unavailable"
                assert time.monotonic() - started < 10
            assert requests.get(server.url + "/healthz", timeout=30).status_code == 503
            # A Stripe webhook meanwhile must not be acknowledged, so that Stripe delivers it again.
            paying = event("payment_intent.succeeded", payment_intent(
                unique("pi"), 1000, metadata={"loyalty_member_id": members[1]["id"]}))
            payload, headers = signed(paying)
            webhook = requests.post(server.url + "/webhooks/stripe", data=payload, headers=headers, timeout=30)
            assert webhook.status_code == 503, webhook.text
            proxy.start()
            # Each worker may answer one more 503 on a connection the outage broke (there is no
            # pre-ping); then it replaces its pool and carries on.
            deadline, attempt = time.monotonic() + 20, 100
            while earn(attempt).status_code != 201:
                assert time.monotonic() < deadline, "did not recover"
                attempt += 1
                time.sleep(0.2)
            assert all(earn(n).status_code == 201 for n in range(200, 206))
            redelivered = requests.post(server.url + "/webhooks/stripe", data=payload, headers=headers, timeout=30)
            assert redelivered.status_code == 200 and redelivered.json()["status"] == "processed"
            assert requests.get(server.url + "/healthz", timeout=30).status_code == 200
            verify = server.flask("loyalty", "verify-ledger")
            assert verify.returncode == 0, verify.stdout
        finally:
            server.stop()
            proxy.cut()
