"""The inspector in the browser: the table of companies worst first, one company's drill-down
with its matplotlib chart, on a laptop and on a phone (the tables scroll sideways)."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlmodel import Session, select

from smsbot import db, ticket_stats, tickets
from smsbot.clock import utcnow
from smsbot.models import ACTOR_DISPATCHER, Account, Company
from tests.web.browser.conftest import PHONE, shot, wait_in_page
from tests.web.staff.conftest import PASSWORD


def a_fortnight(service) -> None:  # noqa: ANN001
    """Tickets of the last two weeks at both demo companies, some of them late."""
    now = utcnow()
    with Session(db.writer()) as session:
        for company_id, late_every in ((service.staff.zarechye, 2), (service.staff.solnechny, 5)):
            company = session.get(Company, company_id)
            account = session.exec(select(Account).where(Account.company_id == company_id)).first()
            for i in range(14):
                filed = now - timedelta(days=14 - i, hours=3)
                ticket = tickets.file(session, company=company, text="течёт кран на кухне",
                                      now=filed, account=account)  # fmt: skip
                tickets.transition(session, ticket, "accepted", actor=ACTOR_DISPATCHER,
                                   now=filed + timedelta(minutes=20 + 10 * i))  # fmt: skip
                late = timedelta(hours=3) if i % late_every == 0 else -timedelta(hours=2)
                tickets.transition(session, ticket, "done", actor=ACTOR_DISPATCHER,
                                   now=ticket.deadline_at + late)  # fmt: skip
        session.commit()
        ticket_stats.rebuild(session)
        session.commit()


def test_the_inspector_sees_the_worst_company_first_and_its_chart(service, page):
    a_fortnight(service)
    page.goto(service.url + "/login")
    page.fill("input[name=login]", "inspector")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/inspector$"))
    worst = page.locator("tbody.company.worst")
    expect(worst).to_contain_text("Заречье")
    expect(page.locator("[data-testid=figures]")).to_contain_text("Выходные и праздники")
    shot(page, "inspector")

    page.click("[data-testid=days-7]")
    expect(page.locator("[data-testid=days-7]")).to_have_class(re.compile("primary"))
    worst.locator("th.name a").click()
    expect(page.locator("h1")).to_contain_text("Заречье")
    chart = page.locator("[data-testid=trend-chart]")
    expect(chart).to_be_visible()
    wait_in_page(page, "document.querySelector('[data-testid=trend-chart]').naturalWidth > 0")
    expect(page.locator("[data-testid=late-tickets]")).to_contain_text("Сантехника")
    shot(page, "inspector-company")

    page.set_viewport_size(PHONE)
    page.goto(service.url + "/inspector")
    scroller = page.locator(".scroll").first
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")  # scrolls, not squashed
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(page, "inspector-phone")
