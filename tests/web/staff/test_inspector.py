"""The inspector's pages: who sees which company, the period selector, the trend chart and
the CSV and XLSX exports, and never a resident's phone number."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from smsbot import clock, db, ticket_stats, tickets
from smsbot.models import ACTOR_DISPATCHER, Account, Company, Resident

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
"""A Friday; the tickets below were filed in the fortnight before."""
RESIDENT_PHONES = ("+79851234567", "+79161234567")


@pytest.fixture()
def history(staff, monkeypatch):  # noqa: ANN001, ANN201
    """Zarechye: four tickets, two of them late (one done a minute late, one still open past
    its deadline), one filed on the 4 November holiday. Solnechny: one ticket, on time."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    with Session(db.writer()) as session:
        zarechye = session.get(Company, staff.zarechye)
        solnechny = session.get(Company, staff.solnechny)
        residents = [Resident(phone=p) for p in RESIDENT_PHONES]
        session.add_all(residents)
        session.flush()
        accounts = {
            c: session.exec(select(Account).where(Account.company_id == c)).first()
            for c in (staff.zarechye, staff.solnechny)
        }

        def filed(company, at, text="течёт кран на кухне", resident=residents[0]):  # noqa: ANN001, ANN202
            return tickets.file(session, company=company, text=text, now=at, resident=resident,
                                account=accounts[company.id])  # fmt: skip

        def move(ticket, *states_and_times):  # noqa: ANN001, ANN002, ANN202
            for state, at in states_and_times:
                tickets.transition(session, ticket, state, actor=ACTOR_DISPATCHER, now=at)

        on_time = filed(zarechye, datetime(2026, 11, 10, 9, 0, tzinfo=UTC))
        move(on_time, ("accepted", on_time.filed_at + timedelta(minutes=20)),
             ("done", on_time.deadline_at - timedelta(hours=1)))  # fmt: skip
        late = filed(zarechye, datetime(2026, 11, 11, 9, 0, tzinfo=UTC), resident=residents[1])
        move(late, ("accepted", late.filed_at + timedelta(minutes=40)),
             ("done", late.deadline_at + timedelta(minutes=1)))  # fmt: skip
        holiday = filed(zarechye, datetime(2026, 11, 4, 10, 0, tzinfo=UTC))
        move(holiday, ("accepted", holiday.filed_at + timedelta(hours=2)))
        holiday.deadline_at = datetime(2026, 11, 6, 10, 0, tzinfo=UTC)
        fresh = filed(zarechye, NOW - timedelta(hours=1), text="не горит свет в подъезде")
        theirs = filed(solnechny, datetime(2026, 11, 12, 9, 0, tzinfo=UTC))
        move(theirs, ("in_progress", theirs.filed_at + timedelta(hours=1)),
             ("done", theirs.filed_at + timedelta(hours=3)))  # fmt: skip
        session.commit()
        ticket_stats.rebuild(session, NOW)
        session.commit()
        return {"late": late.number, "holiday": holiday.number, "fresh": fresh.number}


def no_resident_phones(text: str) -> None:
    digits = re.sub(r"\D", "", text)
    for phone in RESIDENT_PHONES:
        assert phone not in text and phone[1:] not in digits


def test_the_inspector_lands_on_the_table_worst_company_first(signed_in, history, staff):
    inspector = signed_in("inspector")
    assert inspector.get("/").headers["Location"].endswith("/inspector")
    page = inspector.get("/inspector").get_data(as_text=True)
    assert "Просроченные заявки по компаниям" in page
    zarechye = page.index(f'data-company="{staff.zarechye}"')
    assert zarechye < page.index(f'data-company="{staff.solnechny}"')
    assert 'class="company worst"' in page and "больше всего просрочек" in page
    assert "Выходные и праздники" in page and "Рабочие дни" in page and "Дни подачи" in page
    assert "66,7&nbsp;%" in page  # 2 of 3 decided tickets missed the deadline (30 days)
    no_resident_phones(page)


@pytest.mark.parametrize("login", ["inspector", "root"])
def test_all_company_roles_see_every_company(signed_in, history, staff, login):
    client = signed_in(login)
    for company_id in (staff.zarechye, staff.solnechny):
        assert client.get(f"/inspector/company/{company_id}").status_code == 200
        assert client.get(f"/inspector/trend/{company_id}.svg").status_code == 200


def test_a_company_admin_sees_their_own_company_only(signed_in, history, staff):
    igor = signed_in("igor")
    page = igor.get("/inspector").get_data(as_text=True)
    assert f'data-company="{staff.zarechye}"' in page
    assert "Солнечный" not in page
    assert igor.get(f"/inspector/company/{staff.zarechye}").status_code == 200
    assert igor.get(f"/inspector/company/{staff.solnechny}").status_code == 404
    assert igor.get(f"/inspector/trend/{staff.solnechny}.svg").status_code == 404
    assert "Солнечный" not in igor.get("/inspector/export.csv").get_data(as_text=True)
    assert 'data-testid="nav-inspection"' in page
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(igor.get("/inspector/export.xlsx").get_data()))
    names = {row[0] for row in book.active.iter_rows(min_row=6, values_only=True)}
    assert names == {"УК «Заречье»"}


def test_dispatchers_are_refused(signed_in, history, staff):
    olga = signed_in("olga")
    for path in ("/inspector", f"/inspector/company/{staff.zarechye}", "/inspector/export.csv",
                 "/inspector/export.xlsx", f"/inspector/trend/{staff.zarechye}.svg"):  # fmt: skip
        assert olga.get(path).status_code == 403, path
    assert 'href="/inspector"' not in olga.get("/tickets").get_data(as_text=True)


