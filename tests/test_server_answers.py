"""What the server answers outside the happy path: JSON errors, never HTML (outside /docs and the
web pages), and gunicorn's settings from gunicorn.conf.py (issue 16, item 9)."""
import os
import subprocess

import pytest

from tests.live import ROOT, VENV_BIN


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/nowhere", 404),
    ("GET", "/v1/members/", 404),             # a trailing slash: no redirect page
    ("GET", "/docs/", 404),
    ("DELETE", "/healthz", 405),
    ("OPTIONS", "/v1/members", 405),          # Flask's automatic answer was an empty text/html 200
    ("TRACE", "/v1/members", 405),
    ("GET", "/webhooks/stripe", 405),
    ("GET", "/static/nothing.js", 404),
    ("GET", "/static/../config.py", 404),
])
def test_routing_errors_are_json(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/json", response.get_data()[:200]
    assert response.get_json()["error"]["code"] in ("not_found", "method_not_allowed")


def test_a_refused_method_names_the_allowed_ones(client):
    response = client.open("/v1/members", method="OPTIONS")
    assert {"GET", "POST"} <= {method.strip() for method in response.headers["Allow"].split(",")}


def test_a_body_over_the_limit_is_a_json_413(client, admin):
    response = client.post("/v1/members", headers={**admin, "Content-Type": "application/json"},
                           data=b"[" * (1024 * 1024 + 1))
    assert response.status_code == 413 and response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_only_the_docs_page_is_html(client):
    assert client.get("/docs").mimetype == "text/html"
    assert client.get("/openapi.json").mimetype == "application/json"
    assert client.get("/healthz").mimetype == "application/json"


def gunicorn_settings(env: dict) -> dict:
    """The settings gunicorn resolves when started as the README says, from the repository."""
    result = subprocess.run([str(VENV_BIN / "gunicorn"), "--print-config", "wsgi:app"], cwd=ROOT,
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    settings = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        settings[name.strip()] = value.strip()
    return settings


def test_gunicorn_reads_the_shipped_config_by_default():
    settings = gunicorn_settings({"WEB_CONCURRENCY": "3", "REQUEST_TIMEOUT": "20"})
    assert settings["config"] == "./gunicorn.conf.py"
    assert settings["workers"] == "3" and settings["timeout"] == "20"
    assert settings["limit_request_line"] == "4094"
    assert settings["limit_request_fields"] == "50"
    assert settings["limit_request_field_size"] == "8190"
    assert settings["forwarded_allow_ips"] == "['127.0.0.1']"
