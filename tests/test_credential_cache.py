"""How long a worker takes a credential it checked as valid without asking the database again:
API keys for auth.API_KEY_RECHECK_SECONDS (and `loyalty revoke-api-key` waits that long), staff
and customer tokens for CREDENTIAL_CACHE_SECONDS (0 by default: every time)."""
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select, update

from loyalty import auth, clock
from loyalty.errors import Unauthenticated
from loyalty.extensions import db
from loyalty.models import ApiKey, AuthToken


def _credential(headers) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _revoke_key_elsewhere(headers) -> None:
    """Revoke the key as another process would (the CLI on another machine): this one is not told."""
    lookup = _credential(headers).removeprefix("lk_").partition("_")[0]
    db.session.execute(update(ApiKey).where(ApiKey.lookup == lookup).values(revoked_at=clock.now()))
    db.session.commit()


def _revoke_token_elsewhere(headers) -> None:
    token_hash = auth._sha256(_credential(headers))
    db.session.execute(update(AuthToken).where(AuthToken.token_hash == token_hash).values(revoked_at=clock.now()))
    db.session.commit()


def test_a_key_revoked_elsewhere_is_taken_for_at_most_the_recheck_time(client, api_key, ticking):
    admin = api_key("admin")
    assert client.get("/v1/program", headers=admin).status_code == 200
    _revoke_key_elsewhere(admin)

    ticking.seconds += auth.API_KEY_RECHECK_SECONDS * 0.9
    assert client.get("/v1/program", headers=admin).status_code == 200  # checked less than that ago
    ticking.seconds += auth.API_KEY_RECHECK_SECONDS * 0.1
    assert client.get("/v1/program", headers=admin).status_code == 401


def test_a_kept_keys_time_counts_from_before_its_look_up(client, api_key, ticking, monkeypatch):
    """A look-up that takes a while: the key is kept API_KEY_RECHECK_SECONDS from when it began,
    since a revocation committed while it ran may not be in what it read."""
    admin = api_key("admin")
    look_up = auth._look_up

    def slow(credential):
        ticking.seconds += 0.5
        return look_up(credential)

    monkeypatch.setattr(auth, "_look_up", slow)
    began = ticking.seconds
    assert client.get("/v1/program", headers=admin).status_code == 200
    monkeypatch.setattr(auth, "_look_up", look_up)
    _revoke_key_elsewhere(admin)
    ticking.seconds = began + auth.API_KEY_RECHECK_SECONDS
    assert client.get("/v1/program", headers=admin).status_code == 401


def test_a_token_is_looked_up_on_every_request_by_default(client, staff_login, ticking):
    cashier = staff_login("cashier")
    assert client.get("/v1/rewards", headers=cashier).status_code == 200
    _revoke_token_elsewhere(cashier)
    assert client.get("/v1/rewards", headers=cashier).status_code == 401


def test_with_a_token_cache_a_token_revoked_elsewhere_works_until_the_delay(app, client, staff_login, ticking,
                                                                           monkeypatch):
    monkeypatch.setitem(app.config, "CREDENTIAL_CACHE_SECONDS", 30)
    cashier = staff_login("cashier")
    assert client.get("/v1/rewards", headers=cashier).status_code == 200
    _revoke_token_elsewhere(cashier)
    ticking.seconds += 29
    assert client.get("/v1/rewards", headers=cashier).status_code == 200  # within the delay
    ticking.seconds += 1
    assert client.get("/v1/rewards", headers=cashier).status_code == 401


def test_a_token_is_never_kept_past_its_expiry(app, client, staff_login, ticking, monkeypatch):
    monkeypatch.setitem(app.config, "CREDENTIAL_CACHE_SECONDS", 10**6)
    cashier = staff_login("cashier")
    assert client.get("/v1/rewards", headers=cashier).status_code == 200
    expires_at = db.session.execute(select(AuthToken.expires_at).where(
        AuthToken.token_hash == auth._sha256(_credential(cashier)))).scalar_one()
    ticking.seconds += (expires_at - clock.now()).total_seconds() + 1
    with clock.frozen(expires_at):
        assert client.get("/v1/rewards", headers=cashier).status_code == 401


def test_a_revocation_in_this_process_is_seen_at_once(client, api_key, ticking):
    """Revoking here (a sign-out, `loyalty revoke-api-key` run by this process) makes this process
    forget every credential it checked."""
    admin = api_key("admin")
    assert client.get("/v1/program", headers=admin).status_code == 200
    lookup = _credential(admin).removeprefix("lk_").partition("_")[0]
    auth.revoke_api_key(db.session.execute(select(ApiKey.id).where(ApiKey.lookup == lookup)).scalar_one())
    db.session.commit()
    assert client.get("/v1/program", headers=admin).status_code == 401


def test_a_look_up_overtaken_by_a_revocation_keeps_nothing(app, api_key, monkeypatch, ticking):
    """A revocation committed while a look-up is under way (another thread of this worker): what
    that look-up found is not kept, and the next request is refused at once."""
    credential = _credential(api_key("admin"))
    lookup = credential.removeprefix("lk_").partition("_")[0]
    key_id = db.session.execute(select(ApiKey.id).where(ApiKey.lookup == lookup)).scalar_one()
    look_up = auth._look_up

    def overtaken(credential):
        found = look_up(credential)
        auth.revoke_api_key(key_id)
        db.session.commit()
        return found

    monkeypatch.setattr(auth, "_look_up", overtaken)
    auth.authenticate(credential)  # valid when it was looked up
    monkeypatch.setattr(auth, "_look_up", look_up)
    with pytest.raises(Unauthenticated):
        auth.authenticate(credential)


def test_once_revoke_api_key_returns_no_worker_of_a_server_takes_the_key(live_server):
    """Across processes: the four workers take the key again and again while the command, run by
    another process, revokes it; once the command returns, none of them takes it any more."""
    server = live_server(workers=4)
    created = server.flask("loyalty", "create-api-key", "--name", "till", "--role", "admin")
    key_id = re.search(r"key (key_\w+)", created.stdout).group(1)
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}

    def status():  # on a new connection, which any of the workers may take
        return requests.get(server.url + "/v1/program", headers=headers, timeout=10).status_code

    revoking = threading.Event()
    seen_while_revoking = []

    def keep_using():
        while not revoking.is_set():
            seen_while_revoking.append(status())

    with ThreadPoolExecutor(max_workers=2) as pool:
        users = [pool.submit(keep_using) for _ in range(2)]
        revoked = server.flask("loyalty", "revoke-api-key", key_id)
        revoking.set()
        for user in users:
            user.result()
    assert revoked.returncode == 0, revoked.stderr
    assert 200 in seen_while_revoking  # the workers took it (and kept it) until the revocation
    assert {status() for _ in range(40)} == {401}
