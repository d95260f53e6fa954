"""Settings, read from the environment once. Only this module reads os.environ."""
import os
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent / "instance"


def _csv(value):
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _seconds(value, default):
    return [int(part) for part in _csv(value)] if value else default


def database_url(value):
    """Accept the usual postgres:// spellings and use psycopg 3 for them."""
    if value and value.split("://", 1)[0] in ("postgres", "postgresql"):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


class Config:
    SQLALCHEMY_DATABASE_URI = database_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'loyalty.sqlite3'}"
    )
    REPORTS_DATABASE_URL = database_url(os.environ.get("REPORTS_DATABASE_URL"))
    # "off" behind PgBouncer in transaction pooling mode: psycopg then prepares no statements.
    DATABASE_PREPARED_STATEMENTS = os.environ.get("DATABASE_PREPARED_STATEMENTS", "on").lower() != "off"
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    # With LOYALTY_ENV=production the app refuses to boot on the development SECRET_KEY.
    PRODUCTION = os.environ.get("LOYALTY_ENV") == "production"
    STRIPE_WEBHOOK_SECRETS = _csv(os.environ.get("STRIPE_WEBHOOK_SECRET"))
    STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE")  # tests point stripe-sync at a local server
    STRIPE_API_VERSION = "2026-04-22.dahlia"
    STRIPE_WEBHOOK_TOLERANCE = 300
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_DEFAULT = os.environ.get("RATELIMIT_DEFAULT", "")
    RATELIMIT_HEADERS_ENABLED = True
    MAX_CONTENT_LENGTH = 1024 * 1024
    JSON_SORT_KEYS = False
    # No automatic OPTIONS answers (an empty text/html 200): there is no cross-origin use to serve,
    # so OPTIONS is a JSON 405 with the Allow header, like any other method a path does not take.
    PROVIDE_AUTOMATIC_OPTIONS = False
    # GET and HEAD requests run each statement on its own (the driver's autocommit), without the
    # BEGIN and ROLLBACK round trips of a transaction: a read sees what READ COMMITTED would show it
    # (loyalty/__init__.py, reads_without_transaction). Off, every request is one transaction.
    READS_WITHOUT_TRANSACTION = os.environ.get("READS_WITHOUT_TRANSACTION", "1") != "0"
    # How long a worker takes a staff or customer token it found valid as valid again without asking
    # the database (one statement less per request): a token ended by another process (a sign-out,
    # a deactivated staff member, a closed member) keeps working there for at most this long.
    # 0: look tokens up on every request. (API keys: always 1 s, auth.API_KEY_RECHECK_SECONDS.)
    CREDENTIAL_CACHE_SECONDS = float(os.environ.get("CREDENTIAL_CACHE_SECONDS", "0"))
    # Staff tokens live at most 12 hours (API.md, Staff); customer tokens are shorter-lived.
    STAFF_TOKEN_HOURS = 12
    # Requests per client address to the staff login, on top of the per-email lock.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "30/minute")
    CUSTOMER_TOKEN_MINUTES = int(os.environ.get("CUSTOMER_TOKEN_MINUTES", "60"))

    # Outbound webhooks (docs/webhooks.md). Retries after 1 min, 5 min, 30 min, 2 h, 8 h and 24 h.
    WEBHOOK_RETRY_SCHEDULE = _seconds(os.environ.get("WEBHOOK_RETRY_SCHEDULE"), [60, 300, 1800, 7200, 28800, 86400])
    # Host names (or patterns like *.example.com) endpoint URLs may name; empty: any host.
    WEBHOOK_ALLOWED_HOSTS = _csv(os.environ.get("WEBHOOK_ALLOWED_HOSTS"))
    # Events whose deliveries are all done are forgotten (with their attempts) after this many days.
    WEBHOOK_RETENTION_DAYS = int(os.environ.get("WEBHOOK_RETENTION_DAYS", "30"))
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
    WEBHOOK_BATCH_SIZE = int(os.environ.get("WEBHOOK_BATCH_SIZE", "100"))
    WEBHOOK_CONCURRENCY = int(os.environ.get("WEBHOOK_CONCURRENCY", "8"))
    WEBHOOK_POLL_SECONDS = float(os.environ.get("WEBHOOK_POLL_SECONDS", "1"))
    # How long a claimed batch is kept from other deliverers; by default long enough for every
    # send of a batch to time out (loyalty.outbound.deliverer.lease_seconds).
    WEBHOOK_LEASE_SECONDS = float(os.environ["WEBHOOK_LEASE_SECONDS"]) if os.environ.get("WEBHOOK_LEASE_SECONDS") else None

    # The staff console's session cookie (loyalty.web.sessions): HttpOnly, SameSite=Lax, and
    # Secure unless the page is served on a loopback address; CONSOLE_COOKIE_SECURE=true|false
    # decides instead (e.g. true behind a proxy that serves https on localhost).
    SESSION_COOKIE_NAME = "loyalty_console"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    CONSOLE_COOKIE_SECURE = {"true": True, "false": False}.get(os.environ.get("CONSOLE_COOKIE_SECURE", "").lower())
    # CSRF tokens (Flask-WTF) are checked on the console's forms only, and last as long as the
    # staff session that holds them.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None

    API_TITLE = "Loyalty API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    # Swagger UI is served from the app itself (loyalty/static/swagger-ui, a pinned copy of the
    # swagger-ui-dist npm package), so /docs works without internet and loads nothing from elsewhere.
    OPENAPI_SWAGGER_UI_URL = "/static/swagger-ui/"
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None}  # no badge fetched from validator.swagger.io


class Server:
    """gunicorn's settings (gunicorn.conf.py), from the environment like everything else."""

    BIND = os.environ.get("BIND", "127.0.0.1:8000")
    # gunicorn's own rule of thumb: two workers per CPU core, plus one.
    WORKERS = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
    # A request still running after this many seconds has its worker restarted.
    TIMEOUT = int(os.environ.get("REQUEST_TIMEOUT", "30"))
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated; "*" = any).
    FORWARDED_ALLOW_IPS = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
