"""Working fast at the desk: emergencies pinned on top, labels, waiting for the resident, and
bulk close and assign, each within the user's own company."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from smsbot import clock, db
from smsbot.models import Conversation, ConversationLabel, Label, Ticket
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound
from tests.web.staff.conftest import post
from tests.web.staff.test_inbox import DEMO_PHONE, NEIGHBOUR, conversation_of

GAS = "Пахнет газом в подъезде"


def write(client, app, body: str, phone: str, *more: tuple[str, str]) -> Conversation:  # noqa: ANN001
    """Residents' SMS (`more`: further (text, phone)), handled in one go; the first's thread."""
    for text, sender in ((body, phone), *more):
        _, response = post_inbound(client, app, text, from_phone=sender)
        assert response.status_code == 200
    run_jobs(app)
    return conversation_of(phone)


def keys_in_order(page: str) -> list[str]:
    import re

    return re.findall(r'data-key="(c\d+)"', page)


def test_an_emergency_is_pinned_until_a_person_answers(app, signed_in):
    olga = signed_in("olga")
    alarm = write(olga, app, GAS, NEIGHBOUR, ("Когда будет перерасчёт?", DEMO_PHONE))
    chat = conversation_of(DEMO_PHONE)  # newer (a higher id at the same time), but no danger
    page = olga.get("/inbox").get_data(as_text=True)
    assert keys_in_order(page)[:2] == [f"c{alarm.id}", f"c{chat.id}"]
    assert "Авария: газ" in page
    alerts = olga.get("/inbox/alerts/live").get_json()["alerts"]
    assert alerts == {"unread": 2, "emergencies": [alarm.id]}

    post(olga, f"/inbox/{alarm.id}/reply", {"body": "Аварийная служба выехала"})
    page = olga.get("/inbox").get_data(as_text=True)
    assert "Авария" not in page  # answered: an ordinary thread, by time (the reply made it newest)
    assert olga.get("/inbox/alerts/live").get_json()["alerts"]["emergencies"] == []


def test_labels_are_the_company_s_own_and_filter_the_inbox(app, signed_in, staff):
    olga, anna = signed_in("olga"), signed_in("anna")
    conversation = write(olga, app, "Показания счётчика 123", NEIGHBOUR, ("Вопрос", DEMO_PHONE))
    other = conversation_of(DEMO_PHONE)
    post(olga, "/inbox/labels", {"name": "  Счётчики  "})
    post(olga, "/inbox/labels", {"name": "счётчики"})  # the same name again: refused
    post(anna, "/inbox/labels", {"name": "Счётчики"})  # another company may have its own
    with Session(db.engine()) as session:
        labels = {(lb.company_id, lb.name): lb.id for lb in session.exec(select(Label))}
    assert labels.keys() == {(staff.zarechye, "Счётчики"), (staff.solnechny, "Счётчики")}
    ours, theirs = labels[(staff.zarechye, "Счётчики")], labels[(staff.solnechny, "Счётчики")]

    assert (
        post(olga, f"/inbox/labels/on/{conversation.id}", {"label_id": theirs}).status_code == 302
    )
    assert (
        post(anna, f"/inbox/labels/on/{conversation.id}", {"label_id": theirs}).status_code == 404
    )
    assert post(olga, f"/inbox/labels/{theirs}/delete").status_code == 404
    with Session(db.engine()) as session:
        assert session.exec(select(ConversationLabel)).all() == []  # refused, nothing stored

    post(olga, f"/inbox/labels/on/{conversation.id}", {"label_id": ours})
    assert f"c{conversation.id}" in keys_in_order(
        olga.get(f"/inbox?label={ours}").get_data(as_text=True)
    )
    filtered = keys_in_order(olga.get(f"/inbox?label={ours}").get_data(as_text=True))
    assert filtered == [f"c{conversation.id}"] and f"c{other.id}" not in filtered
    assert keys_in_order(anna.get(f"/inbox?label={ours}").get_data(as_text=True)) == []

    post(olga, f"/inbox/labels/{ours}/delete")
    with Session(db.engine()) as session:
        assert session.exec(select(ConversationLabel)).all() == []


def test_waiting_for_the_resident_ends_when_they_write_or_the_day_comes(
    app, signed_in, monkeypatch
):
    olga = signed_in("olga")
    conversation = write(olga, app, "Пришлю фото счётчика позже", NEIGHBOUR)
    assert post(olga, f"/inbox/{conversation.id}/wait", {"until": "1999-01-01"}).status_code == 302
    assert conversation_of(NEIGHBOUR).status == "open"  # a day in the past: refused
    assert post(olga, f"/inbox/{conversation.id}/wait", {"until": "31.12"}).status_code == 400

    post(olga, f"/inbox/{conversation.id}/wait")  # until they write
    assert conversation_of(NEIGHBOUR).status == "waiting"
    assert f"c{conversation.id}" not in keys_in_order(olga.get("/inbox").get_data(as_text=True))
    assert f"c{conversation.id}" in keys_in_order(
        olga.get("/inbox?view=waiting").get_data(as_text=True)
    )
    write(olga, app, "Вот показания: 345", NEIGHBOUR)
    assert conversation_of(NEIGHBOUR).status == "open"
    assert f"c{conversation.id}" in keys_in_order(olga.get("/inbox").get_data(as_text=True))

    tomorrow = (clock.utcnow() + timedelta(days=1)).date().isoformat()
    post(olga, f"/inbox/{conversation.id}/wait", {"until": tomorrow})
    assert f"c{conversation.id}" not in keys_in_order(olga.get("/inbox").get_data(as_text=True))
    later = clock.utcnow() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)  # the day came, no answer: back, marked
    page = olga.get("/inbox").get_data(as_text=True)
    assert f"c{conversation.id}" in keys_in_order(page) and "житель не ответил" in page


def test_bulk_close_and_assign_stay_within_the_company(app, signed_in, staff):
    olga, anna = signed_in("olga"), signed_in("anna")
    first = write(olga, app, "Вопрос один", NEIGHBOUR, ("Вопрос два", DEMO_PHONE),
                  ("заявка течёт кран на кухне", NEIGHBOUR))  # fmt: skip
    second = conversation_of(DEMO_PHONE)
    both = {"ids": [first.id, second.id]}

    assert post(anna, "/inbox/bulk", {**both, "action": "close"}).status_code == 404
    refused = post(
        olga, "/inbox/bulk", {**both, "action": "assign", "assignee_id": staff.users["anna"]}
    )
    assert refused.status_code == 302  # another company's dispatcher: refused, nothing changed
    assert {conversation_of(p).assignee_id for p in (NEIGHBOUR, DEMO_PHONE)} == {None}
    assert post(olga, "/inbox/bulk", {"ids": ["x"], "action": "close"}).status_code == 400
    assert post(olga, "/inbox/bulk", {**both, "action": "explode"}).status_code == 400

    post(olga, "/inbox/bulk", {**both, "action": "assign", "assignee_id": "me", "next": "/inbox"})
    assert {conversation_of(p).assignee_id for p in (NEIGHBOUR, DEMO_PHONE)} == {
        staff.users["olga"]
    }
    done = post(olga, "/inbox/bulk", {**both, "action": "close", "next": "/inbox?view=all"})
    assert done.headers["Location"].endswith("/inbox?view=all")
    assert {conversation_of(p).status for p in (NEIGHBOUR, DEMO_PHONE)} == {"closed"}
    assert "Закрыто 2 диалога." in olga.get("/inbox").get_data(as_text=True)

    with Session(db.engine()) as session:
        ticket = session.exec(select(Ticket)).one()
    assert post(anna, "/tickets/bulk", {"ids": [ticket.id], "action": "done"}).status_code == 404
    post(olga, "/tickets/bulk", {"ids": [ticket.id], "action": "done"})  # a new ticket: left
    with Session(db.engine()) as session:
        assert session.get(Ticket, ticket.id).status == "new"
    post(olga, f"/tickets/{ticket.number}/status", {"to": "accepted"})
    sent = len(outbound_messages(to_phone=NEIGHBOUR))
    post(olga, "/tickets/bulk", {"ids": [ticket.id], "action": "done"})
    with Session(db.engine()) as session:
        assert session.get(Ticket, ticket.id).status == "done"
    assert len(outbound_messages(to_phone=NEIGHBOUR)) == sent + 1  # the resident is told
