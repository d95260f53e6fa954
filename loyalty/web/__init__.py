"""Web pages for people: the staff console (till, service desk, dashboard) and the customer's card.

Server-rendered Jinja pages with htmx for partial updates and Chart.js for the dashboard, both
vendored under loyalty/static/ (no CDN, no build step). The pages call the same domain
functions as the API, never the API over HTTP.
"""
from flask import Flask

from loyalty.extensions import csrf
from loyalty.web.sessions import ConsoleSessions


def init_web(app: Flask) -> None:
    """Sessions and CSRF for /console, the page blueprints and their template helpers."""
    from loyalty.api.errors import handle_http_exception as api_error
    from loyalty.web import card, console, dashboard, filters, service_desk  # noqa: F401  (routes on console.bp)
    from loyalty.web.errors import register_unrouted

    app.session_interface = ConsoleSessions()
    # WTF_CSRF_CHECK_DEFAULT is off (config.py): the API's bearer requests need no CSRF check,
    # and the console's blueprint runs csrf.protect() before each of its requests.
    csrf.init_app(app)
    filters.register(app)
    app.register_blueprint(console.bp)
    app.register_blueprint(card.bp)
    register_unrouted(app, [console.bp, card.bp], otherwise=api_error)


def page_blueprints() -> set[str]:
    """The names of the blueprints that serve pages (their GETs read the database)."""
    from loyalty.web import card, console

    return {console.bp.name, card.bp.name}
