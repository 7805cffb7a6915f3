"""Alerts that reach a person and working fast, in the browser: an emergency pinned on top
with the unread count in the tab title (and the opt-in notification); a reply written and
sent with the keyboard alone, then bulk close (one service for both: each costs seconds)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.browser.conftest import shot, sign_in, wait_in_page

NEIGHBOUR = "+79161234567"
DEMO_PHONE = "+79851234567"
STRANGER = "+79160000001"
LIVE = 5_000
"""Milliseconds for a resident's SMS to be handled by the worker and shown by the poll."""

RECORD_NOTIFICATIONS = """
window.__notifications = [];
if (window.Notification) {
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) { super(title, options); window.__notifications.push(title); }
  };
}
"""


def test_an_emergency_is_pinned_and_the_tab_title_counts_unread(service, page):
    page.context.grant_permissions(["notifications"], origin=service.url)
    page.add_init_script(RECORD_NOTIFICATIONS)
    sign_in(page, service, "olga")
    page.wait_for_load_state("load")  # the toggle listens once the page's script ran
    page.click("[data-alerts-toggle]")  # opt in: asks permission, remembered for every page
    expect(page.locator("[data-alerts-toggle]")).to_have_attribute("aria-pressed", "true")

    service.text("Когда будет перерасчёт за отопление?", DEMO_PHONE)
    expect(page.locator("li.conversation")).to_have_count(1, timeout=LIVE)
    expect(page).to_have_title(re.compile(r"^\(1\) Входящие"), timeout=LIVE)
    service.text("Пахнет газом на лестнице, 3 этаж", NEIGHBOUR)
    first = page.locator("li.conversation").first
    expect(first).to_contain_text(NEIGHBOUR, timeout=LIVE)  # newest, and pinned on top
    expect(first).to_have_class(re.compile(r"\bemergency\b"))
    expect(first.locator("[data-testid=emergency]")).to_have_text("Авария: газ")
    expect(page).to_have_title(re.compile(r"^\(2\) ⚠ Входящие"))
    wait_in_page(page, "window.__notifications.length >= 2")
    assert page.evaluate("window.__notifications") == [
        "Новое сообщение во входящих",  # the first message
        "Аварийное сообщение во входящих",
    ]

    service.text("И ещё: когда поверка счётчиков?", DEMO_PHONE)
    expect(page.locator("li.conversation").nth(1)).to_contain_text("поверка", timeout=LIVE)
    expect(first).to_contain_text(NEIGHBOUR)  # a newer ordinary message stays below it
    expect(page).to_have_title(re.compile(r"^\(3\) ⚠ "))
    shot(page, "inbox-emergency-pinned")


def test_a_reply_with_the_keyboard_alone_then_bulk_close(service, page):
    sign_in(page, service, "olga")
    service.text("Вопрос по квитанции", NEIGHBOUR)
    service.text("Когда уберут снег?", DEMO_PHONE)
    service.text("Когда включат свет во втором подъезде?", STRANGER)
    expect(page.locator("li.conversation")).to_have_count(3, timeout=LIVE)
    page.keyboard.press("?")
    expect(page.locator("dialog#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#shortcuts")).to_be_hidden()

    page.keyboard.press("j")  # the newest: the stranger's
    expect(page.locator("li.conversation.selected")).to_contain_text(STRANGER)
    page.keyboard.press("Enter")
    expect(page.locator(".thread-header h1")).to_have_text(STRANGER)
    page.wait_for_load_state("load")  # the page's keys listen once its script ran
    page.keyboard.press("r")
    expect(page.locator("#reply-body")).to_be_focused()
    page.keyboard.type("Электрик будет к 17:00")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".flash.ok")).to_have_text("Ответ поставлен в очередь на отправку.")
    expect(page.locator(".item.kind-dispatcher", has_text="Электрик будет к 17:00")).to_be_visible()
    page.wait_for_load_state("load")
    page.keyboard.press("e")
    expect(page.locator(".thread-header")).to_contain_text("закрыто")
    page.wait_for_load_state("load")
    page.keyboard.press("u")
    expect(page.locator("h1")).to_have_text("Входящие")
    page.wait_for_load_state("load")
    page.keyboard.press("/")
    expect(page.locator("input[type=search]")).to_be_focused()

    expect(page.locator("li.conversation")).to_have_count(2)  # bulk close the other two
    page.check("[data-pick-all]")
    expect(page.locator("[data-picked]")).to_have_text("Выбрано: 2")
    page.click("[data-testid=bulk-close]")
    expect(page.locator(".flash.ok")).to_have_text("Закрыто 2 диалога.")
    expect(page.locator("li.conversation")).to_have_count(0)
    page.click("text=Закрытые")
    expect(page.locator("li.conversation.closed")).to_have_count(3)
