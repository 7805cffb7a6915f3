"""The inbox: threads with delivery states, replies through the sender, notes, assignment."""

from __future__ import annotations

import re

from rq import Queue
from sqlmodel import Session, select

from smsbot import db, queues
from smsbot.models import KIND_DISPATCHER, Conversation, ConversationNote, Message, Resident
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound
from tests.web.staff.conftest import post

DEMO_PHONE = "+79851234567"
NEIGHBOUR = "+79161234567"  # billing phone of flat 149 at Zarechye


def conversation_of(phone: str) -> Conversation:
    with Session(db.engine()) as session:
        return session.exec(
            select(Conversation)
            .join(Resident, Resident.id == Conversation.resident_id)
            .where(Resident.phone == phone)
        ).one()


def resident_writes(client, app, body: str, phone: str = NEIGHBOUR) -> Conversation:  # noqa: ANN001
    _, response = post_inbound(client, app, body, from_phone=phone)
    assert response.status_code == 200
    run_jobs(app)
    return conversation_of(phone)


def test_inbox_lists_conversations_with_account_address_and_unread(app, signed_in):
    olga = signed_in("olga")
    resident_writes(olga, app, "Когда починят лифт во втором подъезде?")
    resident_writes(olga, app, "И ещё домофон не работает")
    page = olga.get("/inbox").get_data(as_text=True)
    assert NEIGHBOUR in page
    assert "И ещё домофон не работает" in page  # the newest message as the preview
    assert "5012345679" in page and "кв. 149" in page and "ул. Молодёжная, д. 12" in page
    assert re.search(r'<span class="badge" title="Непрочитанные">2</span>', page)


def test_thread_shows_every_message_with_its_delivery_state(app, signed_in):
    olga = signed_in("olga")
    conversation = resident_writes(olga, app, "Когда починят лифт?")
    with Session(db.engine()) as session:  # the carrier gave up on the bot's acknowledgement
        ack = session.exec(
            select(Message).where(
                Message.conversation_id == conversation.id, Message.direction == "out"
            )
        ).one()
        ack.status, ack.error_code, ack.error_message = (
            "undelivered",
            30003,
            "Unreachable destination handset",
        )
        session.add(ack)
        session.commit()
    page = olga.get(f"/inbox/{conversation.id}").get_data(as_text=True)
    assert "Когда починят лифт?" in page
    assert "Сообщение передано диспетчеру" in page  # the bot's reply, in the same thread
    assert "не доставлено" in page and "Unreachable destination handset" in page and "30003" in page
    assert conversation_of(NEIGHBOUR).unread == 0  # opening the thread read it


def test_reply_goes_through_the_queue_and_sender_and_reaches_delivered(app, signed_in, staff):
    olga = signed_in("olga")
    conversation = resident_writes(olga, app, "Когда починят лифт?")
    response = post(
        olga, f"/inbox/{conversation.id}/reply", {"body": "Завтра до 12:00.\r\nДиспетчер Ольга"}
    )
    assert response.status_code == 302
    [reply] = outbound_messages(kind=KIND_DISPATCHER)
    assert reply.status == "queued" and reply.author_id == staff.users["olga"]
    assert (
        reply.body == "Завтра до 12:00.\nДиспетчер Ольга"
    )  # CRLF from the textarea, LF as counted
    assert reply.from_phone == "+74951230001" and reply.to_phone == NEIGHBOUR
    assert reply.num_segments == 1 and reply.encoding == "UCS-2"
    [job] = Queue(queues.OUTBOUND_QUEUE, connection=queues.connection()).jobs
    assert job.func_name == "smsbot.jobs.send_waiting" and job.args[0] == "outbox"  # its sender

    run_jobs(app)  # the local outbox "delivers" at once
    [reply] = outbound_messages(kind=KIND_DISPATCHER)
    assert reply.status == "delivered"
    page = olga.get(f"/inbox/{conversation.id}").get_data(as_text=True)
    assert "Завтра до 12:00." in page and "доставлено" in page and "Ольга Петрова" in page
    assert conversation_of(NEIGHBOUR).assignee_id == staff.users["olga"]  # who answers, owns it


def test_a_double_click_sends_one_reply(app, signed_in):
    olga = signed_in("olga")
    conversation = resident_writes(olga, app, "Алло?")
    for _ in range(2):
        post(olga, f"/inbox/{conversation.id}/reply", {"body": "Слушаю вас", "nonce": "form-1"})
    assert len(outbound_messages(kind=KIND_DISPATCHER)) == 1


