"""Plural forms, a company's name as a reply prints it, opening hours in English."""

from __future__ import annotations

import pytest

from smsbot.wording import counted, hours_en, latin_name, plural_ru, short_name


@pytest.mark.parametrize(
    ("count", "form"),
    [(0, "услуг"), (1, "услуга"), (2, "услуги"), (4, "услуги"), (5, "услуг"), (11, "услуг"),
     (12, "услуг"), (14, "услуг"), (21, "услуга"), (22, "услуги"), (101, "услуга"),
     (111, "услуг"), (1004, "услуги"), (-1, "услуга")],
)  # fmt: skip
def test_russian_plural(count, form):
    assert plural_ru(count, "услуга", "услуги", "услуг") == form


def test_counted_in_both_languages():
    assert counted(1, "building", "buildings") == "1 building"
    assert counted(0, "building", "buildings") == "0 buildings"
    assert counted(21, "дом", "дома", "домов") == "21 дом"
    assert counted(3, "дом", "дома", "домов") == "3 дома"


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("УК «Заречье»", "УК «Заречье»"),
        ("ООО «Управляющая компания Солнечный город»", "УК «Солнечный город»"),
        ("ООО «Управляющая компания Солнечный город Подмосковья»", "УК «Солнечный город Подмосковья»"),
        ("АО «Жилсервис»", "«Жилсервис»"),
        ("Общество с ограниченной ответственностью «Управляющая компания Сосны»", "УК «Сосны»"),
        ("ТСЖ «Берёзка»", "ТСЖ «Берёзка»"),
        ("ООО «Управляющая компания Жилищно-коммунальное хозяйство городского округа Балашиха»", ""),
        (None, ""),
        ("", ""),
    ],
)  # fmt: skip
def test_short_name(name, short):
    assert short_name(name) == short


def test_an_english_reply_says_mc_not_uk():
    assert latin_name("УК «Заречье»") == 'MC "Zareche"'
    assert latin_name("ООО «Управляющая компания Солнечный город»") == 'MC "Solnechnyi gorod"'
    assert latin_name("ТСЖ «Берёзка»") == 'TSZH "Berezka"'


@pytest.mark.parametrize(
    ("hours", "english"),
    [
        ("пн–пт 08:00–20:00", "Mon-Fri 08:00-20:00"),
        ("пн–пт 08:00–20:00, сб 09:00–15:00", "Mon-Fri 08:00-20:00, Sat 09:00-15:00"),
        ("круглосуточно", "24/7"),
        ("Пн-Чт 9-18, Пт 9-17, обед 13-14", "Mon-Thu 9-18, Fri 9-17, lunch 13-14"),
        ("без выходных 8:00–22:00", "daily 8:00-22:00"),
        (None, ""),
    ],
)
def test_opening_hours_in_english(hours, english):
    assert hours_en(hours) == english
