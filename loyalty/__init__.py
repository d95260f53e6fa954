"""The loyalty backend: create_app() builds the Flask app."""
import logging
from pathlib import Path

from flask import Flask, request

from config import Config
from loyalty.extensions import AUTOCOMMIT, db, engine_options, limiter, migrate


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, signals, the API, error handlers, CLI commands."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    configure(app, test_config)
    register_extensions(app)
    connect_signals()
    register_api(app)
    register_web(app)
    if app.config["READS_WITHOUT_TRANSACTION"]:
        register_reads_without_transaction(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          engine_options(uri, app.config.get("DATABASE_PREPARED_STATEMENTS", True)))
    if app.config["PRODUCTION"] and app.config["SECRET_KEY"] == "dev-only-not-secret":
        raise RuntimeError("Set SECRET_KEY: LOYALTY_ENV=production refuses the development key.")
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO)


def register_extensions(app: Flask) -> None:
    from loyalty import models  # noqa: F401  (every table known to SQLAlchemy and Alembic)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    limiter.init_app(app)  # configured by the RATELIMIT_* keys (config.py)


def register_api(app: Flask) -> None:
    from loyalty.api import init_api

    init_api(app)


def register_web(app: Flask) -> None:
    from loyalty.web import init_web

    init_web(app)


def register_reads_without_transaction(app: Flask) -> None:
    """A GET or HEAD of the API or the pages runs each statement on its own, in the driver's
    autocommit: no BEGIN and no ROLLBACK, two of a balance read's four round trips.

    A reader sees nothing it would not see in a transaction: under PostgreSQL's READ COMMITTED
    each statement of a transaction sees the latest commits anyway, and the code is written for
    that; SQLite behaves the same way here. A GET writes only what may stand alone (the program's
    defaults on a fresh database, an API key's last use after the answer), and that commits at
    once on both databases. The session takes its connection so configured for this request only
    (SQLAlchemy resets it when the connection goes back to the pool); /openapi.json, /docs and
    static files take none.
    """
    from loyalty.api import RESOURCE_BLUEPRINTS
    from loyalty.web import page_blueprints

    reading = RESOURCE_BLUEPRINTS | page_blueprints()

    @app.before_request
    def reads_without_transaction():
        if request.method in ("GET", "HEAD") and request.blueprint in reading:
            db.session.connection(execution_options=AUTOCOMMIT)


def connect_signals() -> None:
    """Payments listen to members (loyalty/signals.py): parked Stripe events wait for them."""
    from loyalty.payments.events import connect_signals as connect_payments

    connect_payments()


def register_error_handlers(app: Flask) -> None:
    from loyalty.api.errors import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from loyalty.cli import loyalty_cli

    app.cli.add_command(loyalty_cli)
