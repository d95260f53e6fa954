"""The web pages in Chromium (API.md, Web pages): the till, the dashboard and the customer's card.

Every page is opened through `same_origin_page` (or `keep_on_origin`), so a request that leaves
the app's origin fails the test. What a page did is checked through the API. Screenshots go to
test-results/screenshots/ (git-ignored; CI keeps them as artifacts).
"""
import os
import re
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", "test-results/screenshots"))
PASSWORD = "browser-pass-123"
CASHIER, MANAGER = "cashier@browser.test", "manager@browser.test"


class Shop:
    """The live server's API, to set a scene up and to check what the pages did."""

    def __init__(self, live_app):
        self.url = live_app.url
        self.admin = live_app.api_key("admin")
        self.storefront = live_app.api_key("storefront")
        self.count = 0

    def call(self, method, path, headers=None, expect_status=None, **kwargs):
        response = requests.request(method, self.url + path, headers=headers or self.admin, timeout=30, **kwargs)
        if expect_status is not None:
            assert response.status_code == expect_status, response.text
        return response

    def member(self, points=0, **fields):
        self.count += 1
        body = {"external_id": f"browser-{self.count}", "name": f"Dana Browser {self.count}", **fields}
        member = self.call("POST", "/v1/members", json=body, expect_status=201).json()
        if points:
            self.call("POST", f"/v1/members/{member['id']}/adjustments", json={"points": points, "reason": "test"},
                      expect_status=201)
        return member

    def balance(self, member) -> int:
        return self.call("GET", f"/v1/members/{member['id']}").json()["points"]["balance"]

    def reward(self, **fields):
        body = {"name": "Free coffee", "cost_points": 100, "kind": "free_item", "value": {"sku": "COF"}, **fields}
        return self.call("POST", "/v1/rewards", json=body, expect_status=201).json()

    def card_link(self, member) -> str:
        token = self.call("POST", f"/v1/members/{member['id']}/access-tokens", headers=self.storefront,
                          expect_status=201).json()["token"]
        return f"/card/{token}"


@pytest.fixture(scope="module")
def till_shop(live_app):
    shop = Shop(live_app)
    shop.call("PATCH", "/v1/program", json={"earn_rates": {"usd": "1", "jpy": "0.01"}}, expect_status=200)
    for key, name, threshold in (("silver", "Silver", 0), ("gold", "Gold", 500)):
        shop.call("POST", "/v1/tiers", json={"key": key, "name": name, "min_qualifying_points": threshold,
                                              "multiplier": "1"}, expect_status=201)
    for email, role in ((CASHIER, "cashier"), (MANAGER, "manager")):
        shop.call("POST", "/v1/staff", json={"email": email, "name": role.title(), "role": role,
                                              "password": PASSWORD}, expect_status=201)
    return shop


def sign_in(page, email):
    page.goto("/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def reward_row(page, name):
    """The reward's line in the member page's list of rewards."""
    return page.get_by_role("region", name="Rewards").get_by_role("listitem").filter(has_text=name)


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_cashier_scans_redeems_records_a_purchase_and_uses_a_voucher(same_origin_page, till_shop):
    page = same_origin_page
    member = till_shop.member(points=250, email="dana@example.com")
    coffee = till_shop.reward(name="Free coffee", cost_points=100)
    till_shop.reward(name="Espresso machine", cost_points=100_000)
    sign_in(page, CASHIER)
    screenshot(page, "till")

    # A scanner types the code and Enter: the member's page opens.
    page.get_by_label("Member").fill(member["member_code"])
    started = time.perf_counter()
    page.get_by_label("Member").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(member["name"])
    print(f"\nscan to member page: {(time.perf_counter() - started) * 1000:.0f} ms")
    expect(page.locator("[data-figure=balance]")).to_have_text("250")
    expect(page.get_by_text("Not redeemable: The member does not have enough points.")).to_be_visible()
    screenshot(page, "member")

    row = reward_row(page, "Free coffee")
    row.get_by_role("button", name="Redeem").click()
    code = page.locator("[data-figure=voucher-code]").inner_text()
    expect(page.locator("[data-figure=new-balance]")).to_have_text("150")
    voucher = till_shop.call("GET", f"/v1/redemptions/{code}").json()
    assert (voucher["reward_id"], voucher["status"], voucher["member_id"]) == (coffee["id"], "used", member["id"])
    page.reload()  # POST-redirect-GET: a reload shows the voucher again and redeems nothing
    expect(page.locator("[data-figure=new-balance]")).to_have_text("150")
    assert till_shop.balance(member) == 150
    screenshot(page, "redeemed")

    page.get_by_label("Amount").fill("12.50")
    page.get_by_label("Currency").select_option("usd")
    page.get_by_label("Order id", exact=True).fill("BROWSER-1")
    page.get_by_role("button", name="Record purchase").click()
    expect(page.get_by_role("status").filter(has_text="Recorded: order BROWSER-1, 12 points.")).to_be_visible()
    expect(page.locator("[data-figure=balance]")).to_have_text("162")
    purchases = till_shop.call("GET", f"/v1/members/{member['id']}/purchases").json()["data"]
    assert [(p["order_id"], p["amount"], p["currency"], p["source"]) for p in purchases] == [
        ("BROWSER-1", 1250, "usd", "pos")]

    issued = till_shop.call("POST", f"/v1/members/{member['id']}/redemptions", headers=till_shop.storefront,
                       json={"reward_id": coffee["id"]}, expect_status=201).json()
    page.get_by_label("Voucher code").fill(issued["code"].lower())
    page.get_by_label("Voucher code").press("Enter")  # htmx puts the voucher in place
    expect(page.locator("#voucher-result")).to_contain_text("issued")
    page.get_by_role("button", name="Use", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"Voucher {issued['code']} used.")).to_be_visible()
    assert till_shop.call("GET", f"/v1/redemptions/{issued['code']}").json()["status"] == "used"
    screenshot(page, "voucher-used")


