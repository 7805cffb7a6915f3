"""A dispatcher's day in the browser: messages arrive live, replies reach 'delivered'."""

from __future__ import annotations

from playwright.sync_api import expect

from smsbot.segments import measure
from tests.web.browser.conftest import PHONE, live_update, shot, sign_in

NEIGHBOUR = "+79161234567"


def test_an_sms_arrives_live_and_the_reply_reaches_delivered(service, page):
    sign_in(page, service, "olga")
    expect(page.locator("h1")).to_have_text("Входящие")
    shot(page, "inbox-empty")

    sid = service.text("Добрый день! На 3 этаже второго подъезда не горит свет", NEIGHBOUR)
    live_update(page, service, sid)  # no reload: the inbox polls
    row = page.locator("li.conversation", has_text=NEIGHBOUR)
    expect(row).to_be_visible()
    expect(row).to_contain_text("не горит свет")
    expect(row).to_contain_text("кв. 149")
    expect(page.locator("nav [data-region=unread]")).to_have_text("1")
    shot(page, "inbox")

    row.click()
    expect(page.locator(".thread-header h1")).to_have_text(NEIGHBOUR)
    expect(page.locator(".item.in")).to_contain_text("не горит свет")
    answer = "Здравствуйте! Электрик заменит лампу сегодня до 18:00.\nДиспетчер Ольга"
    page.fill("#reply-body", answer)
    counted = measure(answer)
    expect(page.locator("#reply-counter")).to_have_text(
        f"{len(answer)} симв. · {counted.segments} SMS · {counted.encoding}"
    )
    page.click("form.reply button[type=submit]")
    reply = page.locator(".item.kind-dispatcher", has_text="Электрик заменит лампу")
    expect(reply).to_be_visible()
    expect(reply.locator("[data-testid=status]")).to_have_text("доставлено", timeout=10_000)
    [sent] = service.twilio.messages(to=NEIGHBOUR)[-1:]
    assert sent["body"] == answer

    live_update(page, service, service.text("Спасибо!", NEIGHBOUR))
    expect(page.locator(".item.in", has_text="Спасибо!")).to_be_visible()
    shot(page, "thread")

    page.click("text=Внутренняя заметка")
    page.fill(".note-box textarea", "Электрик предупреждён, ключ от щитовой у старшего по дому")
    page.click(".note-box button")
    expect(page.locator(".item.note")).to_contain_text("ключ от щитовой")
    page.click("[data-testid=close-reopen]")
    expect(page.locator(".thread-header")).to_contain_text("закрыто")


def test_a_script_sent_by_a_resident_is_shown_as_text(service, page):
    evil = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    sign_in(page, service, "olga")
    service.text(evil, NEIGHBOUR)
    row = page.locator("li.conversation", has_text=NEIGHBOUR)
    expect(row).to_contain_text("<script>window.pwned = 1</script>", timeout=10_000)
    row.click()
    expect(page.locator(".item.in .body")).to_have_text(evil)
    assert page.evaluate("window.pwned") is None
    assert page.locator(".item.in img").count() == 0
    shot(page, "thread-script-as-text")


def test_a_reply_to_an_opted_out_resident_is_refused(service, page):
    sign_in(page, service, "olga")
    service.text("Вопрос по квитанции", NEIGHBOUR)
    page.locator("li.conversation", has_text=NEIGHBOUR).click()
    opt_out(NEIGHBOUR)  # as the STOP handler does
    expect(page.locator("[data-testid=opted-out]")).to_be_visible(timeout=5_000)
    page.fill("#reply-body", "Ответ после отписки")
    page.click("form.reply button[type=submit]", force=True)
    expect(page.locator(".flash.error").first).to_contain_text("отписался")
    page.problems.remove(  # the refused form comes back as 422, as it should
        "console error: Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"
    )
    assert all(m["body"] != "Ответ после отписки" for m in service.twilio.messages(to=NEIGHBOUR))


def opt_out(phone: str) -> None:
    from sqlmodel import Session, select

    from smsbot import db
    from smsbot.models import Resident

    with Session(db.engine()) as session:
        resident = session.exec(select(Resident).where(Resident.phone == phone)).one()
        resident.opted_out = True
        session.add(resident)
        session.commit()


def test_it_fits_a_phone_screen_and_speaks_english(service, page):
    service.text("Когда дадут горячую воду?", NEIGHBOUR)
    page.set_viewport_size(PHONE)
    sign_in(page, service, "olga")
    expect(page.locator("li.conversation", has_text=NEIGHBOUR)).to_be_visible(timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-inbox")
    page.locator("li.conversation", has_text=NEIGHBOUR).click()
    # Measure the thread page, not the document torn down mid-navigation (null root).
    expect(page.locator("#reply-body")).to_be_visible(timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-thread")

    page.click("label.menu-button")
    page.click("button[lang=en]")
    expect(page.locator("#reply-body")).to_have_attribute(
        "placeholder", "Reply to the resident by SMS…"
    )
    expect(page.locator("nav.menu a").first).to_contain_text("Inbox")
