"""`баланс` and `долг`: the resident's own accounts only, chosen by company number, index or
account number; unknown phones get the linking instructions and nothing else."""

from __future__ import annotations

from tests.handlers.conftest import (
    DEMO_PHONE,
    OTHER_RESIDENT,
    SHARED,
    SOLNECHNY,
    STRANGER,
    ZARECHYE,
    one,
)


def test_balance_at_the_company_texted(text):
    reply = one(text("баланс"))
    assert reply.template == "balance" and reply.status == "delivered"
    assert reply.body == "К оплате 3\u00a0450,20\u00a0₽ на 01.11.2026, кв. 148. Подробно: ДОЛГ"
    assert reply.to_phone == DEMO_PHONE and reply.from_phone == ZARECHYE
    assert "12\u00a0890,00" in one(text("баланс", to=SOLNECHNY)).body


def test_overpayment_is_not_called_a_debt(text):
    body = one(text("Баланс", phone=OTHER_RESIDENT)).body
    assert body.startswith("Переплата 512,00\u00a0₽ на 01.11.2026") and "-" not in body


def test_a_shared_number_lists_the_accounts_and_the_index_picks_one(text):
    listing = one(text("баланс", to=SHARED))
    assert listing.template == "accounts_choose"
    assert "1) …5678 ул. Молодёжная, д. 12, корп. 2, кв. 148" in listing.body
    assert "2) …1001 ул. Горького, д. 24, кв. 56" in listing.body
    assert "БАЛАНС 1" in listing.body
    assert "12\u00a0890,00" in one(text("баланс 2", to=SHARED)).body
    assert "3\u00a0450,20" in one(text("баланс 5012345678", to=SHARED)).body
    assert "12\u00a0890,00" in one(text("balans 7020001001", to=SHARED)).body
    assert "12\u00a0890,00" in one(text("баланс 1001", to=SHARED)).body  # the last digits


def test_another_residents_account_is_never_shown(text):
    for selector in ("5012345679", "5012345680", "3", "9"):
        reply = one(text(f"баланс {selector}"))
        assert reply.template == "account_unknown"
        assert "512" not in reply.body and "128" not in reply.body and selector not in reply.body
        assert "…5678" in reply.body  # the resident's own accounts, to choose from


def test_unknown_phone_gets_linking_instructions_only(text):
    for command in ("баланс", "долг", "баланс 5012345678", "долг 5012345678"):
        reply = one(text(command, phone=STRANGER))
        assert reply.template == "link_howto"
        assert "ПРИВЯЗАТЬ" in reply.body and "₽" not in reply.body and "5678" not in reply.body


def test_debt_is_broken_down_by_service(text):
    reply = one(text("долг"))
    assert reply.template == "debt"
    assert reply.body.splitlines() == [
        "Долг 3\u00a0450,20\u00a0₽ на 01.11.2026:",
        "Содерж. 1\u00a0180,40",
        "Капремонт 412,50",
        "ХВС 356,10",
        "ГВС 842,30",
        "Водоотв. 298,90",
        "Свет 260,00",
        "ТКО 100,00",
    ]


def test_a_nine_line_bill_folds_its_smallest_lines_to_stay_in_two_sms(text):
    reply = one(text("задолженность", to=SOLNECHNY))
    assert reply.num_segments == 2
    assert reply.body.splitlines() == [
        "Долг 12\u00a0890,00\u00a0₽ на 01.11.2026:",
        "Содерж. 4\u00a0120,00",
        "Капремонт 1\u00a0350,00",
        "ХВС 640,00",
        "ГВС 1\u00a0870,00",
        "Отопл. 3\u00a0980,00",
        "Ещё 4 услуги 930,00",  # водоотведение, свет, домофон, пени: 510 + 220 + 80 + 120
    ]


def test_overpayment_breakdown_keeps_the_sign(text):
    assert "Содерж. -512,00" in one(text("долг", phone=OTHER_RESIDENT)).body


def test_balance_and_debt_in_english(text):
    one(text("english"))
    assert (
        one(text("balance")).body
        == "Due 3 450,20 rub as of 01.11.2026, account ...5678, flat 148. By service: DEBT"
    )
    debt = one(text("debt"))
    assert "Cold water 356,10" in debt.body and debt.encoding == "GSM-7"
    assert one(text("balance", phone=STRANGER)).template == "link_howto"


def test_a_company_that_chose_transliteration_pays_for_latin_segments(text):
    from sqlmodel import Session, select

    from smsbot import db
    from smsbot.models import Company

    with Session(db.writer()) as session:
        company = session.exec(select(Company).where(Company.slug == "uk-zarechye")).one()
        company.transliterate = True
        session.commit()
    reply = one(text("долг"))
    assert reply.encoding == "GSM-7" and reply.num_segments == 1  # 2 in Cyrillic
    assert reply.body.startswith("Dolg 3 450,20 rub na 01.11.2026:")
    assert "KHVS 356,10" in reply.body  # an abbreviation in capitals stays in capitals
