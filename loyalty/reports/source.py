"""Where reports read: the read replica named by REPORTS_DATABASE_URL, else the main database.

Reports scan whole tables; a replica keeps that load off the database serving purchases.
Only the heavy queries come here; small reads of settings and tiers stay on the main session.
"""
from flask import current_app
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, Result
from sqlalchemy.orm import Session

from loyalty.extensions import db

_engines: dict[str, Engine] = {}


def execute(statement) -> Result:
    """Run a read-only statement; the result is fully fetched, usable after the session is gone."""
    url = current_app.config.get("REPORTS_DATABASE_URL")
    if not url:
        return db.session.execute(statement)
    with Session(_engine(url)) as session:
        return session.execute(statement).freeze()()


def _engine(url: str) -> Engine:
    if url not in _engines:
        _engines[url] = create_engine(url, pool_pre_ping=True)
    return _engines[url]