def test_the_drilldown_lists_late_tickets_by_category_and_building(signed_in, history, staff):
    page = signed_in("inspector").get(f"/inspector/company/{staff.zarechye}?days=30")
    text = page.get_data(as_text=True)
    assert "Заявки с нарушенным сроком: 2" in text
    assert f"№{history['late']}" in text and f"№{history['holiday']}" in text
    assert f"№{history['fresh']}" not in text
    assert "ул. Молодёжная, д. 12" in text and "Сантехника" in text
    assert "1 мин" in text  # done one minute late
    assert 'src="/inspector/trend/' in text
    no_resident_phones(text)


def test_the_period_selector(signed_in, history, staff):
    inspector = signed_in("inspector")
    week = inspector.get("/inspector?days=7").get_data(as_text=True)
    assert "с 14.11.2026 по 20.11.2026" in week or "14.11.2026" in week
    custom = inspector.get("/inspector?from=2026-11-04&to=2026-11-04").get_data(as_text=True)
    assert "04.11.2026" in custom and "100,0&nbsp;%" in custom  # the holiday ticket, late
    wrong = inspector.get("/inspector?from=4.11.2026", follow_redirects=True)
    assert wrong.status_code == 200 and "ГГГГ-ММ-ДД" in wrong.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("days=abc", "целое число дней от 1 до 1098"),
        ("days=-5", "целое число дней от 1 до 1098"),
        ("days=100000", "целое число дней от 1 до 1098"),
        ("from=1900-01-01", "Даты должны быть между 01.01.2000"),
        ("from=2020-01-01&to=2026-11-20", "Период не длиннее 1098 дней"),
    ],
)
def test_a_period_the_page_cannot_read_gets_a_message_not_a_silent_substitute(
    signed_in, history, staff, query, says
):
    inspector = signed_in("inspector")
    page = inspector.get(f"/inspector?{query}").get_data(as_text=True)
    assert says in page and "2096" not in page
    assert inspector.get(f"/inspector/export.csv?{query}").status_code == 400
    assert inspector.get("/inspector?days=14").get_data(as_text=True).count("flash error") == 1


def test_the_weekly_chart_follows_the_chosen_period(signed_in, history, staff):
    inspector = signed_in("inspector")
    page = inspector.get(f"/inspector/company/{staff.zarechye}?from=2026-06-01&to=2026-08-31")
    assert "from=2026-06-01" in page.get_data(as_text=True)  # the chart's address carries it
    summer = inspector.get(f"/inspector/trend/{staff.zarechye}.svg?from=2026-06-01&to=2026-08-31")
    recent = inspector.get(f"/inspector/trend/{staff.zarechye}.svg?days=30")
    assert "01.06" in summer.get_data(as_text=True) and "01.06" not in recent.get_data(as_text=True)


def test_the_trend_chart_is_an_svg_drawn_by_matplotlib(signed_in, history, staff):
    response = signed_in("inspector").get(f"/inspector/trend/{staff.zarechye}.svg")
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "Matplotlib" in svg
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'"
    )


def test_the_csv_export_has_the_period_and_the_time_of_export(signed_in, history, staff):
    response = signed_in("inspector").get("/inspector/export.csv?days=30")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))  # as Russian Excel reads it
    assert rows[1] == ["Период", "с 22.10.2026 по 20.11.2026 (по дате подачи)"]
    assert rows[2] == ["Выгружено", "20.11.2026 15:00 (Europe/Moscow)"]
    header = rows[4]
    assert header[0] == "Компания" and "Доля просроченных за период" in header
    zarechye = [r for r in rows[5:] if r[0] == "УК «Заречье»"]
    assert [r[1] for r in zarechye] == [
        "Все поданные заявки",
        "Поданные в рабочие дни",
        "Поданные в выходные и праздники",
    ]
    share = header.index("Доля просроченных за период")
    assert [r[share] for r in zarechye] == ["66,7", "50,0", "100,0"]  # decimal commas
    assert float(zarechye[0][share].replace(",", ".")) == pytest.approx(66.7)
    assert response.get_data().startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    no_resident_phones(text)


def test_the_xlsx_export_in_english(signed_in, history, staff):
    from openpyxl import load_workbook

    from tests.web.staff.conftest import post

    inspector = signed_in("inspector")
    post(inspector, "/language", {"lang": "en"})
    response = inspector.get("/inspector/export.xlsx?from=2026-11-01&to=2026-11-20")
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book.active
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[1][:2] == ["Period", "01.11.2026 to 20.11.2026 (filing days)"]
    assert cells[2][:2] == ["Exported at", "20.11.2026 15:00 (Europe/Moscow)"]
    header = list(cells[4])
    assert header[:2] == ["Company", "Filed on"]
    first = cells[5]
    assert first[0] == "УК «Заречье»" and first[1] == "All filed tickets"
    assert first[header.index("Share overdue in the period")] == pytest.approx(2 / 3)
    everything = " ".join(str(v) for row in cells for v in row if v is not None)
    no_resident_phones(everything)


def test_the_page_says_how_current_the_figures_are(signed_in, staff, history):  # noqa: ANN001
    page = signed_in("inspector").get("/inspector").get_data(as_text=True)
    assert "Данные на 20.11.2026 15:00." in page


def test_before_the_first_refresh_the_page_says_so(signed_in, staff):  # noqa: ANN001
    page = signed_in("igor").get("/inspector").get_data(as_text=True)
    assert "Показатели ещё не рассчитаны" in page
