"""The dispatcher sees linking lock-outs in a thread; a company admin of that company (and
only one) lifts them, and the resident can link again."""

from __future__ import annotations

from sqlmodel import Session, select

from smsbot import db
from smsbot.models import AccountLink, LinkAttempt
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound
from tests.web.staff.conftest import post
from tests.web.staff.test_inbox import conversation_of

GUESSERS = [f"+7903555{n:04d}" for n in range(5)]


def writes(client, app, body: str, phone: str) -> list:  # noqa: ANN001
    sid, response = post_inbound(client, app, body, from_phone=phone)
    assert response.status_code == 200
    run_jobs(app)
    with Session(db.engine()) as session:
        from smsbot.models import Message

        inbound = session.exec(select(Message).where(Message.external_id == sid)).one()
    return outbound_messages(reply_to_id=inbound.id)


def test_a_locked_account_is_marked_in_the_thread_and_an_admin_unlocks_it(app, signed_in, staff):
    olga, igor, boris = signed_in("olga"), signed_in("igor"), signed_in("boris")
    for n, phone in enumerate(GUESSERS):
        writes(olga, app, f"привязать 5012345680 {1000 + n}", phone)
    thread = f"/inbox/{conversation_of(GUESSERS[-1]).id}"
    page = olga.get(thread).get_data(as_text=True)
    assert 'data-testid="link-locked"' in page
    assert "Л/с 5012345680: привязка заблокирована до" in page
    assert "неверных кодов: 5, с телефонов: 5." in page
    assert 'data-testid="unlock"' not in page  # a dispatcher sees it, an admin lifts it
    assert post(olga, f"{thread}/unlock", {"number": "5012345680"}).status_code == 403
    assert post(boris, f"{thread}/unlock", {"number": "5012345680"}).status_code == 404
    assert 'data-testid="unlock"' in igor.get(thread).get_data(as_text=True)
    assert post(igor, f"{thread}/unlock", {"number": "7020001001"}).status_code == 404  # Солнечный
    # The inbox lists the company's locked accounts; the other company's staff see none.
    inbox = olga.get("/inbox").get_data(as_text=True)
    assert 'data-testid="locked-accounts"' in inbox and "Л/с 5012345680" in inbox
    assert 'data-testid="unlock"' not in inbox
    assert 'data-testid="locked-accounts"' not in boris.get("/inbox").get_data(as_text=True)
    assert post(boris, "/inbox/unlock", {"number": "5012345680"}).status_code == 404
    assert post(olga, "/inbox/unlock", {"number": "5012345680"}).status_code == 403
    assert post(igor, "/inbox/unlock", {"number": "5012345680"}).status_code == 302
    assert 'data-testid="link-locked"' not in olga.get(thread).get_data(as_text=True)
    assert 'data-testid="locked-accounts"' not in olga.get("/inbox").get_data(as_text=True)
    with Session(db.engine()) as session:
        attempts = session.exec(select(LinkAttempt)).all()
        assert len(attempts) == 5  # kept, marked cleared and by whom
        assert {a.cleared_by_id for a in attempts} == {staff.users["igor"]}
    [linked] = writes(olga, app, "привязать 5012345680 7710", GUESSERS[0])
    assert linked.template == "link_ok"
    with Session(db.engine()) as session:
        assert session.exec(select(AccountLink).where(AccountLink.source == "code")).one()


def test_a_locked_phone_is_marked_and_unlocked(app, signed_in):
    olga, igor = signed_in("olga"), signed_in("igor")
    for n in range(5):
        writes(olga, app, f"привязать 50123456{n:02d} 1111", GUESSERS[0])
    thread = f"/inbox/{conversation_of(GUESSERS[0]).id}"
    assert "Этот телефон: привязка заблокирована до" in olga.get(thread).get_data(as_text=True)
    assert post(igor, f"{thread}/unlock").status_code == 302
    [linked] = writes(olga, app, "привязать 5012345680 7710", GUESSERS[0])
    assert linked.template == "link_ok"
