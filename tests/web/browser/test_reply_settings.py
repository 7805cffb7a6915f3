"""The SMS replies page in the browser: an admin finds it in the menu, reads the cost of the
company's replies, and turns transliteration on; it fits a phone screen."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.browser.conftest import PHONE, shot, sign_in


def test_an_admin_reads_the_cost_and_turns_on_transliteration(service, page):
    sign_in(page, service, "igor")
    page.click("[data-testid=nav-replies]")
    costs = page.locator("[data-testid=reply-costs]")
    expect(costs).to_contain_text("Сегментов на SMS за последние 30 дней")
    expect(costs.locator("[data-testid=average-reply]")).to_be_visible()
    form = page.locator("[data-testid=translit-form]")
    expect(form).to_contain_text("K oplate 3 450,20 rub")
    form.locator("input[name=transliterate]").check()
    form.locator("button.primary").click()
    expect(page.locator(".flashes")).to_contain_text("Сохранено")
    expect(page.locator("input[name=transliterate]")).to_be_checked()
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-replies")
