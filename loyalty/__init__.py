"""The loyalty backend: create_app() builds the Flask app."""
import logging
from pathlib import Path

from flask import Flask

from config import Config
from loyalty.extensions import (AUTOCOMMIT, autocommit_engine, db, engine_options, limiter, migrate,
                                recover_together)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, the API, error handlers, CLI commands."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    configure(app, test_config)
    register_extensions(app)
    register_api(app)
    register_web(app)
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
    reads = autocommit_engine(app.config["SQLALCHEMY_DATABASE_URI"],
                              {"echo": app.config["SQLALCHEMY_ECHO"], **app.config["SQLALCHEMY_ENGINE_OPTIONS"]})
    if reads is not None:
        app.extensions[AUTOCOMMIT] = reads
        with app.app_context():
            recover_together(db.engine, reads)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    hooks_before = _request_hooks(app)
    limiter.init_app(app)
    if not app.config.get("RATELIMIT_DEFAULT") and not app.config.get("RATELIMIT_APPLICATION"):
        _confine_limiter_hooks(app, hooks_before)


# Where `limiter.limit` decorates a view: the staff blueprint's login.
RATE_LIMITED_BLUEPRINTS = ("staff",)
REQUEST_HOOKS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


def _request_hooks(app: Flask) -> dict[str, list]:
    return {hooks: list(getattr(app, hooks)[None]) for hooks in REQUEST_HOOKS}


def _confine_limiter_hooks(app: Flask, hooks_before: dict[str, list]) -> None:
    """With only per-endpoint limits, which their decorators check themselves, keep the hooks
    Flask-Limiter adds to every request for the blueprints that have such limits.

    The app-wide check before each request would find nothing to apply (it cost about a seventh of
    a balance read's CPU), and the rate-limit headers and the limiter's per-request state matter
    only where a limit ran (5% more; bench/README.md). The check is left out; the other two stay
    on the blueprints with limits.
    """
    for hooks in REQUEST_HOOKS:
        by_blueprint = getattr(app, hooks)
        added = [hook for hook in by_blueprint[None] if hook not in hooks_before[hooks]]
        by_blueprint[None] = [hook for hook in by_blueprint[None] if hook not in added]
        if hooks != "before_request_funcs":
            for blueprint in RATE_LIMITED_BLUEPRINTS:
                by_blueprint[blueprint].extend(added)


def register_api(app: Flask) -> None:
    from loyalty.api import init_api

    init_api(app)


def register_web(app: Flask) -> None:
    from loyalty.web import init_web

    init_web(app)


def register_error_handlers(app: Flask) -> None:
    from loyalty.api.errors import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from loyalty.cli import loyalty_cli

    app.cli.add_command(loyalty_cli)
