"""Shared plumbing for the bench scripts: databases, gunicorn servers, HTTP, worker memory.

Nothing here imports the project: the scripts drive it the way an operator would (the flask
CLI, gunicorn, HTTP), so they keep working while loyalty/ changes underneath.
"""
import contextlib
import copy
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
FIXTURES = ROOT / "tests" / "fixtures" / "stripe"
WEBHOOK_SECRET = "whsec_bench_" + "s3cret"


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# -- databases ---------------------------------------------------------------------------------

class Database:
    """A throwaway database: PostgreSQL `bench_<random>` (dropped afterwards) or a SQLite temp file."""

    def __init__(self, kind: str, name: str | None = None, keep: bool = False):
        """`name` (PostgreSQL): use that database, created if missing; `keep`: do not drop it."""
        self.kind = kind
        self.name = name or f"bench_{secrets.token_hex(4)}"
        self.keep = keep
        self.existed = False
        self.tmpdir = None

    def __enter__(self):
        if self.kind == "postgresql":
            self.existed = self._exists()
            if not self.existed:
                self._admin(f'CREATE DATABASE "{self.name}"')
            self.url = f"{PG_ADMIN_URL}/{self.name}"
        else:
            self.tmpdir = tempfile.mkdtemp(prefix="bench_sqlite_")
            self.url = f"sqlite:///{self.tmpdir}/{self.name}.sqlite3"
        log(f"[db] {self.kind}: {self.url}")
        return self

    def __exit__(self, *exc):
        if self.kind == "postgresql" and self.keep:
            log(f"[db] kept {self.name}")
        elif self.kind == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            log(f"[db] dropped {self.name}")
        elif self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _exists(self) -> bool:
        import psycopg

        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as connection:
            return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)).fetchone() is not None

    @staticmethod
    def _admin(sql: str):
        import psycopg

        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as connection:
            connection.execute(sql)

    def connect(self):
        """A DB-API connection (psycopg 3 or sqlite3) for direct SQL."""
        if self.kind == "postgresql":
            import psycopg

            return psycopg.connect(self.url)
        import sqlite3

        return sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30)

    @property
    def sqlalchemy_url(self) -> str:
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1)


def server_env(db: Database, **extra) -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=db.url, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, SECRET_KEY="bench-" + secrets.token_hex(8),
               RATELIMIT_STORAGE_URI="memory://", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def flask_cli(env: dict, *args: str) -> str:
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def create_api_key(env: dict, role: str) -> str:
    return flask_cli(env, "loyalty", "create-api-key", "--name", f"bench {role}", "--role", role).strip().splitlines()[-1]


# -- gunicorn ------------------------------------------------------------------------------------

def in_process_app(db: Database):
    """A migrated database with an admin key, and the project's app on it: (app, client, headers)."""
    env = server_env(db)
    flask_cli(env, "db", "upgrade")
    key = create_api_key(env, "admin")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from loyalty import create_app

    app = create_app()
    return app, app.test_client(), {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving `app_spec` with the given settings, on a free port of 127.0.0.1."""

    def __init__(self, app_spec: str, env: dict, workers: int = 4, worker_class: str = "sync",
                 health_path: str = "/healthz", logfile: str | None = None):
        self.app_spec, self.env, self.workers, self.worker_class = app_spec, env, workers, worker_class
        self.health_path = health_path
        self.port = free_port()
        self.logfile = logfile or os.path.join(tempfile.gettempdir(), f"bench_gunicorn_{self.port}.log")

    def __enter__(self):
        self._log = open(self.logfile, "w")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", str(self.workers), "-k", self.worker_class,
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", self.app_spec],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.logfile}:\n{Path(self.logfile).read_text()[-3000:]}")
            try:
                status, _ = request("GET", self.port, self.health_path)
                if status < 500 and len(self.worker_pids()) == self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not come up on {self.port}; see {self.logfile}")

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        pids = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(pid) for pid in (task / "children").read_text().split()]
        return pids

    def worker_rss_mb(self) -> list[float]:
        """VmRSS of each worker, in MB (from /proc)."""
        sizes = []
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
        return sizes


def cpu_seconds(pids) -> float:
    """User + system CPU time the processes have used so far (/proc/PID/stat; gone ones count 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Every process of the local PostgreSQL server (backends, autovacuum, WAL writer...)."""
    found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


# -- HTTP ------------------------------------------------------------------------------------------

def request(method: str, port: int, path: str, body=None, key: str | None = None, headers=None,
            timeout: float = 60):
    """One HTTP request; returns (status, parsed JSON or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        all_headers = {"Content-Type": "application/json"}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        all_headers.update(headers or {})
        data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        connection.close()


def must(expected, result, what: str):
    status, body = result
    if status not in ((expected,) if isinstance(expected, int) else expected):
        raise RuntimeError(f"{what}: HTTP {status}: {str(body)[:500]}")
    return body


# -- Stripe events ---------------------------------------------------------------------------------

def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def payment_intent_event(event_id: str, pi_id: str, amount: int, member_id: str, created: int) -> str:
    """A `payment_intent.succeeded` event in Stripe's own shape (the shared fixtures), as JSON."""
    intent = copy.deepcopy(_PI)
    intent.update(id=pi_id, amount=amount, amount_received=amount, currency="usd", status="succeeded",
                  customer=None, receipt_email=None, metadata={"loyalty_member_id": member_id},
                  latest_charge=None, created=created)
    envelope = copy.deepcopy(_ENVELOPE)
    envelope.update(id=event_id, type="payment_intent.succeeded", created=created, data={"object": intent})
    return json.dumps(envelope, separators=(",", ":"))


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for `payload` (Stripe's scheme: HMAC-SHA256 of "t.payload")."""
    import hashlib
    import hmac

    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


try:
    _PI = _fixture("openapi_payment_intent")
    _ENVELOPE = _fixture("openapi_event_plan_created")
except OSError:  # fixtures missing: a minimal event still exercises the same path
    _PI = {"object": "payment_intent", "livemode": False}
    _ENVELOPE = {"object": "event", "api_version": "2026-04-22.dahlia", "livemode": False,
                 "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}}


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": sys.version.split()[0], "date": time.strftime("%Y-%m-%d %H:%M %Z")}
