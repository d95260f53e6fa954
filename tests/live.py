"""A real gunicorn server with several workers on its own committed database, for race tests."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fresh_database(base_url: str | None):
    """A new, empty database URL: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if not base_url or base_url.startswith("sqlite"):
        yield f"sqlite:///{tempfile.mkdtemp(prefix='loyalty-live-')}/live.sqlite3"
        return
    name = f"loyalty_live_{uuid.uuid4().hex[:12]}"
    admin_url = base_url.rsplit("/", 1)[0] + "/postgres"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


class LiveServer:
    """gunicorn serving wsgi:app on 127.0.0.1 against `database_url`."""

    def __init__(self, database_url: str, workers: int = 4, env: dict | None = None):
        self.database_url = database_url
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": database_url, "STRIPE_WEBHOOK_SECRET": "whsec_test_secret",
                    "PYTHONPATH": str(ROOT), **(env or {})}
        self.workers = workers
        self.process = None

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        """Run `flask --app wsgi ...` against the server's database."""
        return subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=120)

    def start(self):
        setup = self.flask("db", "upgrade")
        assert setup.returncode == 0, setup.stderr
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
             "--graceful-timeout", "2", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:  # refused, or accepted before a worker is ready
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def api_key(self, role: str = "admin") -> dict:
        result = self.flask("loyalty", "create-api-key", "--name", f"live {role}", "--role", role)
        assert result.returncode == 0, result.stderr
        return {"Authorization": f"Bearer {result.stdout.strip().splitlines()[-1]}"}
