"""Working a ticket in the browser: the resident hears of every change by SMS, and their
НЕТ after "done" takes it back into work before the dispatcher's eyes."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlmodel import Session, select

from smsbot import db, tickets
from smsbot.clock import utcnow
from smsbot.models import Company, Ticket
from tests.web.browser.conftest import shot, sign_in, wait_in_page

NEIGHBOUR = "+79161234567"


def sms_to(service, phone: str, containing: str) -> dict:  # noqa: ANN001
    return service.twilio.wait_for(
        lambda sent: next((m for m in sent if m["to"] == phone and containing in m["body"]), None),
        timeout=15,
    )


def test_a_ticket_worked_to_done_and_reopened_by_the_residents_no(service, page):
    sign_in(page, service, "olga")
    page.click("nav >> text=Заявки")
    service.text("Заявка: течёт кран на кухне, капает уже второй день", NEIGHBOUR)
    row = page.locator("tr[data-key]", has_text="течёт кран")
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_contain_text("Сантехника")
    expect(row.locator("[data-deadline]")).to_contain_text(re.compile(r"осталось \d"))
    shot(page, "tickets")

    row.locator("[data-testid=ticket-link]").click()
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("новая")
    page.fill("#status-note", "Сантехник придёт сегодня до 18:00")
    # a live update redraws the actions while the dispatcher types: nothing typed is lost
    wait_in_page(page, "document.querySelector('[data-region=actions]')._html !== undefined")
    expect(page.locator("#status-note")).to_have_value("Сантехник придёт сегодня до 18:00")
    page.click("[data-testid=to-accepted]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("принята")
    assert (
        "Сантехник придёт сегодня до 18:00"
        in sms_to(service, NEIGHBOUR, "принята в работу")["body"]
    )

    page.click("[data-testid=to-in_progress]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("в работе")
    page.fill("#status-note", "Заменили прокладку")
    page.click("[data-testid=to-done]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("выполнена")
    done = sms_to(service, NEIGHBOUR, "Ответьте ДА или НЕТ")
    assert "Заменили прокладку" in done["body"]
    shot(page, "ticket-done")

    service.text("НЕТ", NEIGHBOUR)  # still dripping: no reload, the page sees it come back
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("в работе", timeout=10_000)
    expect(page.locator("ol.history li").last).to_contain_text("НЕТ")
    expect(page.locator("[data-testid=feedback]").first).to_have_text("проблема не решена")
    sms_to(service, NEIGHBOUR, "снова в работе")
    shot(page, "ticket-reopened")


def test_another_companys_ticket_by_url_is_not_found(service, page):
    with Session(db.engine()) as session:
        other = session.exec(select(Company).where(Company.slug == "uk-solnechny")).one()
        filed = tickets.file(session, company=other, text="Чужая заявка", now=utcnow())
        session.commit()
        ticket_id = filed.id
    sign_in(page, service, "olga")
    response = page.goto(f"{service.url}/tickets/{ticket_id}")
    assert response.status == 404
    page.problems.remove(
        "console error: Failed to load resource: the server responded with a status of 404 (NOT FOUND)"
    )
    expect(page.locator("h1")).to_have_text("404")
    assert "Чужая заявка" not in page.content()
    shot(page, "ticket-of-another-company")
    with Session(db.engine()) as session:
        assert session.get(Ticket, ticket_id).status == "new"
