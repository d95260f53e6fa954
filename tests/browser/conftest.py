"""Browser tests: pytest-playwright's fixtures (`browser`, `context`, `page`) on Debian's Chromium,
with pages opened on a live gunicorn server of the app.

- `page.goto("/docs")` opens a path of the session's live server (`base_url` is its address);
  `live_app` is that LiveServer (`live_app.api_key("admin")`, `live_app.flask(...)`).
- `same_origin_page` is a `page` whose requests may not leave the app's origin: any other request
  is aborted, and the test fails if there was one. `keep_on_origin` does the same for any context.

Chromium comes from the distribution (`apt-get install chromium`), never from `playwright install`.
Without it the browser tests are skipped, saying so; with CI=true they fail instead.
"""
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import TEST_DATABASE_URL

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MISSING_CHROMIUM = (f"browser tests need Chromium at {CHROMIUM}: install it with "
                    "`apt-get install chromium` (Debian/Ubuntu) or set CHROMIUM_PATH")


def chromium_path() -> str:
    """The browser to launch; skips the test without one (fails it under CI=true)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    if os.environ.get("CI") == "true":
        pytest.fail(MISSING_CHROMIUM)
    pytest.skip(MISSING_CHROMIUM)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options, on the system's Chromium."""
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def live_app():
    """One gunicorn server (2 workers) on a fresh, committed database for the browser tests."""
    from tests.live import LiveServer, fresh_database

    with fresh_database(TEST_DATABASE_URL) as url:
        server = LiveServer(url, workers=2).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def base_url(live_app):
    """Relative URLs in `page.goto` and `page.request` go to the live server."""
    return live_app.url


def keep_on_origin(context, origin: str) -> list[str]:
    """Abort every request of `context` that leaves `origin`; returns the list they are added to."""
    offsite: list[str] = []

    def guard(route):
        url = route.request.url
        if url == origin or url.startswith(origin + "/"):
            route.continue_()
        else:
            offsite.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    return offsite


@pytest.fixture
def same_origin_page(context, base_url):
    """A page on the live server that may load nothing from anywhere else."""
    offsite = keep_on_origin(context, base_url)
    page = context.new_page()
    yield page
    assert offsite == [], f"requests left {base_url}: {offsite}"
