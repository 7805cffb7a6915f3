"""Every reply template renders, in every language and transliterated, within its budget.

SAMPLES holds, for each template, the data handlers pass at their longest realistic: the
longest demo addresses and beyond, sums like 1 234 567,89 ₽, long company names, six-digit
ticket numbers, a dispatcher's note at the length a status reply quotes. A template with no
samples fails the test, so a new reply cannot skip its budget.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from smsbot import outages, templates, tickets
from smsbot.addresses import short_address
from smsbot.services import SERVICES
from smsbot.translit import transliterate
from standins import demo

LONG_COMPANY = max((c["name"] for c in demo.COMPANIES), key=len)
LONGER_COMPANY = "ООО «Управляющая компания Солнечный город Подмосковья»"
LONG_ADDRESS = "ул. Маршала Рокоссовского, д. 128, корп. 3, стр. 1"
DEMO_ADDRESS = max((short_address(b[0]) for c in demo.COMPANIES for b in c["buildings"]), key=len)
BIG = Decimal("1234567.89")
AT = datetime(2026, 12, 31, 20, 59, tzinfo=UTC)
TZ = "Europe/Moscow"


def account(index: int = 3, address: str = LONG_ADDRESS) -> dict:
    return {
        "index": index,
        "number": "50123456789012",
        "tail": "9012",
        "address": address,
        "apartment": "1024А",
    }


ACCOUNTS = [account(1, DEMO_ADDRESS), account(2), account(3)]
NOTE = ("Мастер придёт завтра с 9 до 13, обеспечьте доступ к стояку в ванной ком" * 2)[
    : tickets.NOTE_MAX - 1
] + "…"
DESK_NOTE = ("Заменили смеситель и подводку, проверили стояк в ванной комнате, течи нет" * 2)[
    :69
] + "…"
"""A dispatcher's note as a status SMS from the ticket desk quotes it (70 characters at most)."""
BILL_LINES = [
    {"service": s, "amount": Decimal("-12345.67") if s == "other" else Decimal("12345.67")}
    for s in SERVICES
]

