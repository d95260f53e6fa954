"""Long commands (demo, run-jobs, stripe-replay, stripe-sync): a progress bar when a person watches
a terminal, nothing but their result otherwise (cron, pipes), and a one-line summary at the end."""
import os
import pty
import subprocess
import threading

import pytest

from tests.helpers import TEST_DATABASE_URL
from tests.live import ROOT, VENV_BIN, fresh_database


def flask_command(database_url: str, *args: str, stderr_on_terminal: bool) -> tuple[str, str, int]:
    """Run `flask --app wsgi ...`; its standard error is a pseudo-terminal or a pipe. (stdout, stderr, exit)."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    command = [str(VENV_BIN / "flask"), "--app", "wsgi", *args]
    if not stderr_on_terminal:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        return result.stdout, result.stderr, result.returncode
    controller, terminal = pty.openpty()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=terminal, text=True)
    os.close(terminal)
    shown = bytearray()

    def read_terminal():  # concurrently, or a full terminal buffer would stop the command
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the command ended and closed its side
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    stdout = process.stdout.read()
    code = process.wait(timeout=300)
    reader.join(timeout=30)
    os.close(controller)
    return stdout, shown.decode(errors="replace"), code


@pytest.fixture
def database():
    with fresh_database(TEST_DATABASE_URL) as url:
        result = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                                env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)},
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        yield url


def test_on_a_terminal_demo_and_run_jobs_show_progress_then_a_summary(database):
    stdout, terminal, code = flask_command(database, "loyalty", "demo", "--members", "25",
                                           stderr_on_terminal=True)
    assert code == 0, terminal
    for stage in ("Enrolling members", "Recording a year of purchases", "Redeeming rewards",
                  "Recording feedback and cases"):
        assert stage in terminal
    assert "100%" in terminal and "25/25" in terminal
    assert stdout.splitlines()[-1].startswith("Loaded 25 members, ")

    stdout, terminal, code = flask_command(database, "loyalty", "run-jobs", stderr_on_terminal=True)
    assert code == 0, terminal
    assert "Running timed jobs" in terminal and "100%" in terminal
    assert len(stdout.splitlines()) == 1 and stdout.startswith("Ran ")


def test_without_a_terminal_only_the_result_is_printed(database):
    stdout, stderr, code = flask_command(database, "loyalty", "demo", "--members", "10",
                                         stderr_on_terminal=False)
    assert code == 0, stderr
    assert "Enrolling" not in stdout + stderr and "%" not in stdout + stderr
    lines = stdout.splitlines()
    assert lines[-1].startswith("Loaded 10 members, ") and sum("lk_" in line for line in lines) == 2

    stdout, stderr, code = flask_command(database, "loyalty", "run-jobs", stderr_on_terminal=False)
    assert code == 0, stderr
    assert stderr == "" and len(stdout.splitlines()) == 1
    assert "pending points vested" in stdout and "points expired" in stdout
