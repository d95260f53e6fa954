"""The service desk against API.md (Service): feedback, cases, replies, goodwill, notes, by role."""
from datetime import datetime, timedelta, timezone

import pytest

from loyalty import clock
from loyalty.extensions import db
from loyalty.models import CaseEvent, Feedback, LedgerEntry, Staff
from tests.helpers import assert_error

ROLES = ("admin", "storefront", "manager", "cashier", "customer")
SHOP = ("admin", "storefront", "manager", "cashier")
STAFF_ROLES = ("admin", "manager", "cashier")


def open_case(client, headers, member_id, **fields):
    response = client.post(f"/v1/members/{member_id}/cases", headers=headers,
                           json={"subject": "Parcel late", "category": "delivery", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def purchase(client, headers, member_id, order_id="o-1", amount=5000):
    response = client.post("/v1/purchases", headers=headers, json={
        "member_id": member_id, "order_id": order_id, "amount": amount, "currency": "usd"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- every endpoint × every role ---------------------------------------------------------------

FEEDBACK = {"kind": "nps", "score": 9}
CASE = {"subject": "Broken lid", "category": "product"}
# (method, path, body, success status, roles allowed, the case must be resolved first)
ENDPOINTS = [
    ("post", "/v1/members/{m}/feedback", FEEDBACK, 201, SHOP, False),
    ("get", "/v1/members/{m}/feedback", None, 200, SHOP, False),
    ("post", "/v1/me/feedback", FEEDBACK, 201, ("customer",), False),
    ("get", "/v1/me/feedback", None, 200, ("customer",), False),
    ("post", "/v1/members/{m}/cases", CASE, 201, SHOP, False),
    ("get", "/v1/members/{m}/cases", None, 200, SHOP, False),
    ("post", "/v1/me/cases", CASE, 201, ("customer",), False),
    ("get", "/v1/me/cases", None, 200, ("customer",), False),
    ("get", "/v1/me/cases/{c}", None, 200, ("customer",), False),
    ("get", "/v1/cases", None, 200, STAFF_ROLES, False),
    ("get", "/v1/cases/{c}", None, 200, SHOP, False),
    ("patch", "/v1/cases/{c}", {"assignee_id": None}, 200, ("admin", "manager"), False),
    ("post", "/v1/cases/{c}/replies", {"text": "On its way"}, 201, SHOP, False),
    ("get", "/v1/cases/{c}/replies", None, 200, SHOP, False),
    ("post", "/v1/me/cases/{c}/replies", {"text": "Thanks"}, 201, ("customer",), False),
    ("get", "/v1/me/cases/{c}/replies", None, 200, ("customer",), False),
    ("post", "/v1/cases/{c}/resolve", {"resolution": "Sent a new one"}, 200, STAFF_ROLES, False),
    ("post", "/v1/cases/{c}/reopen", None, 200, SHOP, True),
    ("post", "/v1/me/cases/{c}/reopen", None, 200, ("customer",), True),
    ("post", "/v1/members/{m}/notes", {"text": "Prefers email"}, 201, STAFF_ROLES, False),
    ("get", "/v1/members/{m}/notes", None, 200, STAFF_ROLES, False),
    ("patch", "/v1/notes/{n}", {"pinned": True}, 200, ("admin", "manager"), False),
    ("get", "/v1/members/{m}/overview", None, 200, SHOP, False),
    ("get", "/v1/members/{m}/timeline", None, 200, STAFF_ROLES, False),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path, body, status, allowed, resolved", ENDPOINTS,
                         ids=[f"{method} {path}" for method, path, *_ in ENDPOINTS])
def test_every_endpoint_by_every_role(client, admin, maria, role_headers, role, method, path, body, status,
                                      allowed, resolved):
    """Each role the contract names gets the success status; every other role 403 forbidden."""
    case = open_case(client, admin, maria["id"])
    if resolved:
        assert client.post(f"/v1/cases/{case['id']}/resolve", headers=admin,
                           json={"resolution": "done"}).status_code == 200
    note = client.post(f"/v1/members/{maria['id']}/notes", headers=admin, json={"text": "VIP"}).get_json()
    url = path.format(m=maria["id"], c=case["id"], n=note["id"])
    kwargs = {"json": body} if body is not None else {}
    response = getattr(client, method)(url, headers=role_headers(role), **kwargs)
    if role in allowed:
        assert response.status_code == status, response.get_json()
    else:
        assert_error(response, 403, "forbidden")


# -- feedback -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, score, band", [
    ("csat", 1, "unhappy"), ("csat", 2, "unhappy"), ("csat", 3, "neutral"), ("csat", 4, "happy"),
    ("csat", 5, "happy"), ("nps", 0, "detractor"), ("nps", 6, "detractor"), ("nps", 7, "passive"),
    ("nps", 8, "passive"), ("nps", 9, "promoter"), ("nps", 10, "promoter"),
])
def test_feedback_bands(client, admin, maria, kind, score, band):
    response = client.post(f"/v1/members/{maria['id']}/feedback", headers=admin, json={"kind": kind, "score": score})
    assert response.status_code == 201
    assert (response.get_json()["band"], db.session.get(Feedback, response.get_json()["id"]).band) == (band, band)


@pytest.mark.parametrize("body", [
    {"kind": "csat", "score": 0}, {"kind": "csat", "score": 6}, {"kind": "nps", "score": 11},
    {"kind": "nps", "score": -1}, {"kind": "ces", "score": 3}, {"score": 3}, {"kind": "csat"},
    {"kind": "csat", "score": "4"}, {"kind": "csat", "score": 4.0}, {"kind": "csat", "score": True},
    {"kind": "csat", "score": 4, "channel": "pigeon"}, {"kind": "csat", "score": 4, "comment": "x" * 2001},
    {"kind": "csat", "score": 4, "created_at": "2026-01-01T10:00:00"}, {"kind": "csat", "score": 4, "extra": 1},
])
def test_feedback_validation(client, admin, maria, body):
    """Scores per kind, enums, lengths, offsets and unknown fields: 422, nothing stored."""
    response = client.post(f"/v1/members/{maria['id']}/feedback", headers=admin, json=body)
    assert_error(response, 422, "validation_error")
    assert db.session.query(Feedback).count() == 0


def test_feedback_per_purchase_and_kind_once(client, admin, maria):
    bought = purchase(client, admin, maria["id"])
    post = lambda body: client.post(f"/v1/members/{maria['id']}/feedback", headers=admin,
                                    json={"purchase_id": bought["id"], **body})
    assert post({"kind": "csat", "score": 5}).status_code == 201
    assert post({"kind": "nps", "score": 10}).status_code == 201
    assert_error(post({"kind": "csat", "score": 1}), 409, "feedback_exists")
    # Without a purchase, answers are not limited.
    for _ in range(2):
        assert client.post(f"/v1/members/{maria['id']}/feedback", headers=admin,
                           json={"kind": "csat", "score": 3}).status_code == 201


def test_feedback_on_another_members_purchase_is_not_found(client, admin, maria, enroll):
    other = enroll()
    theirs = purchase(client, admin, other["id"])
    for purchase_id in (theirs["id"], "pur_nope"):
        response = client.post(f"/v1/members/{maria['id']}/feedback", headers=admin,
                               json={"kind": "csat", "score": 5, "purchase_id": purchase_id})
        assert_error(response, 404, "not_found")


def test_feedback_channel_defaults(client, maria, role_headers):
    """store with a staff token, online for keys and customers; an explicit channel wins."""
    seen = {}
    for role in ("cashier", "storefront", "admin"):
        response = client.post(f"/v1/members/{maria['id']}/feedback", headers=role_headers(role),
                               json={"kind": "csat", "score": 4})
        seen[role] = response.get_json()["channel"]
    mine = client.post("/v1/me/feedback", headers=role_headers("customer"), json={"kind": "nps", "score": 8})
    seen["customer"] = mine.get_json()["channel"]
    assert seen == {"cashier": "store", "storefront": "online", "admin": "online", "customer": "online"}
    phoned = client.post(f"/v1/members/{maria['id']}/feedback", headers=role_headers("manager"),
                         json={"kind": "csat", "score": 4, "channel": "phone"})
    assert phoned.get_json()["channel"] == "phone"


def test_feedback_history_import(client, maria, role_headers):
    """created_at: admin and storefront keys only, never in the future."""
    past = "2025-05-01T09:30:00Z"
    for role in ("admin", "storefront"):
        response = client.post(f"/v1/members/{maria['id']}/feedback", headers=role_headers(role),
                               json={"kind": "csat", "score": 4, "created_at": past})
        assert response.status_code == 201 and response.get_json()["created_at"] == past
    for role in ("manager", "cashier"):
        response = client.post(f"/v1/members/{maria['id']}/feedback", headers=role_headers(role),
                               json={"kind": "csat", "score": 4, "created_at": past})
        assert_error(response, 422, "validation_error")
    customer = client.post("/v1/me/feedback", headers=role_headers("customer"),
                           json={"kind": "csat", "score": 4, "created_at": past})
    assert_error(customer, 422, "validation_error")
    future = (clock.now() + timedelta(minutes=1)).isoformat()
    response = client.post(f"/v1/members/{maria['id']}/feedback", headers=role_headers("admin"),
                           json={"kind": "csat", "score": 4, "created_at": future})
    assert_error(response, 422, "validation_error")


def test_feedback_list_newest_first_in_pages(client, admin, maria, at):
    for day in range(1, 6):
        with at(f"2026-03-0{day}T10:00:00Z"):
            client.post(f"/v1/members/{maria['id']}/feedback", headers=admin, json={"kind": "csat", "score": day})
    seen, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = client.get(f"/v1/members/{maria['id']}/feedback{query}", headers=admin).get_json()
        seen += [item["score"] for item in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    assert_error(client.get(f"/v1/members/{maria['id']}/feedback?cursor=garbage", headers=admin),
                 422, "validation_error")
    assert_error(client.get("/v1/members/mem_nope/feedback", headers=admin), 404, "not_found")


def test_idempotent_feedback(client, admin, maria):
    """The same Idempotency-Key and body: the first response again, one row."""
    headers = {**admin, "Idempotency-Key": "fb-1"}
    first = client.post(f"/v1/members/{maria['id']}/feedback", headers=headers, json={"kind": "csat", "score": 5})
    again = client.post(f"/v1/members/{maria['id']}/feedback", headers=headers, json={"kind": "csat", "score": 5})
    assert (first.status_code, again.status_code) == (201, 201) and first.get_json() == again.get_json()
    assert db.session.query(Feedback).count() == 1
    other = client.post(f"/v1/members/{maria['id']}/feedback", headers=headers, json={"kind": "csat", "score": 1})
    assert_error(other, 409, "idempotency_key_reused")


# -- a closed member ----------------------------------------------------------------------------

def test_every_post_on_a_closed_member_is_member_inactive(client, admin, storefront, maria):
    case = open_case(client, admin, maria["id"])
    resolved = open_case(client, admin, maria["id"])
    client.post(f"/v1/cases/{resolved['id']}/resolve", headers=admin, json={"resolution": "ok"})
    assert client.delete(f"/v1/members/{maria['id']}", headers=storefront).status_code == 200
    posts = [
        (f"/v1/members/{maria['id']}/feedback", {"kind": "csat", "score": 3}),
        (f"/v1/members/{maria['id']}/cases", CASE),
        (f"/v1/members/{maria['id']}/notes", {"text": "x"}),
        (f"/v1/cases/{case['id']}/replies", {"text": "x"}),
        (f"/v1/cases/{case['id']}/resolve", {"resolution": "x", "goodwill_points": 10}),
        (f"/v1/cases/{resolved['id']}/reopen", None),
    ]
    for path, body in posts:
        kwargs = {"json": body} if body is not None else {}
        assert_error(client.post(path, headers=admin, **kwargs), 409, "member_inactive")
    assert db.session.query(LedgerEntry).filter_by(type="goodwill").count() == 0


# -- cases --------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"category": "product"}, {"subject": "", "category": "product"}, {"subject": "x" * 201, "category": "product"},
    {"subject": "x"}, {"subject": "x", "category": "weather"}, {"subject": "x", "category": "product",
                                                                   "description": "d" * 5001},
    {"subject": "x", "category": "product", "channel": "fax"},
    {"subject": "x", "category": "product", "opened_at": "yesterday"},
])
def test_case_validation(client, admin, maria, body):
    assert_error(client.post(f"/v1/members/{maria['id']}/cases", headers=admin, json=body), 422, "validation_error")


def test_case_lifecycle(client, admin, maria, desk_staff, role_headers):
    """Open, reply (the shop's first reply stamps first_response_at), resolve, reopen, resolve again."""
    _, manager = desk_staff("manager")
    customer = role_headers("customer")
    with clock.frozen(datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)):
        case = client.post("/v1/me/cases", headers=customer, json={
            "subject": "Points missing", "category": "points", "description": "My order o-7 gave nothing"}).get_json()
    assert (case["status"], case["channel"], case["first_response_at"], case["reopened_count"]) == \
        ("open", "online", None, 0)
    with clock.frozen(datetime(2026, 5, 1, 9, 5, tzinfo=timezone.utc)):
        mine = client.post(f"/v1/me/cases/{case['id']}/replies", headers=customer, json={"text": "Any news?"})
    assert mine.get_json()["author"] == {"type": "customer", "id": maria["id"], "name": "Maria"}
    assert client.get(f"/v1/cases/{case['id']}", headers=admin).get_json()["first_response_at"] is None
    with clock.frozen(datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)):
        shop = client.post(f"/v1/cases/{case['id']}/replies", headers=manager, json={"text": "Looking into it"})
    assert shop.get_json()["author"]["type"] == "staff" and shop.get_json()["author"]["name"] == "Manager"
    with clock.frozen(datetime(2026, 5, 1, 11, 0, tzinfo=timezone.utc)):
        client.post(f"/v1/cases/{case['id']}/replies", headers=manager, json={"text": "Found it"})
        resolved = client.post(f"/v1/cases/{case['id']}/resolve", headers=manager,
                               json={"resolution": "Points added", "goodwill_points": 150}).get_json()
    assert resolved["first_response_at"] == "2026-05-01T10:00:00Z"
    assert (resolved["status"], resolved["resolved_at"], resolved["goodwill_points"]) == \
        ("resolved", "2026-05-01T11:00:00Z", 150)
    assert_error(client.post(f"/v1/cases/{case['id']}/resolve", headers=manager, json={"resolution": "again"}),
                 409, "case_resolved")
    reopened = client.post(f"/v1/me/cases/{case['id']}/reopen", headers=customer).get_json()
    assert (reopened["status"], reopened["resolved_at"], reopened["reopened_count"]) == ("open", None, 1)
    assert (reopened["first_response_at"], reopened["resolution"], reopened["goodwill_points"]) == \
        ("2026-05-01T10:00:00Z", "Points added", 150)
    assert_error(client.post(f"/v1/cases/{case['id']}/reopen", headers=manager), 409, "case_open")
    again = client.post(f"/v1/cases/{case['id']}/resolve", headers=manager,
                        json={"resolution": "More points", "goodwill_points": 50}).get_json()
    assert (again["goodwill_points"], again["resolution"]) == (200, "More points")
    balance = client.get(f"/v1/members/{maria['id']}", headers=admin).get_json()["points"]["balance"]
    assert balance == 200
    entries = db.session.query(LedgerEntry).filter_by(member_id=maria["id"], type="goodwill").all()
    assert sorted(entry.points for entry in entries) == [50, 150]
    assert [event.type for event in db.session.query(CaseEvent).order_by(CaseEvent.id)] == \
        ["resolved", "reopened", "resolved"]
    replies = client.get(f"/v1/me/cases/{case['id']}/replies", headers=customer).get_json()["data"]
    assert [reply["text"] for reply in replies] == ["Any news?", "Looking into it", "Found it"]