SAMPLES: dict[str, list[dict]] = {
    "help": [{"company_name": LONG_COMPANY}, {"company_name": None}],
    "chat_ack": [{"company_name": LONGER_COMPANY}, {"company_name": ""}],
    "unrouted": [{}],
    "balance": [
        {"account": account(), "balance": b, "as_of": date(2026, 11, 1)}
        for b in (BIG, -BIG, Decimal(0))
    ],
    "debt": [
        {"account": account(), "balance": BIG, "as_of": date(2026, 11, 1), "lines": BILL_LINES},
        {
            "account": account(),
            "balance": Decimal("-512.00"),
            "as_of": date(2026, 11, 1),
            "lines": [],
        },
    ],
    "accounts_choose": [
        {"command": c, "accounts": ACCOUNTS, "more": 7}
        for c in ("balance", "debt", "meter", "unlink")
    ],
    "account_unknown": [{"command": "balance", "accounts": ACCOUNTS, "more": 7}],
    "link_howto": [{"command": c} for c in ("balance", "debt", "meter", "unlink")],
    "link_format": [{}],
    "link_ok": [{"account": account()}],
    "link_already": [{"account": account()}],
    "link_failed": [{"attempts_left": 4}],
    "link_locked": [{"until": AT, "tz": TZ}],
    "unlink_ok": [{"account": account()}],
    "unlink_format": [{}],
    "contacts": [
        {
            "company_name": LONGER_COMPANY,
            "dispatch_phone": "+74957770101",
            "dispatch_hours": "пн–пт 08:00–20:00, сб 09:00–15:00",
            "emergency_phone": "+74957770199",
        },
        {
            "company_name": LONG_COMPANY,
            "dispatch_phone": "+74957770101",
            "dispatch_hours": None,
            "emergency_phone": None,
        },  # fmt: skip
        {"company_name": None},
    ],
    "ticket_ask": [{}],
    "ticket_created": [
        {"number": 123456, "category": c, "emergency": True, "deadline_at": AT, "tz": TZ}
        for c in (
            "plumbing",
            "electrical",
            "heating",
            "lift",
            "cleaning",
            "waste",
            "roof",
            "intercom",
            "gas",
            "other",
        )
    ],
    "ticket_status": [
        {
            "number": 123456,
            "status": s,
            "category": "roof",
            "emergency": False,
            "filed_at": AT,
            "changed_at": AT,
            "deadline_at": AT,
            "overdue": True,
            "note": NOTE,
            "tz": TZ,
        }  # fmt: skip
        for s in ("new", "accepted", "in_progress", "done", "rejected")
    ],
    "ticket_not_found": [{"number": 123456}],
    "ticket_none": [{}],
    "emergency": [
        {
            "danger": d,
            "company_name": LONGER_COMPANY,
            "emergency_phone": "+74957770199",
            "number": 123456,
            "follow_up": f,
            "deadline_at": AT,
            "tz": TZ,
        }  # fmt: skip
        for d in ("gas", "fire", "flood", "electric", "lift", "heating")
        for f in (False, True)
    ]
    + [
        {
            "danger": "gas",
            "company_name": None,
            "emergency_phone": None,
            "number": None,
            "follow_up": False,
            "deadline_at": None,
            "tz": TZ,
        }
    ],  # fmt: skip
    "meter_format": [{}],
    "meter_window": [
        {"opens": date(2026, 12, 15), "closes": date(2026, 12, 25), "start": 15, "end": 25}
    ],
    "meter_none": [{"account": account()}],
    "meter_result": [
        {
            "account": account(),
            "kinds": ["cold", "hot", "electricity_day", "electricity_night"],
            "outcomes": [
                {"kind": "cold", "value": Decimal("12345.678"), "reason": None, "previous": None},
                {"kind": "hot", "value": Decimal("12345.678"), "reason": None, "previous": None},
                {
                    "kind": "electricity_day",
                    "value": Decimal("12345.6"),
                    "reason": "lower",
                    "previous": Decimal("12346.7"),
                },
                {"kind": "gas", "value": Decimal("1234"), "reason": "no_meter", "previous": None},
            ],
        },  # fmt: skip
        {
            "account": account(),
            "kinds": ["cold"],
            "outcomes": [
                {
                    "kind": "cold",
                    "value": Decimal("12345.678"),
                    "reason": "too_high",
                    "previous": Decimal("12245.678"),
                },
                {
                    "kind": None,
                    "value": Decimal("12345.678"),
                    "reason": "kind_needed",
                    "previous": None,
                },
            ],
        },  # fmt: skip
        {
            "account": account(),
            "kinds": ["cold", "hot", "electricity_day", "electricity_night", "heating", "gas"],
            "outcomes": [
                {"kind": k, "value": Decimal("12345.678"), "reason": r, "previous": p}
                for k, r, p in [
                    ("cold", None, None),
                    ("hot", "lower", Decimal("12346.678")),
                    ("electricity_day", None, None),
                    ("electricity_night", "too_high", Decimal("10000.5")),
                    ("heating", None, None),
                    ("gas", None, None),
                ]
            ],
        },  # fmt: skip
    ],
    "language_set": [{}],
    "opt_out": [{}],
    "opt_in": [{}],
    # the ticket desk (issue 4): a dispatcher's status change, and the answers after "done"
    **{
        name: [
            {"number": 123456, "deadline_at": AT, "tz": TZ, "note": DESK_NOTE},
            {"number": 7, "deadline_at": AT, "tz": TZ, "note": None},
        ]
        for name in ("ticket_accepted", "ticket_in_progress", "ticket_done")
    },
    "ticket_rejected": [{"number": 123456, "deadline_at": AT, "tz": TZ, "note": DESK_NOTE}],
    "ticket_confirmed": [{"number": 123456}],
    "ticket_reopened": [{"number": 123456}],
    "ticket_rated": [{}],
    # the deadline clock (issue 5): alerts to staff phones, the longest problem and address
    **{
        name: [
            {
                "number": 123456,
                "problem": p,
                "category": "other",
                "emergency": e,
                "status": s,
                "deadline_at": AT,
                "address": a,
                "tz": TZ,
            }
            for p in ("common_tap_leak", "lift_stuck", "chute_blockage")
            for e in (True, False)
            for s in ("new", "accepted", "in_progress")
            for a in (LONG_ADDRESS + ", подъезд 4", DEMO_ADDRESS, None)
        ]
        for name in ("alert_near", "alert_overdue", "alert_escalation")
    },
    # honest acknowledgements and outages (issue 12, points 6 and 7)
    "chat_ack_closed": [
        {"workday_start": s, "workday_end": e, "opens": AT, "emergency_phone": p, "tz": TZ,
         "company_name": LONGER_COMPANY}
        for s, e in ((9, 18), (10, 23)) for p in ("+74957770199", None)
    ],
    "help_short": [{}],
    "outage": [
        {"outage": kind, "until": AT, "same_day": same_day, "tz": TZ}
        for kind in outages.KINDS for same_day in (False, True)
    ],
    "alert_outage": [
        {"outage": kind, "until": AT, "hours": 744, "allowed": 24, "per_month": m, "tz": TZ}
        for kind in outages.KINDS for m in (False, True)
    ],
}  # fmt: skip


def test_every_template_has_samples_and_exists_in_every_language():
    for language in templates.LANGUAGES:
        names = set(templates.names(language))
        assert names == set(SAMPLES), (
            f"{language}: add samples for {names - set(SAMPLES)} or templates for {set(SAMPLES) - names}"
        )


CASES = [(name, language, i) for name in sorted(SAMPLES) for language in templates.LANGUAGES
         for i in range(len(SAMPLES[name]))]  # fmt: skip


@pytest.mark.parametrize(("name", "language", "sample"), CASES)
def test_template_fits_its_budget(name, language, sample):
    params = SAMPLES[name][sample]
    rendered = templates.render(name, language, **params)
    assert rendered.language == language
    assert rendered.text.strip(), "renders to nothing"
    assert "{" not in rendered.text and "None" not in rendered.text, rendered.text
    assert rendered.measure.segments <= rendered.budget, (
        f"{language}/{name} takes {rendered.measure.segments} segments, budget {rendered.budget}:\n{rendered.text}"
    )
    latin = templates.render(name, language, translit=True, **params)
    assert latin.measure.encoding == "GSM-7", (
        f"transliterated {language}/{name} is not GSM-7:\n{latin.text}"
    )
    assert latin.measure.segments <= latin.budget, latin.text


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_english_replies_stay_in_gsm7(name):
    """Latin-only replies cost 160 characters a segment, not 70: no Cyrillic, ₽ or no-break
    space may slip into an English text through the data."""
    for params in SAMPLES[name]:
        rendered = templates.render(name, "en", **params)
        assert rendered.measure.encoding == "GSM-7", rendered.text


def test_transliteration_keeps_numbers_and_sums_readable():
    text = templates.render("balance", "ru", translit=True, **SAMPLES["balance"][0]).text
    assert "1 234 567,89 rub" in text and transliterate("кв.") in text
