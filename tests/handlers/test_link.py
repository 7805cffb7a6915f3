"""Linking a phone by the code on the bill, lock-out after five failures, unlinking; a wrong
code and an unknown account give the same answer."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from smsbot import db
from smsbot.models import Account, AccountLink, AccountPhone, LinkAttempt
from tests.handlers.conftest import DEMO_PHONE, SHARED, STRANGER, one

ANOTHER = "+79031112244"


def test_an_unknown_phone_links_with_the_right_code_and_then_sees_its_balance(text):
    assert one(text("баланс", phone=STRANGER)).template == "link_howto"
    reply = one(text("привязать 5012345680 7710", phone=STRANGER))
    assert reply.template == "link_ok"
    assert (
        reply.body
        == "Готово: л/с …5680 (ул. Молодёжная, д. 12, корп. 2, кв. 150) привязан к этому номеру. Сумма к оплате: БАЛАНС"
    )
    assert "128\u00a0734,56" in one(text("баланс", phone=STRANGER)).body
    assert one(text("привязать 5012345680 7710", phone=STRANGER)).template == "link_already"
    with Session(db.engine()) as session:
        link = session.exec(select(AccountLink).where(AccountLink.source == "code")).one()
        assert link.account_id is not None


def test_a_wrong_code_and_an_unknown_account_get_the_same_answer(text):
    wrong_code = one(text("привязать 5012345680 0000", phone=STRANGER))
    unknown = one(text("привязать 5099999999 0000", phone=ANOTHER))
    assert wrong_code.template == unknown.template == "link_failed"
    assert (
        wrong_code.body
        == unknown.body
        == ("Неверный л/с или код, проверьте квитанцию. Осталось попыток: 4")
    )
    assert one(text("баланс", phone=STRANGER)).template == "link_howto"


def test_five_failures_lock_the_phone_out_until_a_day_later(text, clock):
    for left in (4, 3, 2, 1):
        assert one(text(f"привязать 50123456{left:02d} 1111", phone=STRANGER)).body.endswith(
            f"попыток: {left}"
        )
    first_failure = clock() - timedelta(seconds=0)
    locked = one(text("привязать 5012345600 1111", phone=STRANGER))
    assert locked.template == "link_locked" and locked.body.startswith(
        "Много неверных попыток. Привязать можно после "
    )
    # Locked: even the right code does not link, and says until when (Moscow time).
    right = one(text("привязать 5012345680 7710", phone=STRANGER))
    assert right.template == "link_locked" and right.body == locked.body
    with Session(db.engine()) as session:
        attempts = session.exec(select(LinkAttempt).order_by(LinkAttempt.id)).all()
        assert len(attempts) == 5  # attempts while locked are not even checked
        unlock = attempts[0].created_at + timedelta(hours=24)
    from smsbot.templates import _datetime

    assert _datetime(unlock, "Europe/Moscow") in locked.body
    assert first_failure <= unlock
    clock.advance(timedelta(hours=24, minutes=1))
    assert one(text("привязать 5012345680 7710", phone=STRANGER)).template == "link_ok"


def test_an_account_number_many_phones_guess_at_is_locked_too(text):
    for n in range(10):
        text(f"привязать 5012345680 {1000 + n}", phone=f"+7903111{n:04d}")
    assert one(text("привязать 5012345680 7710", phone=STRANGER)).template == "link_locked"
    assert one(text("привязать 5012345690 3301", phone=STRANGER)).template == "link_ok"


def test_link_needs_both_numbers(text):
    assert one(text("привязать 5012345680", phone=STRANGER)).template == "link_format"
    assert one(text("привязать", phone=STRANGER)).template == "link_format"


def test_unlink_sticks_even_for_a_billing_phone(text):
    reply = one(text("отвязать 5012345678", to=SHARED))
    assert reply.body == "Л/с …5678, кв. 148 отвязан. Вернуть: ПРИВЯЗАТЬ <л/с> <код>"
    # The billing export still lists the phone, but it must not link back.
    assert "12\u00a0890,00" in one(text("баланс", to=SHARED)).body  # only Солнечный is left
    assert "12\u00a0890,00" in one(text("баланс")).body
    assert one(text("привязать 5012345678 4821")).template == "link_ok"  # the code links it again
    assert "3\u00a0450,20" in one(text("баланс")).body


def test_unlink_by_index_and_unknown(text):
    assert one(text("отвязать 2", to=SHARED)).body.startswith("Л/с …1001, кв. 56 отвязан")
    assert one(text("отвязать 5012345679")).template == "account_unknown"
    assert one(text("отвязать")).template == "unlink_format"
    assert one(text("отвязать 1", phone=STRANGER)).template == "link_howto"


def test_linking_in_english(text):
    text("english", phone=STRANGER)
    assert one(text("link 5012345680 0000", phone=STRANGER)).body.startswith(
        "Could not link: wrong account"
    )
    assert one(text("link 5012345680 7710", phone=STRANGER)).body.startswith(
        "Done: ul. Molodezhnaia, d. 12"
    )


def test_the_demo_phone_is_linked_by_billing_on_its_first_message(text):
    text("помощь")
    with Session(db.engine()) as session:
        links = session.exec(select(AccountLink).where(AccountLink.source == "billing")).all()
    assert len(links) == 2 and DEMO_PHONE


def test_an_account_the_billing_export_adds_later_links_on_the_next_message(text):
    """The worker's claim tells whether a sender has billing links waiting
    (residents.billing_waits); one already linked must still get an account listed later,
    though another resident has linked that account already (a flat's second phone)."""
    text("помощь")
    assert one(text("привязать 5012345680 7710", phone=STRANGER)).template == "link_ok"
    with Session(db.engine()) as session:
        account = session.exec(select(Account).where(Account.number == "5012345680")).one()
        session.add(AccountPhone(account_id=account.id, phone=DEMO_PHONE))
        session.commit()
        account_id = account.id
    text("помощь")
    with Session(db.engine()) as session:
        links = session.exec(select(AccountLink).where(AccountLink.source == "billing")).all()
    assert len(links) == 3 and account_id in {link.account_id for link in links}


def test_five_wrong_codes_from_five_phones_lock_the_account(text):
    phones = [f"+7903555{n:04d}" for n in range(6)]
    for n, phone in enumerate(phones[:4]):
        reply = one(text(f"привязать 5012345680 {1000 + n}", phone=phone))
        assert reply.template == "link_failed"
        assert f"попыток: {4 - n}" in reply.body  # the account's tries run out, not each phone's
    assert one(text("привязать 5012345680 1004", phone=phones[4])).template == "link_locked"
    # Locked for everyone, the right code too; a sixth phone gets no fresh tries.
    assert one(text("привязать 5012345680 7710", phone=phones[5])).template == "link_locked"
    # The phones themselves are not locked: each failed once, and other accounts still link.
    assert one(text("привязать 5012345690 3301", phone=phones[0])).template == "link_ok"
    # As reported: one phone failing five times left a second phone four tries; none now.
    for n in range(5):
        text(f"привязать 7020001001 {2000 + n}", phone=STRANGER)
    assert one(text("привязать 7020001001 2005", phone=ANOTHER)).template == "link_locked"