def test_goodwill_needs_a_manager_and_stays_under_the_limit(client, admin, maria, desk_staff):
    _, cashier = desk_staff("cashier")
    _, manager = desk_staff("manager")
    case = open_case(client, admin, maria["id"])
    resolve = lambda headers, points: client.post(f"/v1/cases/{case['id']}/resolve", headers=headers,
                                                  json={"resolution": "Sorry", "goodwill_points": points})
    assert_error(resolve(cashier, 10), 403, "forbidden")
    assert_error(resolve(manager, 1001), 422, "validation_error")
    assert_error(resolve(manager, -1), 422, "validation_error")
    assert client.patch("/v1/program", headers=admin, json={"goodwill_limit": 2000}).get_json()["goodwill_limit"] == 2000
    assert client.get(f"/v1/cases/{case['id']}", headers=admin).get_json()["status"] == "open"
    assert db.session.query(LedgerEntry).filter_by(type="goodwill").count() == 0
    assert resolve(manager, 2000).status_code == 200
    other = open_case(client, admin, maria["id"])
    by_cashier = client.post(f"/v1/cases/{other['id']}/resolve", headers=cashier, json={"resolution": "Fixed"})
    assert by_cashier.status_code == 200 and by_cashier.get_json()["goodwill_points"] == 0


