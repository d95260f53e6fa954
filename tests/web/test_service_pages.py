"""The service part of the console through the test client: notes, feedback and cases on the
member's page, and the service desk (API.md, Web pages)."""
import re

import pytest

from loyalty.extensions import db
from loyalty.models import Case, Feedback, Note
from tests.console_client import csrf_of, text_of
from tests.helpers import balance


def member_page(member) -> str:
    return f"/console/members/{member['id']}"


def open_case(till, member, subject="Cold coffee", category="product"):
    response = till.post(f"{member_page(member)}/cases", {"subject": subject, "category": category,
                                                         "description": "It was cold."},
                         from_page=member_page(member))
    assert response.status_code == 303, text_of(response)
    return response.headers["Location"]


def test_notes_feedback_and_cases_show_on_the_member_page(console, enroll):
    member = enroll(name="Ana Silva")
    till = console()
    page = member_page(member)
    till.post(f"{page}/notes", {"text": "Allergic to nuts", "pinned": "y"}, from_page=page)
    till.post(f"{page}/notes", {"text": "Asked about gift cards"}, from_page=page)
    till.post(f"{page}/feedback", {"kind": "csat", "score": "5", "comment": "Lovely"}, from_page=page)
    open_case(till, member)
    shown = text_of(till.get(page))
    pinned = shown.split('id="notes-heading"')[1].split("</section>")[0]
    assert "Allergic to nuts" in pinned and "Asked about gift cards" not in pinned
    assert 'data-figure="last-csat">5 (happy)' in shown and 'data-figure="last-nps">None' in shown
    assert "Cold coffee" in shown.split('id="cases-heading"')[1]
    timeline = shown.split('id="timeline-heading"')[1]
    assert [kind for kind in re.findall(r'data-kind="(\w+)"', timeline)][:4] == ["case_opened", "feedback", "note", "note"]
    assert "enrolled" in re.findall(r'data-kind="(\w+)"', timeline)


def test_a_bad_feedback_score_is_refused_in_words(console, enroll):
    member = enroll()
    till = console()
    page = member_page(member)
    till.post(f"{page}/feedback", {"kind": "csat", "score": "7"}, from_page=page)
    assert "Score: A CSAT score is from 1 to 5." in text_of(till.get(page))
    assert db.session.query(Feedback).filter_by(member_id=member["id"]).count() == 0


def test_a_closed_member_takes_no_notes(console, enroll, client, storefront):
    member = enroll()
    client.delete(f"/v1/members/{member['id']}", headers=storefront)
    till = console()
    page = member_page(member)
    till.post(f"{page}/notes", {"text": "Hello"}, from_page=page)
    assert "The member is not active." in text_of(till.get(page))
    assert db.session.query(Note).filter_by(member_id=member["id"]).count() == 0


def test_the_service_desk_lists_open_cases_oldest_first(console, enroll, at):
    first, second = enroll(name="Ana First"), enroll(name="Ben Second")
    till = console()
    with at("2026-04-01T09:00:00Z"):
        open_case(till, second, "Late delivery", "delivery")
    with at("2026-03-01T09:00:00Z"):
        open_case(till, first, "Wrong points", "points")
    with at("2026-04-03T11:30:00Z"):
        queue = text_of(till.get("/console/cases"))
    rows = re.findall(r"<tr><td><a [^>]*>([^<]+)</a></td> <td><a [^>]*>([^<]+)</a></td> <td>(\w+)</td> "
                      r"<td>([^<]+)</td> <td>([^<]+)</td></tr>", queue)
    assert rows == [("Wrong points", "Ana First", "points", "33 d 2 h", "Nobody"),
                    ("Late delivery", "Ben Second", "delivery", "2 d 2 h", "Nobody")]


def test_reply_assign_and_resolve_with_goodwill(console, enroll, client, admin, program):
    member = enroll()
    cashier, manager = console(), console("manager")
    case_page = open_case(cashier, member)
    cashier.post(f"{case_page}/replies", {"text": "Sorry, a fresh one is on us."}, from_page=case_page)
    shown = text_of(cashier.get(case_page))
    assert "Sorry, a fresh one is on us." in shown and "Reply sent." in shown
    case_id = case_page.rsplit("/", 1)[1]
    assert client.get(f"/v1/cases/{case_id}", headers=admin).get_json()["first_response_at"] is not None

    assert "Goodwill points" not in text_of(cashier.get(case_page))  # managers only
    cashier.post(f"{case_page}/resolve", {"resolution": "Refunded", "goodwill_points": "50"}, from_page=case_page)
    assert "Goodwill points need the admin or manager role." in text_of(cashier.get(case_page))
    assert db.session.get(Case, case_id).status == "open"
    refused = cashier.post(f"{case_page}/assign", {"assignee_id": ""}, from_page=case_page)
    assert refused.status_code == 403

    staff_id = client.get("/v1/staff", headers=admin).get_json()["data"][0]["id"]
    manager.post(f"{case_page}/assign", {"assignee_id": staff_id}, from_page=case_page)
    manager.post(f"{case_page}/resolve", {"resolution": "Refunded", "goodwill_points": "50"}, from_page=case_page)
    shown = text_of(manager.get(case_page))
    assert "Case resolved, 50 goodwill points given." in shown and 'data-figure="case-status">resolved' in shown
    body = client.get(f"/v1/cases/{case_id}", headers=admin).get_json()
    assert (body["status"], body["goodwill_points"], body["assignee_id"]) == ("resolved", 50, staff_id)
    assert balance(client, admin, member["id"]) == 50

    manager.post(f"{case_page}/reopen", {}, from_page=case_page)
    assert 'data-figure="case-status">open' in text_of(manager.get(case_page))


def test_assigning_someone_who_is_not_staff_is_refused(console, enroll):
    manager = console("manager")
    case_page = open_case(manager, enroll())
    manager.post(f"{case_page}/assign", {"assignee_id": "stf_nobody"}, from_page=case_page)
    assert "assignee_id must be an active staff member&#39;s id." in text_of(manager.get(case_page))


def test_resolving_twice_says_it_is_resolved(console, enroll):
    manager = console("manager")
    case_page = open_case(manager, enroll())
    html = manager.page(case_page)
    for _ in range(2):
        manager.client.post(f"{case_page}/resolve", data={"csrf_token": csrf_of(html), "resolution": "Done"})
    assert "The case is already resolved." in text_of(manager.get(case_page))


@pytest.mark.parametrize("path", ["/console/cases/case_missing"])
def test_an_unknown_case_is_a_page_in_words(console, program, path):
    response = console().get(path)
    assert response.status_code == 404 and "No case case_missing." in text_of(response)
