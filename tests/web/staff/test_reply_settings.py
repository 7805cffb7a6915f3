"""The company admin's replies page: segments per SMS over the last 30 days (own company
only, paid messages only), and the switch to transliterated bot replies."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event
from sqlmodel import Session

from smsbot import db, outgoing
from smsbot.clock import utcnow
from smsbot.models import KIND_DISPATCHER, KIND_REPLY, OUT_CANCELED, OUT_DELIVERED, Company, Message
from tests.web.staff.conftest import post


def company(company_id: int) -> Company:
    with Session(db.engine()) as session:
        return session.get(Company, company_id)


def sent(
    company_id: int, kind: str, segments: int, *, days_ago: float = 1, status: str = OUT_DELIVERED
) -> dict:
    at = utcnow() - timedelta(days=days_ago)
    return {"direction": "out", "status": status, "kind": kind, "from_phone": "+74951230001",
            "to_phone": "+79851234567", "body": "x", "num_segments": segments,
            "company_id": company_id, "attempts": 0, "created_at": at, "updated_at": at}  # fmt: skip


def test_the_average_counts_this_company_last_30_days_and_only_what_was_paid(app, signed_in, staff):
    rows = [
        sent(staff.zarechye, KIND_REPLY, 1),
        sent(staff.zarechye, KIND_REPLY, 2),
        sent(staff.zarechye, KIND_REPLY, 2),
        sent(staff.zarechye, KIND_DISPATCHER, 3),
        sent(staff.zarechye, KIND_REPLY, 9, days_ago=31),  # older than the window
        sent(staff.zarechye, KIND_REPLY, 9, status=OUT_CANCELED),  # never sent, never paid
        sent(staff.solnechny, KIND_REPLY, 7),  # the other company's
    ]
    with Session(db.writer()) as session:
        session.execute(Message.__table__.insert(), rows)
        session.commit()
    statements = []
    engine = db.engine()

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        if "FROM message" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = signed_in("igor").get("/settings/replies").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert 'data-testid="average-reply">1.67<' in page  # (1 + 2 + 2) / 3
    assert 'data-testid="average-dispatcher">3.00<' in page
    assert 'data-testid="average-notice">—<' in page
    assert len(statements) == 1 and "company_id" in statements[0]  # one aggregate, scoped
    other = signed_in("boris").get("/settings/replies").get_data(as_text=True)
    assert 'data-testid="average-reply">7.00<' in other


def test_an_admin_turns_on_transliteration_and_the_next_reply_is_latin(app, signed_in, staff):
    igor = signed_in("igor")
    page = igor.get("/settings/replies").get_data(as_text=True)
    assert "Ответы транслитом" in page and "K oplate 3 450,20 rub" in page  # the example, both ways
    response = post(igor, "/settings/replies", {"transliterate": "on"}, follow_redirects=True)
    assert "Сохранено" in response.get_data(as_text=True)
    assert company(staff.zarechye).transliterate and not company(staff.solnechny).transliterate
    with Session(db.writer()) as session:
        reply = outgoing.compose(
            session, kind=KIND_REPLY, to_phone="+79851234567", template="chat_ack",
            company=session.get(Company, staff.zarechye),
        )  # fmt: skip
        assert reply.encoding == "GSM-7" and reply.body.startswith("Soobshchenie peredano")
        session.rollback()
    post(igor, "/settings/replies", {})  # unticked: back to Cyrillic
    assert not company(staff.zarechye).transliterate


def test_only_admins_see_and_change_reply_settings(app, signed_in, staff):
    for login in ("olga", "inspector"):
        client = signed_in(login)
        assert client.get("/settings/replies").status_code == 403
        assert post(client, "/settings/replies", {"transliterate": "on"}).status_code == 403
    assert not company(staff.zarechye).transliterate