def test_a_refused_action_shows_its_message_and_changes_nothing(same_origin_page, till_shop):
    page = same_origin_page
    member = till_shop.member(points=300)
    mug = till_shop.reward(name="Travel mug", cost_points=200)
    sign_in(page, CASHIER)
    page.goto(f"/console/members/{member['id']}")
    # Between showing the page and the click, the reward is withdrawn.
    till_shop.call("PATCH", f"/v1/rewards/{mug['id']}", json={"active": False}, expect_status=200)
    reward_row(page, "Travel mug").get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("alert")).to_have_text("The reward is not active.")
    assert till_shop.balance(member) == 300
    assert till_shop.call("GET", f"/v1/members/{member['id']}/redemptions").json()["data"] == []

    page.get_by_label("Amount").fill("12.505")
    page.get_by_role("button", name="Record purchase").click()
    expect(page.get_by_role("alert")).to_have_text("USD amounts have at most 2 decimal places.")
    assert till_shop.call("GET", f"/v1/members/{member['id']}/purchases").json()["data"] == []
    screenshot(page, "refused")


def test_a_form_posted_without_its_csrf_token_is_refused(same_origin_page, till_shop):
    page = same_origin_page
    member = till_shop.member(points=300)
    till_shop.reward(name="Scone", cost_points=120)
    sign_in(page, CASHIER)
    page.goto(f"/console/members/{member['id']}")
    row = reward_row(page, "Scone")
    row.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    row.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("alert")).to_contain_text("This form has expired or did not come from this page")
    assert till_shop.balance(member) == 300


def test_a_cashier_cannot_open_the_dashboard(same_origin_page, till_shop):
    page = same_origin_page
    sign_in(page, CASHIER)
    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
    response = page.goto("/console/dashboard")
    assert response.status == 403
    expect(page.get_by_role("alert")).to_have_text("This page is for managers only.")


