"""A notice to a building, and the resident phone, in the browser."""

from __future__ import annotations

import random

from playwright.sync_api import expect

from smsbot.conversations import clean_text
from smsbot.segments import measure
from tests import vectors
from tests.web.browser.conftest import shot, sign_in


def test_a_notice_shows_its_cost_first_then_its_deliveries(service, page):
    sign_in(page, service, "igor")
    page.click("nav >> text=Оповещения")
    page.click("text=Новое оповещение")
    page.check("label:has-text('ул. Молодёжная') input")
    expect(page.locator("[data-audience-count]")).to_contain_text("Получателей: 2")
    text = "Уважаемые жители! 25.11 с 10:00 до 16:00 не будет холодной воды: замена стояка."
    page.fill("#notice-body", text)
    expect(page.locator("#notice-counter")).to_have_text(f"{len(text)} симв. · 2 SMS · UCS-2")
    shot(page, "notice-new")
    page.click("text=Проверить перед отправкой")
    expect(page.locator("[data-testid=recipients]")).to_have_text("2")
    expect(page.locator("[data-testid=total-segments]")).to_have_text("4")
    shot(page, "notice-confirm")
    page.click("text=Отправить на 2 номера")
    expect(page.locator("[data-testid=notice-progress]")).to_contain_text(
        "Завершено 2 из 2", timeout=15_000
    )
    expect(page.locator("li[data-state=delivered]")).to_contain_text("2")
    shot(page, "notice-progress")
    bodies = {m["to"]: m["body"] for m in service.twilio.messages()}
    assert bodies == {"+79851234567": text, "+79161234567": text}


def test_the_resident_phone_texts_the_bot_and_shows_the_replies(service, page):
    sign_in(page, service, "igor")
    page.click("nav >> text=Телефон жителя")
    page.fill("input[name=phone]", "+7 903 111-22-33")
    page.click("text=Открыть")
    page.fill("#phone-body", "помощь")
    page.click("text=Отправить от имени жителя")
    expect(page.locator(".handset .item", has_text="помощь")).to_be_visible()
    reply = page.locator(".handset .item", has_text="БАЛАНС")
    expect(reply).to_be_visible(timeout=10_000)
    expect(reply).to_contain_text("доставлено", timeout=10_000)
    shot(page, "resident-phone")


def _vectors() -> list[str]:
    """The shared conformance vectors when they sit beside the repository (random texts always)."""
    return [v["text"] for v in vectors.require("segments.json") or []]


def _random_texts(count: int) -> list[str]:
    """Texts around the segment boundaries, mixing GSM-7, its extension, Cyrillic and emoji."""
    rng = random.Random(20261122)
    pools = ["abc 123", "€[]{}^~|\\", "Привет ёжик", "😀👍🏽", "àÄñ@£$", "\n\r\t "]
    texts = []
    for _ in range(count):
        chosen = rng.sample(pools, rng.randint(1, 3))
        alphabet = "".join(chosen)
        length = rng.choice(
            [rng.randint(0, 200), rng.randint(60, 75), rng.randint(130, 170), rng.randint(300, 320)]
        )
        texts.append("".join(rng.choice(alphabet) for _ in range(length)))
    return texts


def test_the_counter_in_the_page_counts_exactly_as_the_server(service, page):
    texts = _vectors() + _random_texts(600) + ["  \u3000hello\u2028 ", "a\r\nb\rc", "\ufeffx"]
    page.goto(service.url + "/login")
    counted = page.evaluate(
        "texts => texts.map(t => { const m = SmsSegments.measure(t);"
        " return [m.encoding, m.segments, m.units, m.perSegment, SmsSegments.clean(t)]; })",
        texts,
    )
    for text, (encoding, segments, units, per_segment, cleaned) in zip(texts, counted, strict=True):
        m = measure(text)
        assert (encoding, segments, units, per_segment) == (
            m.encoding,
            m.segments,
            m.units,
            m.per_segment,
        ), text
        assert cleaned == clean_text(text), repr(text)
