"""The till's pages (API.md, Web pages) through the test client: sign-in, search, redeem,
purchases and vouchers, each refusal shown in words with nothing changed."""
import re

import pytest

from loyalty.extensions import db
from loyalty.models import Purchase, Redemption

from tests.console_client import Console, csrf_of, text_of
from tests.helpers import STAFF_PASSWORD, balance


# -- signing in --------------------------------------------------------------------------------

def test_pages_need_a_signed_in_staff_member(client, program):
    for path in ("/console", "/console/members/mem_x", "/console/vouchers", "/console/dashboard"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/console/login?next=")


def test_sign_in_page_has_the_contracts_labels(client):
    html = client.get("/console/login").get_data(as_text=True)
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'value="Sign in"' in html


def test_sign_in_sets_an_httponly_samesite_cookie_secure_off_loopback(app, program, staff_member):
    email = staff_member()
    local = Console(app)
    response = local.sign_in(email)
    assert response.status_code == 303 and response.headers["Location"] == "/console"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # http://localhost while developing

    remote = Console(app)
    html = remote.client.get("/console/login", base_url="https://till.example.com").get_data(as_text=True)
    response = remote.client.post("/console/login", base_url="https://till.example.com",
                                  headers={"Referer": "https://till.example.com/console/login"},
                                  data={"csrf_token": csrf_of(html), "email": email, "password": STAFF_PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_says_so_and_counts_towards_the_lockout(app, program, staff_member):
    email = staff_member()
    browser = Console(app)
    for _ in range(5):
        response = browser.sign_in(email, "wrong password")
        assert response.status_code == 401
        assert "Wrong email or password." in text_of(response)
    response = browser.sign_in(email)  # the right password, but locked for 15 minutes
    assert response.status_code == 429
    assert "Too many attempts" in text_of(response)
    assert browser.get("/console").status_code == 302


def test_sign_in_attempts_are_limited_per_address_with_the_apis_login(limited_app):
    """The form and POST /v1/staff/sessions share one budget per client address (LOGIN_RATE_LIMIT);
    past it the page says so in words. Showing the form is not an attempt."""
    app = limited_app(LOGIN_RATE_LIMIT="3/minute")
    browser = Console(app)
    api = app.test_client()
    attempt = {"email": "nobody@till.test", "password": "wrong password"}
    assert api.post("/v1/staff/sessions", json=attempt,
                    environ_base={"REMOTE_ADDR": browser.client.environ_base["REMOTE_ADDR"]}).status_code == 401
    answers = [browser.sign_in(attempt["email"], attempt["password"]) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [401, 401, 429]
    assert "text/html" in answers[-1].content_type
    assert "Too many attempts" in text_of(answers[-1])
    assert browser.get("/console/login").status_code == 200
    elsewhere = Console(app)  # another address has its own budget
    assert elsewhere.sign_in(attempt["email"], attempt["password"]).status_code == 401


@pytest.mark.parametrize(("method", "path", "status", "words"), [
    ("GET", "/console/no-such-page", 404, "There is no such page."),
    ("GET", "/console/members/mem_x/nothing/here", 404, "There is no such page."),
    ("POST", "/console/no-such-page", 404, "There is no such page."),
    ("GET", "/card/token/extra", 404, "There is no such page."),
    ("DELETE", "/console/login", 405, "This page cannot be used that way."),
])
def test_a_mistyped_page_address_is_a_page_in_words(client, method, path, status, words):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert "text/html" in response.content_type
    assert words in text_of(response)


def test_unknown_api_paths_still_answer_json(client):
    for method, path, status in (("GET", "/v1/no-such-thing", 404), ("GET", "/consoles", 404),
                                 ("DELETE", "/v1/program", 405)):
        response = client.open(path, method=method)
        assert response.status_code == status
        assert response.get_json()["error"]["code"] in ("not_found", "method_not_allowed")


def test_sign_out_ends_the_staff_session(console):
    till = console()
    assert till.get("/console").status_code == 200
    response = till.post("/console/logout", {})
    assert response.status_code == 303
    assert till.get("/console").status_code == 302
    assert "Signed out." in text_of(till.get("/console/login"))


def test_the_api_sets_no_cookie(client, admin, program):
    response = client.get("/v1/program", headers=admin)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


# -- finding a member --------------------------------------------------------------------------

def test_an_exact_member_code_opens_the_member(console, enroll):
    member = enroll(name="Ana Silva")
    till = console()
    code = member["member_code"]
    response = till.get(f"/console?member={code[:4].lower()}-{code[4:].lower()}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/members/{member['id']}"


@pytest.mark.parametrize("search", ["ana@example.com", " ANA@example.com ", "shop-ana", "+1 (555) 010-2030"])
def test_email_external_id_or_phone_lists_the_member(console, enroll, search):
    member = enroll(external_id="shop-ana", name="Ana Silva", email="ana@example.com", phone="15550102030")
    enroll(name="Ben Other", email="ben@example.com")
    page = text_of(console().get(f"/console?member={search}"))
    assert f'/console/members/{member["id"]}' in page
    assert "Ben Other" not in page


def test_nothing_found_says_so(console, program):
    page = text_of(console().get("/console?member=nobody@example.com"))
    assert "No member has this code, email, phone or external id." in page


# -- the member page and redeeming -----------------------------------------------------------------

def test_member_page_shows_balance_tier_and_rewards_with_reasons(console, rich, reward, client, admin):
    client.post("/v1/tiers", headers=admin, json={"key": "gold", "name": "Gold", "min_qualifying_points": 500,
                                                   "multiplier": "1.5"})
    member = rich(150, name="Ana Silva")
    cheap = reward(name="Free coffee", cost_points=100)
    reward(name="Big hamper", cost_points=1000)
    reward(name="Gold lounge", cost_points=50, min_tier="gold")
    page = text_of(console().get(f"/console/members/{member['id']}"))
    assert "Ana Silva" in page and member["member_code"] in page
    assert 'data-figure="balance">150<' in page
    assert "Progress to Gold" in page
    assert page.count(">Redeem</button>") == 1 and f'value="{cheap["id"]}"' in page
    assert "Not redeemable: The member does not have enough points. (850 more needed)" in page
    assert "Not redeemable: The member&#39;s tier is too low for this reward. (Gold or higher)" in page


def test_redeem_issues_and_uses_then_shows_the_voucher_and_new_balance(console, rich, reward, client, admin):
    member = rich(250)
    coffee = reward(cost_points=100)
    till = console()
    page = f"/console/members/{member['id']}"
    html = till.page(page)
    attempt = re.search(r'name="attempt" value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf_of(html), "reward_id": coffee["id"], "attempt": attempt}
    response = till.client.post(f"{page}/redeem", data=form)
    assert response.status_code == 303
    code = response.headers["Location"].split("voucher=")[1]
    shown = text_of(till.get(response.headers["Location"]))
    assert f'data-figure="voucher-code">{code}<' in shown
    assert 'data-figure="new-balance">150<' in shown
    voucher = client.get(f"/v1/redemptions/{code}", headers=admin).get_json()
    assert voucher["status"] == "used" and voucher["channel"] == "pos"

    again = till.client.post(f"{page}/redeem", data=form)  # the same form sent twice
    assert again.headers["Location"] == response.headers["Location"]
    assert balance(client, admin, member['id']) == 150
    assert db.session.query(Redemption).filter_by(member_id=member["id"]).count() == 1


def test_a_refused_redemption_shows_why_and_changes_nothing(console, rich, reward, client, admin):
    member = rich(50)
    hamper = reward(cost_points=100)
    till = console()
    page = f"/console/members/{member['id']}"
    response = till.post(f"{page}/redeem", {"reward_id": hamper["id"], "attempt": "a1"}, from_page=page)
    assert response.status_code == 303 and response.headers["Location"] == page
    shown = text_of(till.get(page))
    assert 'role="alert">The member does not have enough points.<' in shown
    assert balance(client, admin, member['id']) == 50
    assert db.session.query(Redemption).filter_by(member_id=member["id"]).count() == 0


# -- purchases ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, currency, minor, points", [
    ("12.50", "usd", 1250, 12), ("1,250", "jpy", 1250, 12), ("3.125", "kwd", 3125, 3), ("7", "usd", 700, 7)])
def test_record_purchase_in_major_units(console, enroll, client, admin, typed, currency, minor, points):
    member = enroll()
    till = console()
    page = f"/console/members/{member['id']}"
    response = till.post(f"{page}/purchases", {"amount": typed, "currency": currency, "order_id": "R-1"},
                         from_page=page)
    assert response.status_code == 303
    assert f"Recorded: order R-1, {points} points." in text_of(till.get(page))
    purchases = client.get(f"/v1/members/{member['id']}/purchases", headers=admin).get_json()["data"]
    assert [(p["amount"], p["currency"], p["source"]) for p in purchases] == [(minor, currency, "pos")]


@pytest.mark.parametrize("typed, currency, message", [
    ("12.505", "usd", "USD amounts have at most 2 decimal places."),
    ("1.5", "jpy", "JPY amounts have at most 0 decimal places."),
    ("twelve", "usd", "Amount must be a number, such as 12.50."),
    ("-3", "usd", "Amount must be more than zero."),
    ("0", "usd", "Amount must be more than zero."),
    ("1e30", "usd", "Amount is too large."),
])
def test_a_bad_amount_is_refused_in_words(console, enroll, typed, currency, message):
    member = enroll()
    till = console()
    page = f"/console/members/{member['id']}"
    till.post(f"{page}/purchases", {"amount": typed, "currency": currency, "order_id": "R-2"}, from_page=page)
    assert message in text_of(till.get(page))
    assert db.session.query(Purchase).filter_by(member_id=member["id"]).count() == 0


def test_a_currency_without_earn_rate_or_a_reused_order_is_refused(console, enroll):
    member = enroll()
    till = console()
    page = f"/console/members/{member['id']}"
    till.post(f"{page}/purchases", {"amount": "5", "currency": "gbp", "order_id": "R-3"}, from_page=page)
    assert "Currency: Not a valid choice." in text_of(till.get(page))
    till.post(f"{page}/purchases", {"amount": "5", "currency": "usd", "order_id": "R-3"}, from_page=page)
    till.post(f"{page}/purchases", {"amount": "6", "currency": "usd", "order_id": "R-3"}, from_page=page)
    assert "This order_id was already recorded with other content." in text_of(till.get(page))
    assert db.session.query(Purchase).filter_by(member_id=member["id"]).count() == 1


# -- vouchers ----------------------------------------------------------------------------------

def test_look_up_and_use_a_voucher_once(console, rich, reward, client, storefront):
    member = rich(100)
    coffee = reward()
    code = client.post(f"/v1/members/{member['id']}/redemptions", headers=storefront,
                       json={"reward_id": coffee["id"]}).get_json()["code"]
    till = console()
    looked_up = text_of(till.get(f"/console/vouchers?code={code.lower()}"))
    assert "issued" in looked_up and ">Use<" in looked_up.replace('value="Use"', ">Use<")
    page = f"/console/vouchers?code={code}"
    response = till.post(f"/console/vouchers/{code}/use", {"order_id": "R-9"}, from_page=page)
    assert response.status_code == 303
    assert f"Voucher {code} used." in text_of(till.get(response.headers["Location"]))
    assert client.get(f"/v1/redemptions/{code}", headers=storefront).get_json()["used_order_id"] == "R-9"

    till.post(f"/console/vouchers/{code}/use", {}, from_page=page)
    assert "The redemption was already used." in text_of(till.get(page))


def test_an_unknown_voucher_says_so(console, program):
    assert "No redemption nope." in text_of(console().get("/console/vouchers?code=nope"))


# -- CSRF and errors ---------------------------------------------------------------------------

def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console, rich, reward, client, admin):
    member = rich(250)
    coffee = reward()
    till = console()
    page = f"/console/members/{member['id']}"
    for data in ({}, {"csrf_token": "forged"}):
        response = till.client.post(f"{page}/redeem", data={"reward_id": coffee["id"], "attempt": "x", **data})
        assert response.status_code == 400
        assert "This form has expired or did not come from this page" in text_of(response)
    assert balance(client, admin, member['id']) == 250


def test_unknown_member_is_a_page_in_words(console):
    response = console().get("/console/members/mem_missing")
    assert response.status_code == 404
    assert "No member mem_missing." in text_of(response) and "Traceback" not in text_of(response)
