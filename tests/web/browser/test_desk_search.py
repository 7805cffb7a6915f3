"""The desk's search box, its pages and a ticket made from a message, as a dispatcher uses
them: a word finds its other forms, a number opens its ticket, a thousand tickets page."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import insert
from sqlmodel import Session, select

from smsbot import db
from smsbot.clock import utcnow
from smsbot.models import Company, Ticket
from tests.web.browser.conftest import shot, sign_in
from tests.web.browser.test_tickets import sms_to

NEIGHBOUR = "+79161234567"
DEMO_PHONE = "+79851234567"


def search(page, box: str, text: str) -> None:  # noqa: ANN001
    page.fill(f"[data-testid={box}]", text)
    page.press(f"[data-testid={box}]", "Enter")


def test_a_word_finds_its_thread_a_ticket_is_made_from_it_and_a_number_opens_a_ticket(
    service, page
):
    service.text("Здравствуйте, у нас во втором подъезде не открывается домофон", NEIGHBOUR)
    service.text("Заявка: течёт кран на кухне", DEMO_PHONE)
    sign_in(page, service, "olga")
    expect(page.locator("li.conversation")).to_have_count(2)
    search(page, "inbox-search", "домофона")  # another form of the word in the message
    expect(page.locator("[data-testid=search-hint]")).to_contain_text("Найдено по «домофона»: 1")
    expect(page.locator("li.conversation")).to_have_count(1)
    shot(page, "inbox-search")

    page.locator("li.conversation", has_text=NEIGHBOUR).click()
    expect(page.locator("[data-testid=resident-tickets]")).to_contain_text("Заявок пока нет")
    page.click("[data-testid=make-ticket]")
    expect(page.locator("[data-testid=ticket-problem]")).to_have_value("intercom")
    expect(page.locator("#ticket-text")).to_have_value(re.compile("не открывается домофон"))
    expect(page.locator("#ticket-account")).to_contain_text("5012345679, кв. 149")
    shot(page, "ticket-from-message")
    page.click("[data-testid=file-ticket]")
    page.wait_for_url(re.compile(r"/tickets/\d+$"))
    number = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("новая")
    expect(page.locator(".facts")).to_contain_text("Домофон")
    assert f"заявка №{number}" in sms_to(service, NEIGHBOUR, f"№{number}")["body"].lower()
    page.click(".facts a")  # the resident's phone leads back to the thread
    expect(page.locator("[data-testid=message-ticket]")).to_have_text(f"Заявка №{number}")
    expect(page.locator("[data-testid=resident-tickets]")).to_contain_text(f"№{number}")

    with Session(db.engine()) as session:
        leak = session.exec(select(Ticket.number).where(Ticket.text.contains("кран"))).one()
    page.goto(service.url + "/inbox")
    search(page, "inbox-search", f"№{leak}")  # a ticket number opens the ticket
    page.wait_for_url(re.compile(rf"/tickets/{leak}$"))
    expect(page.locator(".sms-preview")).to_contain_text("течёт кран")


def test_paging_through_a_thousand_tickets(service, page):
    now = utcnow()
    with Session(db.engine()) as session:
        company = session.exec(select(Company).where(Company.slug == "uk-zarechye")).one()
        session.execute(
            insert(Ticket),
            [
                {"company_id": company.id, "number": n, "text": f"Заявка жителя номер {n}",
                 "problem": "other", "category": "other", "priority": "normal", "status": "new",
                 "filed_at": now - timedelta(minutes=n), "updated_at": now,
                 "deadline_at": now + timedelta(days=1, minutes=n), "emergency": False,
                 "filed_nonworking": False, "working_hours": False, "reopen_count": 0}
                for n in range(1, 1001)
            ],
        )  # fmt: skip
        session.commit()
    sign_in(page, service, "olga")
    page.goto(service.url + "/tickets")
    expect(page.locator("[data-testid=page-range]")).to_have_text("1–50 из 1000")
    expect(page.locator("tr[data-key]")).to_have_count(50)
    expect(page.locator("tr[data-key]").first).to_contain_text("№1")
    page.click("[data-testid=page-next]")
    expect(page.locator("[data-testid=page-range]")).to_have_text("51–100 из 1000")
    expect(page.locator("tr[data-key]").first).to_contain_text("№51")
    page.click("[data-testid=page-last]")
    expect(page.locator("[data-testid=page-range]")).to_have_text("951–1000 из 1000")
    expect(page.locator("tr[data-key]").last).to_contain_text("№1000")
    shot(page, "tickets-last-page")
    page.click("[data-testid=page-prev]")
    expect(page.locator("[data-testid=page-range]")).to_have_text("901–950 из 1000")
    search(page, "ticket-search", "548")  # a number jumps straight to its ticket
    page.wait_for_url(re.compile(r"/tickets/548$"))
    expect(page.locator(".sms-preview")).to_have_text("Заявка жителя номер 548")
