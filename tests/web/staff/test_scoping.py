"""A company sees only itself: every route is tried with another company's ids.

The walk goes over app.url_map, so a route added later is covered, or fails here until its
id argument is given a row of the other company below.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from smsbot import db, notices
from smsbot.models import (
    CannedReply,
    CompanyNumber,
    ConversationLabel,
    ConversationNote,
    Label,
    Message,
    Notice,
    Ticket,
    TicketEvent,
    User,
)
from tests.conftest import run_jobs
from tests.support import post_inbound
from tests.web.staff.conftest import csrf_token
from tests.web.staff.test_inbox import conversation_of

SECRET = "СЕКРЕТ-СОЛНЕЧНОГО"
"""Appears only in the other company's rows: it must never show up for Zarechye."""
STRANGER = "+79037776655"
SOLNECHNY_NUMBER = "+74951230002"
PUBLIC_ENDPOINTS = {"static", "ui.static", "health.healthz"}
WEBHOOKS = "webhooks."


@pytest.fixture()
def other_company(app, staff, signed_in):  # noqa: ANN001, ANN201
    """Rows of every kind in Solnechny (conversation, note, canned reply, notice)."""
    anna = signed_in("boris")
    _, response = post_inbound(
        anna, app, f"{SECRET}: протечка", from_phone=STRANGER, to_phone=SOLNECHNY_NUMBER
    )
    assert response.status_code == 200
    run_jobs(app)
    conversation = conversation_of(STRANGER)
    assert conversation.company_id == staff.solnechny
    with Session(db.engine()) as session:
        session.add(
            ConversationNote(
                conversation_id=conversation.id, company_id=staff.solnechny, body=SECRET
            )
        )
        canned = CannedReply(company_id=staff.solnechny, title=SECRET, body=SECRET)
        session.add(canned)
        label = Label(company_id=staff.solnechny, name=SECRET)
        session.add(label)
        session.flush()
        session.add(ConversationLabel(conversation_id=conversation.id, label_id=label.id,
                                      company_id=staff.solnechny))  # fmt: skip
        notice = notices.create(session, company_id=staff.solnechny, author_id=staff.users["boris"],
                                building_ids=None, body=SECRET)  # fmt: skip
        session.commit()
        ids = {"conversation_id": conversation.id, "canned_id": canned.id, "notice_id": notice.id,
               "label_id": label.id}  # fmt: skip
        ids["ticket_id"], ids["number"] = other_ticket(
            session, staff.solnechny, conversation.resident_id
        )
        ids["company_id"] = staff.solnechny  # the inspector's pages about one company
        ids["user_id"], ids["action"] = staff.users["anna"], "disable"  # the Staff page
        ids["number_id"] = session.exec(
            select(CompanyNumber.id).where(CompanyNumber.company_id == staff.solnechny)
        ).first()
    return ids


def other_ticket(session: Session, company_id: int, resident_id: int) -> tuple[int, int]:
    """(id, number) of another company's ticket; its number is one the user's company lacks
    (numbers are per company, so a shared one would rightly open the user's own ticket)."""
    from smsbot import tickets
    from smsbot.clock import utcnow
    from smsbot.models import Company, Resident

    filed = tickets.file(session, company=session.get(Company, company_id), text=SECRET, now=utcnow(),
                         resident=session.get(Resident, resident_id))  # fmt: skip
    filed.number = 900_001
    session.commit()
    return filed.id, filed.number


def counts() -> dict[str, int]:
    with Session(db.engine()) as session:
        return {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (
                Message,
                Notice,
                CannedReply,
                ConversationNote,
                Ticket,
                TicketEvent,
                Label,
                ConversationLabel,
            )
        } | {
            "active users": session.exec(
                select(func.count()).select_from(User).where(User.active.is_(True))
            ).one(),
            "numbers": session.exec(select(func.count()).select_from(CompanyNumber)).one(),
        }


def staff_rules(app):  # noqa: ANN001, ANN201
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.startswith(WEBHOOKS):
            continue
        yield rule


@pytest.mark.parametrize("login", ["olga", "igor"])
def test_another_companys_rows_answer_404_on_every_route(app, signed_in, other_company, login):
    client = signed_in(login)
    token = csrf_token(client)
    before = counts()
    tried = 0
    for rule in staff_rules(app):
        if not rule.arguments:
            continue
        unknown = rule.arguments - other_company.keys()
        assert not unknown, f"{rule.rule}: give {unknown} another company's row in this test"
        path = rule.build({name: other_company[name] for name in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token, "body": SECRET, "assignee_id": "me", "title": SECRET}
            response = client.open(path, method=method, data=data if method == "POST" else None)
            if response.status_code == 403:  # a route this role never uses: says nothing of the id
                missing = rule.build(dict.fromkeys(rule.arguments, 999_999))[1]
                assert client.open(missing, method=method, data=data).status_code == 403, path
            else:
                assert response.status_code == 404, (
                    f"{method} {path} answered {response.status_code}"
                )
            assert SECRET not in response.get_data(as_text=True)
            tried += 1
    assert tried >= 10
    assert counts() == before


@pytest.mark.parametrize("login", ["olga", "igor"])
def test_lists_and_live_updates_never_show_another_company(app, signed_in, other_company, login):
    client = signed_in(login)
    queries = {"q": STRANGER, "phone": STRANGER, "view": "all", "to": SOLNECHNY_NUMBER,
               "label": other_company["label_id"]}  # fmt: skip
    for rule in staff_rules(app):
        if rule.arguments or "GET" not in rule.methods:
            continue
        response = client.get(rule.rule, query_string=queries)
        assert response.status_code in (200, 204, 302, 400, 403), (  # 400: an export of no period
            f"GET {rule.rule}: {response.status_code}"
        )
        body = response.get_data().decode("utf-8", "replace")  # exports may be binary
        assert SECRET not in body, f"GET {rule.rule} shows the other company"


def test_forms_cannot_reach_into_another_company(app, signed_in, other_company):
    igor = signed_in("igor")
    token = csrf_token(igor)
    before = counts()
    with Session(db.engine()) as session:
        from smsbot.models import Building

        podolsk = session.exec(
            select(Building.id).where(Building.address.contains("Горького"))
        ).one()
    igor.post("/notices/new", data={"csrf_token": token, "audience": "buildings", "building": podolsk,
                                    "body": "x", "step": "send"})  # fmt: skip
    response = igor.post(
        "/phone", data={"csrf_token": token, "phone": STRANGER, "to": SOLNECHNY_NUMBER, "body": "x"}
    )
    assert response.status_code == 302
    assert counts() == before


def test_all_company_roles_see_both_companies(app, signed_in, other_company):
    for login in ("inspector", "root"):
        client = signed_in(login)
        assert client.get(f"/inbox/{other_company['conversation_id']}").status_code == 200
        assert SECRET in client.get("/inbox").get_data(as_text=True)
    assert signed_in("olga").get("/phone").status_code == 403  # admins only
    assert signed_in("inspector").get("/canned").status_code == 403


def test_an_all_company_user_picks_a_company_before_acting_for_it(app, signed_in, staff):
    from tests.web.staff.conftest import post

    root = signed_in("root")
    response = root.get("/notices/new", follow_redirects=True)
    assert "Сначала выберите компанию" in response.get_data(as_text=True)
    post(root, "/company", {"company_id": str(staff.solnechny), "next": "/notices/new"})
    page = root.get("/notices/new").get_data(as_text=True)
    assert "Солнечный город" in page and "ул. Горького" in page and "Молодёжная" not in page