def test_goodwill_counts_as_issued(client, admin, maria):
    case = open_case(client, admin, maria["id"])
    client.post(f"/v1/cases/{case['id']}/resolve", headers=admin, json={"resolution": "x", "goodwill_points": 300})
    today = clock.now().date()
    report = client.get(f"/v1/reports/points?from={today}&to={today + timedelta(days=1)}", headers=admin).get_json()
    assert report["issued"] == 300 and report["closing"] == 300


def test_history_timestamps_on_cases(client, admin, storefront, maria, desk_staff):
    """opened_at, a reply's created_at and resolved_at: keys only, not in the future, not before the case."""
    _, manager = desk_staff("manager")
    case = open_case(client, storefront, maria["id"], opened_at="2025-01-10T08:00:00Z")
    assert case["opened_at"] == "2025-01-10T08:00:00Z"
    assert_error(client.post(f"/v1/members/{maria['id']}/cases", headers=manager,
                             json={**CASE, "opened_at": "2025-01-10T08:00:00Z"}), 422, "validation_error")
    reply = lambda headers, at: client.post(f"/v1/cases/{case['id']}/replies", headers=headers,
                                            json={"text": "x", "created_at": at})
    assert_error(reply(admin, "2025-01-10T07:59:59Z"), 422, "validation_error")
    assert_error(reply(manager, "2025-01-11T08:00:00Z"), 422, "validation_error")
    assert_error(reply(admin, (clock.now() + timedelta(hours=1)).isoformat()), 422, "validation_error")
    assert reply(admin, "2025-01-12T08:00:00Z").status_code == 201
    assert reply(admin, "2025-01-11T08:00:00Z").status_code == 201  # imported out of order: the earliest counts
    assert client.get(f"/v1/cases/{case['id']}", headers=admin).get_json()["first_response_at"] == \
        "2025-01-11T08:00:00Z"
    resolve = lambda headers, at: client.post(f"/v1/cases/{case['id']}/resolve", headers=headers,
                                              json={"resolution": "done", "resolved_at": at})
    assert_error(resolve(admin, "2025-01-09T08:00:00Z"), 422, "validation_error")
    assert_error(resolve(manager, "2025-01-13T08:00:00Z"), 422, "validation_error")
    assert resolve(admin, "2025-01-13T08:00:00Z").get_json()["resolved_at"] == "2025-01-13T08:00:00Z"


