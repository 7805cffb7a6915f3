"""Staff management, notices and the inspector's period in the browser, as an admin and a
dispatcher would meet them (issue 11's slips, issue 13's sessions that end on the server)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.browser.conftest import LAPTOP, PHONE, shot, sign_in

VERA_PASSWORD = "vera-long-password-1"


def test_an_admin_adds_a_dispatcher_who_signs_in_and_disabling_ends_her_open_session(
    service, browser, page
):
    sign_in(page, service, "igor")
    page.click("[data-testid=nav-staff]")
    form = page.locator("[data-testid=add-staff]")
    form.locator("input[name=name]").fill("Вера Новикова")
    form.locator("input[name=login]").fill("vera")
    form.locator("input[name=phone]").fill("8 916 555-44-33")
    form.locator("input[name=password]").fill(VERA_PASSWORD)
    form.locator("button.primary").click()
    row = page.locator("tr[data-login=vera]")
    expect(row).to_contain_text("Вера Новикова")
    expect(row.locator("input[name=phone]")).to_have_value("+79165554433")
    shot(page, "staff")

    context = browser.new_context(viewport=LAPTOP, locale="ru-RU")  # Vera's own browser
    try:
        vera = context.new_page()
        sign_in(vera, service, "vera", VERA_PASSWORD)
        expect(vera.locator("header .user")).to_contain_text("Вера Новикова")

        page.once("dialog", lambda dialog: dialog.accept())  # "Disable Вера? …" is asked first
        row.locator("button.danger").click()
        expect(page.locator(".flash.ok")).to_contain_text("vera")
        expect(page.locator("tr[data-login=vera]")).to_contain_text("отключён")
        # Vera's open inbox polls once a second: the next poll finds her session gone.
        expect(vera.locator(".live-problem")).to_contain_text("Сеанс завершён", timeout=10_000)
        vera.reload()
        expect(vera).to_have_url(re.compile(r"/login"))
    finally:
        context.close()
    expect(page.locator("[data-testid=staff-changes]")).to_contain_text("отключён · vera")


def test_notice_change_returns_to_the_filled_form_and_narrow_pages_fit(service, page):
    sign_in(page, service, "igor")
    page.goto(service.url + "/notices/new")
    expect(page.locator("#notice-counter")).to_have_text("0 симв. · 0 SMS · GSM-7")  # empty: 0
    page.locator("label.check", has_text="Молодёжная").locator("input").check()
    text = "25.11 с 10:00 до 16:00 не будет холодной воды: замена стояка."
    page.fill("#notice-body", text)
    page.click("text=Проверить перед отправкой")
    expect(page.locator("[data-testid=notice-preview]")).to_be_visible()
    page.click("button[value=edit]")
    expect(page.locator("#notice-body")).to_have_value(text)
    expect(page.locator("label.check", has_text="Молодёжная").locator("input")).to_be_checked()

    page.set_viewport_size(PHONE)
    page.goto(service.url + "/tickets")
    expect(page.locator("select[name=building]")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-tickets")

    page.goto(service.url + "/inspector?days=abc")
    expect(page.locator(".flashes .flash.error")).to_contain_text("целое число дней от 1 до 1098")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
