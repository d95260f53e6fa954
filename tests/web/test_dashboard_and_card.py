"""The manager's dashboard and the customer's card through the test client, on either database."""
import re
from datetime import date, timedelta

import pytest

from loyalty import clock
from loyalty.reports import dashboard as reports, satisfaction as satisfaction_report, service as service_report
from loyalty.reports.period import Period
from tests.console_client import text_of


def table_rows(html: str, name: str) -> list[list[str]]:
    body = re.search(rf'id="{name}-table".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture
def history(enroll, client, storefront, program, at):
    """Two members with two purchases each, months ago."""
    for number, (first, second) in enumerate((("2026-01-10", "2026-01-20"), ("2026-02-03", "2026-03-30"))):
        member = enroll()
        for repeat, day in enumerate((first, second)):
            with at(f"{day}T12:00:00Z"):
                assert client.post("/v1/purchases", headers=storefront, json={
                    "member_id": member["id"], "order_id": f"hist-{number}-{repeat}", "amount": 4000,
                    "currency": "usd"}).status_code == 201


def test_dashboard_is_for_managers(console):
    response = console("cashier").get("/console/dashboard")
    assert response.status_code == 403
    assert "This page is for managers only." in text_of(response)
    assert console("cashier").get("/console/dashboard/cohorts.csv").status_code == 403


def test_dashboard_tables_are_the_reports(console, history, client, admin, at):
    with at("2026-06-01T00:00:00Z"):
        manager = console("manager")
        html = manager.get("/console/dashboard?from=2026-01-01&to=2026-05-01").get_data(as_text=True)
        query = "from=2026-01-01&to=2026-05-01"
        repurchase = client.get(f"/v1/reports/repurchase-by-tier?{query}", headers=admin).get_json()["data"]
        cohorts = client.get(f"/v1/reports/cohorts?{query}", headers=admin).get_json()["data"]
        march = client.get("/v1/reports/points?from=2026-03-01&to=2026-04-01", headers=admin).get_json()
        csv = manager.get(f"/console/dashboard/cohorts.csv?{query}")
        api_csv = client.get(f"/v1/reports/cohorts?{query}&format=csv", headers=admin)
    columns = ["tier", "buyers", "repurchasers", "repurchase_rate", "median_days_to_repurchase", "immature"]
    assert table_rows(html, "repurchase") == [["" if row[c] is None else str(row[c]) for c in columns]
                                              for row in repurchase]
    assert [row[0] for row in table_rows(html, "cohorts")] == [row["month"] for row in cohorts] == ["2026-01", "2026-02"]
    points = table_rows(html, "points")
    assert [row[0] for row in points] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert points[2] == ["2026-03"] + [str(march[c]) for c in ("issued", "redeemed", "expired", "reversed", "adjusted", "closing")]
    assert 'data-figure="outstanding">160<' in html.replace("\n", "")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True) == api_csv.get_data(as_text=True)
    assert 'href="/console/dashboard/cohorts.csv?from=2026-01-01&amp;to=2026-05-01"' in html


def test_dashboard_defaults_to_the_last_twelve_months(console, program, at):
    with at("2026-06-15T10:00:00Z"):
        html = text_of(console("manager").get("/console/dashboard"))
    assert 'value="2025-06-16"' in html and 'value="2026-06-16"' in html
    assert reports.default_dates(date(2026, 3, 30)) == (date(2025, 3, 28), date(2026, 3, 31))


@pytest.mark.parametrize("query, message", [
    ("from=2026-05-01&to=2026-01-01", "`from` must be before `to`."),
    ("from=2026-13-01&to=2026-01-01", "Give both dates as YYYY-MM-DD."),
    ("from=2020-01-01&to=2026-01-01", "Choose a period of at most 36 months."),
])
def test_a_bad_period_is_said_in_words(console, program, query, message):
    response = console("manager").get(f"/console/dashboard?{query}")
    assert response.status_code == 422 and message in text_of(response)


def test_month_periods_cut_the_period_at_month_ends():
    period = Period.of_dates(date(2026, 1, 15), date(2026, 3, 2))
    assert [(month, part.start.date(), part.end.date()) for month, part in reports.month_periods(period)] == [
        ("2026-01", date(2026, 1, 15), date(2026, 2, 1)), ("2026-02", date(2026, 2, 1), date(2026, 3, 1)),
        ("2026-03", date(2026, 3, 1), date(2026, 3, 2))]


