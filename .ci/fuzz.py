"""Fuzz the live API from its own OpenAPI document with schemathesis, once per role.

Bounded: each role gets FUZZ_SECONDS (default 40). Fails on any 5xx, any response that does not
match its documented schema, status code or content type. Traffic goes to 127.0.0.1 only.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PORT = int(os.environ.get("FUZZ_PORT", "8765"))
BASE = f"http://127.0.0.1:{PORT}"
SECONDS = os.environ.get("FUZZ_SECONDS", "40")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def flask(env, *args):
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()


def call(method, path, body=None, token=None):
    request = urllib.request.Request(BASE + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def credentials(env):
    """A bearer credential for each role that exists in this build."""
    admin = flask(env, "loyalty", "create-api-key", "--name", "fuzz admin", "--role", "admin")[-1]
    storefront = flask(env, "loyalty", "create-api-key", "--name", "fuzz shop", "--role", "storefront")[-1]
    found = {"admin": admin, "storefront": storefront}
    for role in ("manager", "cashier"):
        try:
            found[role] = call("POST", "/v1/staff/sessions",
                               {"email": f"{role}@demo.shop", "password": f"demo-{role}-pass"})["token"]
        except Exception as error:  # staff accounts are part of the demo once they exist
            print(f"no {role} token: {error}")
    try:
        member = call("GET", "/v1/members?limit=1", token=admin)["data"][0]
        found["customer"] = call("POST", f"/v1/members/{member['id']}/access-tokens", {}, token=storefront)["token"]
    except Exception as error:
        print(f"no customer token: {error}")
    return found


def main() -> int:
    workdir = tempfile.mkdtemp(prefix="loyalty-fuzz-")
    env = {**os.environ, "DATABASE_URL": os.environ.get("FUZZ_DATABASE_URL", f"sqlite:///{workdir}/fuzz.sqlite3"),
           "STRIPE_WEBHOOK_SECRET": "whsec_fuzz"}
    flask(env, "db", "upgrade")
    flask(env, "loyalty", "demo", "--members", "40")
    # No request-line limit: the fuzzer writes URLs longer than gunicorn's 4 KiB, which gunicorn
    # would refuse with its own HTML page before the app (and its JSON errors) sees them.
    server = subprocess.Popen([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{PORT}",
                               "--limit-request-line", "0", "wsgi:app"],
                              cwd=ROOT, env=env, stderr=open(f"{workdir}/gunicorn.log", "w"))
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(BASE + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        failed = []
        for role, token in credentials(env).items():
            print(f"== schemathesis as {role}", flush=True)
            run = subprocess.run([
                str(BIN / "schemathesis"), "run", f"{BASE}/openapi.json",
                "-H", f"Authorization: Bearer {token}", "--max-time", SECONDS, "--checks", CHECKS,
                "--exclude-path", "/webhooks/stripe", "--seed", "1", "--no-color",
            ], cwd=workdir)
            if run.returncode:
                failed.append(role)
        errors = Path(f"{workdir}/gunicorn.log").read_text()
        if "Traceback" in errors:
            print(errors[-5000:])
            failed.append("server tracebacks")
        print("fuzzing failed for: " + ", ".join(failed) if failed else "fuzzing passed for every role")
        return 1 if failed else 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