def test_assignment_and_the_queue(client, admin, maria, enroll, desk_staff):
    ana_id, manager = desk_staff("manager", name="Ana")
    gone_id, _ = desk_staff("cashier")
    db.session.get(Staff, gone_id).active = False
    db.session.commit()
    with clock.frozen(datetime(2026, 1, 2, tzinfo=timezone.utc)):
        newer = open_case(client, admin, maria["id"])
    with clock.frozen(datetime(2026, 1, 1, tzinfo=timezone.utc)):
        older = open_case(client, admin, enroll()["id"])
    patch = lambda body: client.patch(f"/v1/cases/{newer['id']}", headers=manager, json=body)
    assert patch({"assignee_id": ana_id}).get_json()["assignee_id"] == ana_id
    for bad in ({"assignee_id": gone_id}, {"assignee_id": "stf_nope"}, {"assignee_id": 7}, {}):
        assert_error(patch(bad), 422, "validation_error")
    queue = client.get("/v1/cases?status=open", headers=manager).get_json()["data"]
    assert [case["id"] for case in queue] == [older["id"], newer["id"]]
    page = client.get("/v1/cases?limit=1", headers=manager).get_json()
    rest = client.get(f"/v1/cases?limit=1&cursor={page['next_cursor']}", headers=manager).get_json()
    assert [page["data"][0]["id"], rest["data"][0]["id"]] == [older["id"], newer["id"]]
    mine = client.get(f"/v1/cases?assignee_id={ana_id}", headers=manager).get_json()["data"]
    assert [case["id"] for case in mine] == [newer["id"]]
    assert client.get(f"/v1/cases?member_id={maria['id']}&status=resolved", headers=manager).get_json()["data"] == []
    assert_error(client.get("/v1/cases?status=closed", headers=manager), 422, "validation_error")
    assert patch({"assignee_id": None}).get_json()["assignee_id"] is None