# -- the card ----------------------------------------------------------------------------------

def card_link(client, storefront, member) -> str:
    response = client.post(f"/v1/members/{member['id']}/access-tokens", headers=storefront)
    assert response.status_code == 201
    return f"/card/{response.get_json()['token']}"


def test_the_card_shows_points_tier_rewards_and_the_code_as_qr(client, admin, storefront, enroll, program):
    client.post("/v1/tiers", headers=admin, json={"key": "gold", "name": "Gold", "min_qualifying_points": 100,
                                                   "multiplier": "1"})
    member = enroll(name="Ana Silva")
    client.post("/v1/purchases", headers=storefront, json={"member_id": member["id"], "order_id": "c-1",
                                                           "amount": 4000, "currency": "usd"})
    for name, cost in (("Scone", 30), ("Hamper", 900)):
        client.post("/v1/rewards", headers=admin, json={"name": name, "cost_points": cost, "kind": "custom",
                                                         "value": {}})
    response = client.get(card_link(client, storefront, member))
    page = text_of(response)
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer" and response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert 'data-figure="balance">40<' in page and "Progress to Gold" in page and "60 more to Gold" in page
    assert "Scone" in page and "Hamper" not in page
    code = member["member_code"]
    assert f'data-figure="member-code">{code[:4]} {code[4:]}<' in page
    assert '<svg viewBox=' in page and f"<title>QR code of member code {code}</title>" in page
    assert "Sign out" not in page


@pytest.mark.parametrize("token", ["nope", "st_staff-token", "lk_abc_def"])
def test_a_bad_card_link_is_a_page_in_words(client, program, token):
    response = client.get(f"/card/{token}")
    assert response.status_code == 401
    assert "This card link has expired or is not valid." in text_of(response)


def test_a_closed_members_card_link_stops_working(client, storefront, enroll, program):
    member = enroll()
    link = card_link(client, storefront, member)
    client.delete(f"/v1/members/{member['id']}", headers=storefront)
    assert client.get(link).status_code == 401


def test_dashboard_satisfaction_and_service_tables_are_the_reports(console, history, client, admin, at):
    """The satisfaction and service sections show the rows of their report endpoints, and their CSVs."""
    member_id = client.get("/v1/members?limit=1", headers=admin).get_json()["data"][0]["id"]
    with at("2026-02-10T09:00:00Z"):
        for kind, score in (("csat", 5), ("nps", 3)):
            assert client.post(f"/v1/members/{member_id}/feedback", headers=admin,
                               json={"kind": kind, "score": score}).status_code == 201
        case = client.post(f"/v1/members/{member_id}/cases", headers=admin,
                           json={"subject": "Cold coffee", "category": "product"}).get_json()
    with at("2026-02-10T15:00:00Z"):
        assert client.post(f"/v1/cases/{case['id']}/resolve", headers=admin,
                           json={"resolution": "Replaced it"}).status_code == 200
    query = "from=2026-01-01&to=2026-05-01"
    with at("2026-06-01T00:00:00Z"):
        html = console("manager").get(f"/console/dashboard?{query}").get_data(as_text=True)
        satisfaction = client.get(f"/v1/reports/satisfaction?{query}", headers=admin).get_json()["data"]
        service = client.get(f"/v1/reports/service?{query}", headers=admin).get_json()["data"]
        csv = console("manager").get(f"/console/dashboard/service.csv?{query}").get_data(as_text=True)
        api_csv = client.get(f"/v1/reports/service?{query}&format=csv", headers=admin).get_data(as_text=True)
    for name, rows, columns in (("satisfaction", satisfaction, satisfaction_report.COLUMNS),
                                ("service", service, service_report.COLUMNS)):
        assert table_rows(html, name) == [["" if row[c] is None else str(row[c]) for c in columns] for row in rows]
    assert satisfaction[-1]["csat_responses"] == 1 and satisfaction[-1]["detractors"] == 1
    assert service[-1]["opened"] == 1 and service[-1]["resolved"] == 1
    assert csv == api_csv
    assert 'data-chart="satisfaction"' in html and 'data-chart="service"' in html
