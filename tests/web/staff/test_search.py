"""The desk's one search box on both databases: words by stem, phones, account numbers,
addresses and ticket numbers, in the inbox and the tickets, never another company's; the
desk's pages and counts; the old id links; a ticket made from a resident's SMS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlmodel import Session, func, select

from smsbot import db, search, search_filters
from smsbot.clock import utcnow
from smsbot.models import Message, Ticket
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound
from tests.web.staff.conftest import csrf_token, post
from tests.web.staff.test_inbox import conversation_of
from tests.web.staff.test_scoping import SOLNECHNY_NUMBER, STRANGER
from tests.web.staff.test_tickets import DEMO_PHONE, NEIGHBOUR, file_ticket, say


def found(client, path: str, q: str, **more: str) -> set[str]:  # noqa: ANN001
    """The keys of the rows a live list shows for the query."""
    answer = client.get(f"/{path}/live", query_string={"q": q, **more}).get_json()
    return {
        row["key"] for row in answer["lists"]["conversations" if path == "inbox" else "tickets"]
    }


def thread(phone: str) -> str:
    return f"c{conversation_of(phone).id}"


@pytest.fixture()
def talk(app, signed_in):  # noqa: ANN001, ANN201
    """Zarechye hears of a broken intercom and a leak; Solnechny of its own broken intercom."""
    olga = signed_in("olga")
    say(olga, app, "Добрый день, не работает домофон во втором подъезде", NEIGHBOUR)
    say(olga, app, "Течёт кран на кухне, капает второй день", DEMO_PHONE)
    _, response = post_inbound(
        olga, app, "И у нас сломались домофоны", from_phone=STRANGER, to_phone=SOLNECHNY_NUMBER
    )
    assert response.status_code == 200
    run_jobs(app)
    return olga


def test_the_inbox_finds_words_by_stem_phones_accounts_addresses_and_tickets(app, talk):
    olga, neighbour, demo = talk, thread(NEIGHBOUR), thread(DEMO_PHONE)
    assert found(olga, "inbox", "домофона") == {neighbour}  # not Solnechny's домофоны
    assert found(olga, "inbox", "ТЕЧЕТ краны") == {demo}
    assert found(olga, "inbox", "течёт домофон") == set()  # every word must be there
    assert found(olga, "inbox", "+7 (916) 123-45-67") == {neighbour}
    assert found(olga, "inbox", "5012345678") == {demo}  # flat 148's account
    assert found(olga, "inbox", "Молодёжная") == {neighbour, demo}  # both live there
    assert found(olga, "inbox", "Советская") == set()
    assert found(olga, "inbox", "Горького") == set()  # Solnechny's street: not Zarechye's
    page = olga.get("/inbox", query_string={"q": "домофона"}).get_data(as_text=True)
    assert "Найдено по «домофона»: 1" in page and "+79161234567" in page
    assert "+79851234567" not in page
    filed = file_ticket(olga, app, "заявка не горит свет в подъезде", DEMO_PHONE)
    assert found(olga, "inbox", str(filed.number)) >= {demo}
    jump = olga.get("/inbox", query_string={"q": f"№{filed.number}"})
    assert jump.status_code == 302 and jump.location.endswith(f"/tickets?q=%E2%84%96{filed.number}")
    assert olga.get(jump.location).location.endswith(f"/tickets/{filed.number}")


def test_the_desk_finds_tickets_and_jumps_to_a_number(app, talk, staff):
    olga = talk
    intercom = file_ticket(olga, app, "заявка домофон не открывает дверь", NEIGHBOUR)
    leak = file_ticket(olga, app, "заявка течёт кран", DEMO_PHONE)
    post_inbound(olga, app, "заявка сломались домофоны", from_phone=STRANGER,
                 to_phone=SOLNECHNY_NUMBER)  # fmt: skip
    run_jobs(app)
    with Session(db.engine()) as session:
        assert session.exec(select(Ticket).where(Ticket.company_id == staff.solnechny)).one()
    assert found(olga, "tickets", "домофонами", status="all") == {f"t{intercom.id}"}
    assert found(olga, "tickets", "5012345678", status="all") == {f"t{leak.id}"}
    assert found(olga, "tickets", "79161234567", status="all") == {f"t{intercom.id}"}
    assert found(olga, "tickets", "Молодёжная", status="all") == {f"t{intercom.id}", f"t{leak.id}"}
    answer = olga.get("/tickets", query_string={"q": str(leak.number)})
    assert answer.status_code == 302 and answer.location.endswith(f"/tickets/{leak.number}")
    missing = olga.get("/tickets", query_string={"q": "№999"})
    assert missing.status_code == 200 and "Нет заявок с такими условиями." in missing.get_data(
        as_text=True
    )
    assert olga.get(f"/tickets/{leak.number}").status_code == 200


def test_the_desk_pages_with_counts_and_old_id_links_still_open(app, signed_in, staff):
    olga = signed_in("olga")
    now = utcnow()
    with Session(db.engine()) as session:
        session.execute(
            insert(Ticket),
            [
                {"company_id": staff.zarechye, "number": n, "text": f"заявка {n}", "problem": "other",
                 "category": "other", "priority": "normal", "status": "new", "filed_at": now,
                 "updated_at": now, "deadline_at": now + timedelta(days=1, minutes=n),
                 "emergency": False, "filed_nonworking": False, "working_hours": False,
                 "reopen_count": 0}
                for n in range(1, 122)
            ],
        )  # fmt: skip
        session.execute(
            insert(Ticket),
            [{"id": 777_777, "company_id": staff.zarechye, "number": 500, "text": "старая ссылка",
              "problem": "other", "category": "other", "priority": "normal", "status": "done",
              "filed_at": now, "updated_at": now, "deadline_at": now, "emergency": False,
              "filed_nonworking": False, "working_hours": False, "reopen_count": 0}],
        )  # fmt: skip
        session.commit()
    page = olga.get("/tickets").get_data(as_text=True)
    assert "1–50 из 121" in page and "страница 1 из 3" in page
    assert "Открытые (121)" in page and "Все (122)" in page
    last = olga.get("/tickets", query_string={"page": 3}).get_data(as_text=True)
    assert "101–121 из 121" in last and "№121<" in last and "№100<" not in last
    assert "101–121 из 121" in olga.get("/tickets?page=99").get_data(as_text=True)  # clamped
    assert len(found(olga, "tickets", "", page="2")) == 50
    old = olga.get("/tickets/777777")
    assert old.status_code == 301 and old.location.endswith("/tickets/500")
    assert "старая ссылка" in olga.get("/tickets/500").get_data(as_text=True)
    assert signed_in("anna").get("/tickets/777777").status_code == 404  # not Solnechny's


def test_a_ticket_made_from_a_residents_message(app, talk, staff, signed_in):
    olga = talk
    with Session(db.engine()) as session:
        message = session.exec(
            select(Message).where(Message.body.contains("не работает домофон"))
        ).one()
        stranger = session.exec(select(Message).where(Message.body.contains("домофоны"))).one()
    conversation = conversation_of(NEIGHBOUR)
    page = olga.get(f"/inbox/{conversation.id}").get_data(as_text=True)
    assert f"/tickets/new?message={message.id}" in page and "Заявок пока нет" in page
    form = olga.get(f"/tickets/new?message={message.id}").get_data(as_text=True)
    assert '<option value="intercom" selected>' in form  # smsbot.categories' guess
    assert "5012345679, кв. 149" in form  # the resident's account there
    data = {"message_id": message.id, "problem": "intercom", "text": "Домофон, подъезд 2",
            "account_id": "", "nonce": "n-1"}  # fmt: skip
    answer = post(olga, "/tickets/new", data)
    with Session(db.engine()) as session:
        ticket = session.exec(select(Ticket).where(Ticket.message_id == message.id)).one()
    assert answer.status_code == 302 and answer.location.endswith(f"/tickets/{ticket.number}")
    assert (ticket.problem, ticket.category, ticket.text) == (
        "intercom",
        "intercom",
        "Домофон, подъезд 2",
    )
    assert (
        ticket.assignee_id == staff.users["olga"] and ticket.resident_id == conversation.resident_id
    )
    told = outbound_messages(to_phone=NEIGHBOUR)[-1]
    assert told.template == "ticket_created" and f"заявка №{ticket.number}" in told.body.lower()
    again = post(olga, "/tickets/new", {**data, "nonce": "n-2"})  # the same message again
    assert again.location.endswith(f"/tickets/{ticket.number}")
    with Session(db.engine()) as session:
        assert session.exec(select(func.count()).select_from(Ticket)).one() == 1
    page = olga.get(f"/inbox/{conversation.id}").get_data(as_text=True)
    assert f"Заявка №{ticket.number}" in page and "Открытые заявки" in page
    # another company's message: not found, nothing filed
    assert olga.get(f"/tickets/new?message={stranger.id}").status_code == 404
    refused = post(olga, "/tickets/new", {**data, "message_id": stranger.id, "nonce": "n-3"})
    assert refused.status_code == 404
    bad = post(olga, "/tickets/new", {**data, "message_id": "x", "csrf_token": csrf_token(olga)})
    assert bad.status_code == 404
    with Session(db.engine()) as session:
        leak = session.exec(select(Message).where(Message.body.contains("Течёт кран"))).one()
    unknown = post(signed_in("igor"), "/tickets/new", {**data, "message_id": leak.id,
                   "problem": "nonsense", "nonce": "n-4"}, follow_redirects=True)  # fmt: skip
    assert "Неизвестная проблема." in unknown.get_data(as_text=True)
    with Session(db.engine()) as session:
        assert session.exec(select(func.count()).select_from(Ticket)).one() == 1


def test_words_are_found_when_the_first_window_of_recent_messages_misses_them(talk, monkeypatch):
    """PostgreSQL looks through the newest messages first and widens (search_filters)."""
    monkeypatch.setattr(search_filters, "WINDOW", 1)  # the newest message says nothing of it
    assert found(talk, "inbox", "домофона") == {thread(NEIGHBOUR)}
    assert found(talk, "inbox", "течет") == {thread(DEMO_PHONE)}


def test_odd_search_input_answers_with_a_page_not_an_error(talk):
    odd = ["\x00домофон", 'домофон" OR NEAR(*', "№", "№99999999", "'; DROP TABLE ticket; --",
           "🙂", "я" * 500, "   ", "+", "0"]  # fmt: skip
    for q in odd:
        for path in ("/inbox", "/inbox/live", "/tickets", "/tickets/live"):
            answer = talk.get(path, query_string={"q": q, "page": "-1", "company": "x"})
            assert answer.status_code in (200, 204, 302), (path, q, answer.status_code)
    assert found(talk, "inbox", "\x00домофона") == {thread(NEIGHBOUR)}  # the NUL is dropped


def test_a_residents_message_is_searched_once_the_worker_has_handled_it(app, signed_in):
    """The webhook only stores the message (issue #10: no stemming in its transaction); the
    handling that puts it in a conversation puts it in the index too (migration 0018)."""
    olga = signed_in("olga")
    _, response = post_inbound(olga, app, "Протекает потолок в ванной", from_phone=NEIGHBOUR)
    assert response.status_code == 200

    def matches() -> int:
        query = search.parse("потолок ванная")
        with Session(db.engine()) as session:
            condition = search_filters.text_match(
                db.engine().dialect.name, "message", "body", query
            )
            return session.exec(select(func.count()).select_from(Message).where(condition)).one()

    assert matches() == 0
    run_jobs(app)
    assert matches() == 1
    assert found(olga, "inbox", "потолок ванная") == {thread(NEIGHBOUR)}