def test_reply_to_an_opted_out_resident_is_refused_with_a_reason(app, signed_in):
    olga = signed_in("olga")
    conversation = resident_writes(olga, app, "Вопрос по счёту")
    with Session(db.engine()) as session:
        resident = session.get(Resident, conversation.resident_id)
        resident.opted_out = True
        session.add(resident)
        session.commit()
    response = post(olga, f"/inbox/{conversation.id}/reply", {"body": "Ответ на ваш вопрос"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "житель отписался от SMS" in page and "СТАРТ" in page
    assert "Ответ на ваш вопрос" in page  # the draft is kept
    assert outbound_messages(kind=KIND_DISPATCHER) == []


def test_notes_are_shown_to_staff_and_never_sent(app, signed_in):
    olga = signed_in("olga")
    conversation = resident_writes(olga, app, "Течёт с потолка")
    sent_before = len(outbound_messages())
    post(
        olga,
        f"/inbox/{conversation.id}/note",
        {"body": "Сосед сверху не открывает, звонить вечером"},
    )
    assert len(outbound_messages()) == sent_before
    with Session(db.engine()) as session:
        [note] = session.exec(select(ConversationNote)).all()
    assert note.body.startswith("Сосед сверху")
    assert "Сосед сверху не открывает" in olga.get(f"/inbox/{conversation.id}").get_data(
        as_text=True
    )


def test_assign_close_and_reopen(app, signed_in, staff):
    olga = signed_in("olga")
    conversation = resident_writes(olga, app, "Вопрос")
    post(olga, f"/inbox/{conversation.id}/assign", {"assignee_id": str(staff.users["igor"])})
    assert conversation_of(NEIGHBOUR).assignee_id == staff.users["igor"]
    other = post(
        olga,
        f"/inbox/{conversation.id}/assign",
        {"assignee_id": str(staff.users["anna"])},  # other company
        follow_redirects=True,
    )
    assert conversation_of(NEIGHBOUR).assignee_id == staff.users["igor"]
    assert "Назначить можно только действующего диспетчера" in other.get_data(as_text=True)
    assert "Игорь Смирнов" in olga.get("/inbox?view=all").get_data(as_text=True)
    assert NEIGHBOUR not in olga.get("/inbox?view=mine").get_data(as_text=True)

    post(olga, f"/inbox/{conversation.id}/close")
    assert conversation_of(NEIGHBOUR).status == "closed"
    assert NEIGHBOUR not in olga.get("/inbox").get_data(as_text=True)
    assert NEIGHBOUR in olga.get("/inbox?view=closed").get_data(as_text=True)
    post(olga, f"/inbox/{conversation.id}/reopen")
    assert conversation_of(NEIGHBOUR).status == "open"

    post(olga, f"/inbox/{conversation.id}/close")
    resident_writes(olga, app, "Опять сломалось")  # the resident's next message opens it again
    assert conversation_of(NEIGHBOUR).status == "open"


def test_live_updates_answer_204_until_something_changes(app, signed_in):
    olga = signed_in("olga")
    conversation = resident_writes(olga, app, "Первое")
    first = olga.get(f"/inbox/{conversation.id}/live").get_json()
    assert [item["key"] for item in first["lists"]["timeline"]][0].startswith("m")
    again = olga.get(f"/inbox/{conversation.id}/live?v={first['version']}")
    assert again.status_code == 204
    resident_writes(olga, app, "Второе")
    changed = olga.get(f"/inbox/{conversation.id}/live?v={first['version']}")
    assert changed.status_code == 200 and "Второе" in str(changed.get_json()["lists"])

    inbox = olga.get("/inbox/live").get_json()
    assert any("Второе" in row["html"] for row in inbox["lists"]["conversations"])


def test_resident_text_is_always_escaped(app, signed_in):
    olga = signed_in("olga")
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    conversation = resident_writes(olga, app, evil)
    for page in (
        olga.get("/inbox").get_data(as_text=True),
        olga.get(f"/inbox/{conversation.id}").get_data(as_text=True),
        str(olga.get(f"/inbox/{conversation.id}/live").get_json()),
    ):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page


def test_inspectors_read_but_change_nothing(app, signed_in):
    olga = signed_in("olga")
    conversation = resident_writes(olga, app, "Вопрос")
    inspector = signed_in("inspector")
    page = inspector.get(f"/inbox/{conversation.id}")
    assert page.status_code == 200 and "Отправить SMS" not in page.get_data(as_text=True)
    for action in ("reply", "note", "assign", "close", "reopen", "read"):
        assert (
            post(inspector, f"/inbox/{conversation.id}/{action}", {"body": "x"}).status_code == 403
        ), action
    assert conversation_of(NEIGHBOUR).unread == 1  # looking did not mark it read for the company


def test_canned_replies_are_offered_in_the_reply_box(app, signed_in):
    igor = signed_in("igor")
    post(igor, "/canned", {"title": "Мастер придёт", "body": "Мастер придёт завтра с 9 до 12."})
    conversation = resident_writes(igor, app, "Когда придёт мастер?")
    page = signed_in("olga").get(f"/inbox/{conversation.id}").get_data(as_text=True)
    assert '<option value="Мастер придёт завтра с 9 до 12.">Мастер придёт</option>' in page
    assert (
        signed_in("olga").get("/canned").status_code == 403
    )  # dispatchers use them, admins keep them
