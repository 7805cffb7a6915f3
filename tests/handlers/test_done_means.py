"""Issue 3, "done means": the demo phone gets a correct balance, debt breakdown, numbers, a
filed ticket with its number and deadline, its status, an accepted and a refused meter
reading and the help text, in Russian and in English; an unknown phone links with the right
code and not with a wrong one, and is locked out; `газон` raises no alarm, `пахнет газом`
does. (Template budgets: tests/test_templates.py; the import: tests/test_billing_import.py.)"""

from __future__ import annotations

from smsbot.templates import _datetime, _daytime
from tests.handlers.conftest import STRANGER, one
from tests.handlers.test_ticket import all_tickets


def test_the_demo_phone_in_russian(text):
    assert one(text("баланс")).body.startswith("К оплате 3\u00a0450,20\u00a0₽ на 01.11.2026")
    debt = one(text("долг")).body.splitlines()
    assert (
        debt[0].startswith("Долг 3\u00a0450,20\u00a0₽") and "ХВС 356,10" in debt and len(debt) == 8
    )
    contacts = one(text("телефоны")).body
    assert "+7 495 777-01-01" in contacts and "+7 495 777-01-99" in contacts and "112" in contacts
    filed = one(text("заявка течёт кран на кухне")).body
    [ticket] = all_tickets()
    deadline = _datetime(ticket.deadline_at, "Europe/Moscow")
    assert (
        filed
        == f"Принята заявка №{ticket.number} (сантехника), срок до {_daytime(ticket.deadline_at, 'Europe/Moscow')}"
    )
    status = one(text(f"статус {ticket.number}")).body
    assert status.startswith(f"Заявка №{ticket.number} (сантехника)") and deadline in status
    assert one(text("показания хвс 123,4 гвс 45")).body.endswith("Приняты: ХВС 123,4; ГВС 45.")
    assert "меньше прошлого" in one(text("показания хвс 100")).body
    assert one(text("помощь")).body.startswith("БАЛАНС, ДОЛГ, ТЕЛЕФОНЫ")


def test_the_demo_phone_in_english(text):
    one(text("english"))
    assert one(text("balance")).body.startswith("Due 3 450,20 rub as of 01.11.2026")
    assert "Cold water 356,10" in one(text("debt")).body
    assert "+7 495 777-01-99" in one(text("contacts")).body
    filed = one(text("ticket the entrance door lock is broken")).body
    [ticket] = all_tickets()
    assert filed.startswith(f"Ticket {ticket.number} received (other). Due by ")
    assert one(text(f"status {ticket.number}")).body.startswith(f"Ticket {ticket.number} (other)")
    assert one(text("meter cw 123.4 hw 45")).body.endswith("Accepted: CW 123.4; HW 45.")
    assert "below the last reading" in one(text("meter cw 100")).body
    assert one(text("help")).body.startswith("BALANCE, DEBT, CONTACTS")


def test_an_unknown_phone_links_only_with_the_right_code_and_is_locked_out(text):
    assert one(text("привязать 5012345680 1234", phone=STRANGER)).template == "link_failed"
    assert one(text("привязать 5012345680 7710", phone=STRANGER)).template == "link_ok"
    for _ in range(4):
        text("привязать 5012345690 0000", phone=STRANGER)
    assert one(text("привязать 5012345690 3301", phone=STRANGER)).template == "link_locked"


def test_gazon_is_not_gas(text):
    assert one(text("газон во дворе не косят")).template == "chat_ack"
    assert one(text("пахнет газом")).template == "emergency"
