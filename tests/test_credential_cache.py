"""CREDENTIAL_CACHE_SECONDS: how long a worker may take a credential it checked as still valid."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from loyalty import auth, clock
from loyalty.errors import Unauthenticated
from loyalty.extensions import db
from loyalty.models import ApiKey


def _revoke_elsewhere(headers) -> None:
    """Revoke the key as another process would (the CLI, another worker): this process is not told."""
    lookup = headers["Authorization"].removeprefix("Bearer lk_").partition("_")[0]
    db.session.execute(update(ApiKey).where(ApiKey.lookup == lookup).values(revoked_at=clock.now()))
    db.session.commit()


def test_a_key_revoked_elsewhere_stops_working_after_the_delay(app, client, api_key, monkeypatch):
    monkeypatch.setitem(app.config, "CREDENTIAL_CACHE_SECONDS", 30)
    admin = api_key("admin")
    assert client.get("/v1/program", headers=admin).status_code == 200
    _revoke_elsewhere(admin)
    assert client.get("/v1/program", headers=admin).status_code == 200  # within the delay
    with clock.frozen(clock.now() + timedelta(seconds=31)):
        assert client.get("/v1/program", headers=admin).status_code == 401


def test_with_no_delay_every_request_checks_the_key(app, client, api_key, monkeypatch):
    monkeypatch.setitem(app.config, "CREDENTIAL_CACHE_SECONDS", 0)
    admin = api_key("admin")
    assert client.get("/v1/program", headers=admin).status_code == 200
    _revoke_elsewhere(admin)
    assert client.get("/v1/program", headers=admin).status_code == 401


def test_a_revocation_in_this_process_is_seen_at_once(app, client, api_key, monkeypatch):
    """Revoking here (a logout, `loyalty revoke-api-key` run by this process) makes this process
    forget every credential it checked."""
    monkeypatch.setitem(app.config, "CREDENTIAL_CACHE_SECONDS", 30)
    admin = api_key("admin")
    assert client.get("/v1/program", headers=admin).status_code == 200
    lookup = admin["Authorization"].removeprefix("Bearer lk_").partition("_")[0]
    auth.revoke_api_key(db.session.execute(select(ApiKey.id).where(ApiKey.lookup == lookup)).scalar_one())
    db.session.commit()
    assert client.get("/v1/program", headers=admin).status_code == 401


def test_a_look_up_overtaken_by_a_revocation_keeps_nothing(app, api_key, monkeypatch):
    """A revocation committed while a look-up is under way (another thread of this worker): what
    that look-up found is not kept, and the next request is refused at once."""
    admin = api_key("admin")
    credential = admin["Authorization"].removeprefix("Bearer ")
    lookup = credential.removeprefix("lk_").partition("_")[0]
    key_id = db.session.execute(select(ApiKey.id).where(ApiKey.lookup == lookup)).scalar_one()
    look_up = auth._look_up

    def overtaken(credential):
        found = look_up(credential)
        auth.revoke_api_key(key_id)
        db.session.commit()
        return found

    monkeypatch.setattr(auth, "_look_up", overtaken)
    auth.authenticate(credential, cache_seconds=30)  # valid when it was looked up
    monkeypatch.setattr(auth, "_look_up", look_up)
    with pytest.raises(Unauthenticated):
        auth.authenticate(credential, cache_seconds=30)