def test_the_manager_sees_the_dashboard_drawn_with_the_reports_numbers(same_origin_page, till_shop):
    page = same_origin_page
    today = datetime.now(timezone.utc).date()
    for number, days_ago in enumerate((200, 170, 100, 40, 35, 5)):
        member = till_shop.member()
        for repeat in (0, 1):
            occurred = datetime.now(timezone.utc) - timedelta(days=days_ago - 3 * repeat)
            till_shop.call("POST", "/v1/purchases", headers=till_shop.storefront, expect_status=201, json={
                "member_id": member["id"], "order_id": f"dash-{number}-{repeat}", "amount": 2500 + 100 * number,
                "currency": "usd", "occurred_at": occurred.isoformat()})
    dates = {"from": (today - timedelta(days=300)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    sign_in(page, MANAGER)
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_label("From").fill(dates["from"])
    page.get_by_label("To").fill(dates["to"])
    page.get_by_role("button", name="Show").click()

    for chart in ("satisfaction", "service"):
        expect(page.locator(f"#{chart}-chart")).to_have_attribute("data-drawn", "true")
    for chart in ("repurchase", "cohorts", "points"):
        canvas = page.locator(f"#{chart}-chart")
        expect(canvas).to_have_attribute("data-drawn", "true")
        painted = canvas.evaluate("""c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                                      let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""")
        assert painted > 500, f"the {chart} chart is blank"

    query = f"from={dates['from']}&to={dates['to']}"
    assert table(page, "repurchase") == rows_as_text(
        till_shop.call("GET", f"/v1/reports/repurchase-by-tier?{query}").json()["data"],
        ["tier", "buyers", "repurchasers", "repurchase_rate", "median_days_to_repurchase", "immature"])
    assert table(page, "cohorts") == rows_as_text(
        till_shop.call("GET", f"/v1/reports/cohorts?{query}").json()["data"],
        ["month", "buyers", "rate_30d", "rate_60d", "rate_90d", "early_churn_rate"])
    months = table(page, "points")
    assert months[0][0] == dates["from"][:7] and months[-1][0] == today.strftime("%Y-%m")
    last_month_start = max(date.fromisoformat(dates["from"]), today.replace(day=1))
    last = till_shop.call("GET", f"/v1/reports/points?from={last_month_start}&to={dates['to']}").json()
    assert months[-1] == rows_as_text([last], ["issued", "redeemed", "expired", "reversed", "adjusted", "closing"],
                                      first=[today.strftime("%Y-%m")])[0]
    screenshot(page, "dashboard")

    csv_link = page.locator("section").filter(has=page.locator("#cohorts-chart")).get_by_role("link", name="Download CSV")
    downloaded = page.request.get(csv_link.get_attribute("href"))
    assert downloaded.ok and downloaded.text() == till_shop.call("GET", f"/v1/reports/cohorts?{query}&format=csv").text


def table(page, name) -> list[list[str]]:
    return page.locator(f"#{name}-table tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))")


def rows_as_text(rows, columns, first=None) -> list[list[str]]:
    return [(first or []) + ["" if row[column] is None else str(row[column]) for column in columns] for row in rows]


@pytest.mark.parametrize("width, height", [(360, 740), (1024, 768)])
def test_a_customer_opens_their_card_and_sees_the_qr_code(same_origin_page, till_shop, width, height):
    member = till_shop.member(points=420)
    till_shop.reward(name=f"Cinnamon bun {width}", cost_points=400)
    page = same_origin_page
    page.set_viewport_size({"width": width, "height": height})
    page.goto(till_shop.card_link(member))
    qr = page.get_by_role("img", name=re.compile("QR code of your member code"))
    expect(qr).to_be_visible()
    assert qr.locator("svg path.qrline").count() == 1  # the dark modules, drawn by segno
    box = qr.locator("svg").bounding_box()
    assert box["width"] >= 150 and box["x"] >= 0 and box["x"] + box["width"] <= width
    expect(page.locator("[data-figure=member-code]")).to_have_text(
        " ".join(re.findall(".{1,4}", member["member_code"])))
    expect(page.locator("[data-figure=balance]")).to_have_text("420")
    expect(page.get_by_text(f"Cinnamon bun {width}")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the phone
    screenshot(page, f"card-{width}")


def test_an_expired_card_link_says_so(same_origin_page, till_shop):
    response = same_origin_page.goto("/card/ct_not-a-token")
    assert response.status == 401
    expect(same_origin_page.get_by_role("alert")).to_contain_text("This card link has expired")


def test_the_till_works_from_the_keyboard_and_fits_a_phone(same_origin_page, till_shop):
    member = till_shop.member(points=180)
    till_shop.reward(name="Keyboard cookie", cost_points=100)
    page = same_origin_page
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/console/login")
    page.keyboard.type(CASHIER)  # the email field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Member")).to_be_focused()
    page.keyboard.type(member["member_code"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(member["name"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "member-360")
    redeem = reward_row(page, "Keyboard cookie").get_by_role("button", name="Redeem")
    redeem.focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-figure=new-balance]")).to_have_text("80")
    assert till_shop.balance(member) == 80


def test_a_case_is_opened_answered_and_resolved_with_goodwill(same_origin_page, till_shop):
    page = same_origin_page
    member = till_shop.member(points=10)
    sign_in(page, CASHIER)
    page.goto(f"/console/members/{member['id']}")
    page.get_by_label("Note", exact=True).fill("Prefers oat milk")
    page.get_by_label("Pin to the member's overview").check()
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("region", name="Pinned notes")).to_contain_text("Prefers oat milk")
    page.get_by_label("Kind").select_option("nps")
    page.get_by_label("Score").fill("3")
    page.get_by_role("button", name="Record feedback").click()
    expect(page.locator("[data-figure=last-nps]")).to_contain_text("3 (detractor)")
    page.get_by_text("Open a case").click()
    page.get_by_label("Subject").fill("Card not scanning")
    page.get_by_label("Category").select_option("points")
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Card not scanning")
    page.get_by_label("Reply").fill("We have sent a new card.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("region", name="Conversation")).to_contain_text("We have sent a new card.")
    page.get_by_role("link", name="Service desk").first.click()
    expect(page.get_by_role("row").filter(has_text="Card not scanning")).to_contain_text("Nobody")
    screenshot(page, "cases")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, MANAGER)
    page.get_by_role("link", name="Service desk").first.click()
    page.get_by_role("link", name="Card not scanning").click()
    page.get_by_label("Assignee").select_option(label="Manager (manager)")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator("[data-figure=assignee]")).to_have_text("Manager")
    page.get_by_label("Resolution").fill("New card sent")
    page.get_by_label("Goodwill points").fill("25")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("[data-figure=case-status]")).to_have_text("resolved")
    screenshot(page, "case")
    case_id = page.url.rsplit("/", 1)[1]
    case = till_shop.call("GET", f"/v1/cases/{case_id}").json()
    assert (case["status"], case["goodwill_points"], case["first_response_at"] is not None) == ("resolved", 25, True)
    assert till_shop.balance(member) == 35
    page.goto(f"/console/members/{member['id']}")
    expect(page.get_by_role("region", name="Timeline").locator("[data-kind=goodwill]")).to_have_count(1)