def test_a_customer_sees_only_their_own_cases(client, admin, maria, enroll, role_headers):
    theirs = open_case(client, admin, enroll()["id"])
    customer = role_headers("customer")
    for method, path in (("get", "/v1/me/cases/{c}"), ("get", "/v1/me/cases/{c}/replies"),
                         ("post", "/v1/me/cases/{c}/reopen")):
        response = getattr(client, method)(path.format(c=theirs["id"]), headers=customer)
        assert_error(response, 404, "not_found")
    assert_error(client.post(f"/v1/me/cases/{theirs['id']}/replies", headers=customer, json={"text": "hi"}),
                 404, "not_found")
    assert client.get("/v1/me/cases", headers=customer).get_json()["data"] == []


def test_unknown_case_is_not_found(client, admin):
    for method, path, body in (("get", "/v1/cases/case_nope", None), ("post", "/v1/cases/case_nope/replies", {"text": "x"}),
                               ("post", "/v1/cases/case_nope/resolve", {"resolution": "x"}),
                               ("post", "/v1/cases/case_nope/reopen", None),
                               ("patch", "/v1/cases/case_nope", {"assignee_id": None})):
        kwargs = {"json": body} if body is not None else {}
        assert_error(getattr(client, method)(path, headers=admin, **kwargs), 404, "not_found")


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "x" * 5001}, {}, {"text": "x", "created_at": 5}])
def test_reply_validation(client, admin, maria, body):
    case = open_case(client, admin, maria["id"])
    assert_error(client.post(f"/v1/cases/{case['id']}/replies", headers=admin, json=body), 422, "validation_error")


@pytest.mark.parametrize("body", [{}, {"resolution": ""}, {"resolution": "x" * 2001},
                                  {"resolution": "x", "goodwill_points": 1.5}, {"resolution": "x", "goodwill_points": "5"}])
def test_resolve_validation(client, admin, maria, body):
    case = open_case(client, admin, maria["id"])
    assert_error(client.post(f"/v1/cases/{case['id']}/resolve", headers=admin, json=body), 422, "validation_error")


# -- notes --------------------------------------------------------------------------------------

def test_notes_by_author_manager_or_admin(client, admin, maria, desk_staff):
    _, author = desk_staff("cashier")
    _, colleague = desk_staff("cashier")
    _, manager = desk_staff("manager")
    note = client.post(f"/v1/members/{maria['id']}/notes", headers=author, json={"text": "Allergic to nuts"})
    assert note.status_code == 201
    note = note.get_json()
    assert (note["pinned"], note["author"]["type"], note["author"]["name"]) == (False, "staff", "Cashier")
    edit = lambda headers, body: client.patch(f"/v1/notes/{note['id']}", headers=headers, json=body)
    assert edit(author, {"pinned": True}).get_json()["pinned"] is True
    assert_error(edit(colleague, {"text": "changed"}), 403, "forbidden")
    assert edit(manager, {"text": "Allergic to nuts and milk"}).get_json()["text"] == "Allergic to nuts and milk"
    assert edit(admin, {"pinned": False}).get_json()["pinned"] is False
    for bad in ({"text": ""}, {"text": "x" * 2001}, {"pinned": "yes"}, {"author": "me"}):
        assert_error(edit(manager, bad), 422, "validation_error")
    assert_error(client.patch("/v1/notes/note_nope", headers=manager, json={"pinned": True}), 404, "not_found")
    listed = client.get(f"/v1/members/{maria['id']}/notes", headers=colleague).get_json()["data"]
    assert [item["text"] for item in listed] == ["Allergic to nuts and milk"]


def test_notes_are_never_shown_to_customers(client, admin, maria, role_headers):
    client.post(f"/v1/members/{maria['id']}/notes", headers=admin, json={"text": "Difficult", "pinned": True})
    customer = role_headers("customer")
    for path in ("/v1/me", "/v1/me/cases", "/v1/me/feedback", "/v1/me/transactions"):
        assert "Difficult" not in client.get(path, headers=customer).get_data(as_text=True)
    assert_error(client.get(f"/v1/members/{maria['id']}/notes", headers=customer), 403, "forbidden")
