"""Write docs/replies.md: every SMS reply as the resident sees it, with what it costs.

Rendered from the real templates (smsbot/templates_sms/) with the demo data, so the page
cannot drift from what smsbot sends: tests/test_replies_doc.py fails when the committed page
differs from what this script writes. After changing a template, run

    .venv/bin/python scripts/replies_doc.py

A template with no example below is still shown, with the longest data of its budget test,
so a new reply appears on the page as soon as it exists.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smsbot import templates  # noqa: E402
from standins import demo  # noqa: E402

DOC = ROOT / "docs" / "replies.md"
TZ = "Europe/Moscow"
AT = datetime(2026, 12, 3, 9, 5, tzinfo=UTC)
DUE = datetime(2026, 12, 4, 9, 5, tzinfo=UTC)
SOON = datetime(2026, 12, 3, 9, 35, tzinfo=UTC)
FLAT = {"index": 1, "number": "5012345678", "tail": "5678", "apartment": "148",
        "address": "ул. Молодёжная, д. 12, корп. 2"}  # fmt: skip
OTHER = {"index": 2, "number": "7020001001", "tail": "1001", "apartment": "56",
         "address": "ул. Горького, д. 24"}  # fmt: skip
ZARECHYE = demo.COMPANIES[0]
BILL = [{"service": s, "amount": Decimal(a)} for s, a in demo.CHARGES["5012345678"].items()]
LONG_BILL = [{"service": s, "amount": Decimal(a)} for s, a in demo.CHARGES["7020001001"].items()]
NOTE = "Мастер придёт завтра с 9 до 12."

EXAMPLES: list[tuple[str, str, str, dict]] = [
    # (what the resident sent, template, situation, data)
    ("помощь", "help", "", {"company_name": ZARECHYE["name"]}),
    ("баланс", "balance", "", {"account": FLAT, "balance": Decimal("3450.20"), "as_of": demo.BILLING_DATE}),
    ("баланс", "balance", "overpaid", {"account": FLAT, "balance": Decimal("-512.00"), "as_of": demo.BILLING_DATE}),
    ("долг", "debt", "a typical bill", {"account": FLAT, "balance": Decimal("3450.20"), "as_of": demo.BILLING_DATE, "lines": BILL}),
    ("долг 2", "debt", "a nine-line bill: the smallest lines fold into one", {"account": OTHER, "balance": Decimal("12890.00"), "as_of": demo.BILLING_DATE, "lines": LONG_BILL}),
    ("баланс", "accounts_choose", "several accounts", {"command": "balance", "accounts": [FLAT, OTHER], "more": 0}),
    ("баланс 7", "account_unknown", "not one of the phone's accounts", {"command": "balance", "accounts": [FLAT, OTHER], "more": 0}),
    ("баланс", "link_howto", "a phone with no account", {"command": "balance"}),
    ("привязать 5012345678 4821", "link_ok", "", {"account": FLAT}),
    ("привязать 5012345678 4821", "link_already", "linked already", {"account": FLAT}),
    ("привязать 5012345678 1111", "link_failed", "wrong code", {"attempts_left": 4}),
    ("привязать 5012345678 1112", "link_locked", "five wrong codes", {"until": DUE, "tz": TZ}),
    ("привязать", "link_format", "", {}),
    ("отвязать 5012345678", "unlink_ok", "", {"account": FLAT}),
    ("отвязать", "unlink_format", "", {}),
    ("заявка течёт кран на кухне", "ticket_created", "", {"number": 17, "category": "plumbing", "emergency": False, "deadline_at": DUE, "tz": TZ}),
    ("заявка", "ticket_ask", "no text", {}),
    ("статус 17", "ticket_status", "", {"number": 17, "status": "accepted", "category": "plumbing", "emergency": False, "filed_at": AT, "changed_at": AT, "deadline_at": DUE, "overdue": False, "note": NOTE, "tz": TZ}),
    ("статус 99", "ticket_not_found", "", {"number": 99}),
    ("статус", "ticket_none", "no tickets", {}),
    ("Пахнет газом в подъезде!", "emergency", "any message that speaks of danger", {"danger": "gas", "company_name": ZARECHYE["name"], "emergency_phone": ZARECHYE["emergency_phone"], "number": 18, "follow_up": False, "deadline_at": SOON, "tz": TZ}),
    ("Газ всё ещё пахнет", "emergency", "the same danger within the hour", {"danger": "gas", "company_name": ZARECHYE["name"], "emergency_phone": ZARECHYE["emergency_phone"], "number": 18, "follow_up": True, "deadline_at": SOON, "tz": TZ}),
    ("телефоны", "contacts", "", {"company_name": ZARECHYE["name"], "dispatch_phone": ZARECHYE["dispatch_phone"], "dispatch_hours": ZARECHYE["dispatch_hours"], "emergency_phone": ZARECHYE["emergency_phone"]}),
    ("показания хвс 123,4 гвс 45", "meter_result", "", {"account": FLAT, "kinds": ["cold", "hot"], "outcomes": [{"kind": "cold", "value": Decimal("123.4"), "reason": None, "previous": None}, {"kind": "hot", "value": Decimal("45"), "reason": None, "previous": None}]}),
    ("показания хвс 100", "meter_result", "lower than last month", {"account": FLAT, "kinds": ["cold", "hot"], "outcomes": [{"kind": "cold", "value": Decimal("100"), "reason": "lower", "previous": Decimal("120.512")}]}),
    ("показания 123", "meter_result", "which meter?", {"account": FLAT, "kinds": ["cold", "hot"], "outcomes": [{"kind": None, "value": Decimal("123"), "reason": "kind_needed", "previous": None}]}),
    ("показания", "meter_format", "", {}),
    ("показания хвс 90", "meter_window", "outside the company's days", {"opens": date(2026, 12, 15), "closes": date(2026, 12, 25), "start": 15, "end": 25}),
    ("показания хвс 90", "meter_none", "no meters on file", {"account": FLAT}),
    ("Когда починят лифт?", "chat_ack", "anything else: the dispatcher reads it", {"company_name": ZARECHYE["name"]}),
    ("Снег во дворе не убран", "chat_ack_closed", "anything else, outside the company's working hours", {"company_name": ZARECHYE["name"], "workday_start": 9, "workday_end": 18, "opens": datetime(2026, 12, 4, 6, 0, tzinfo=UTC), "emergency_phone": ZARECHYE["emergency_phone"], "tz": TZ}),
    ("(empty)", "help_short", "an empty SMS", {}),
    ("нет горячей воды", "outage", "while a notice to the building says it is off", {"outage": "hot_water", "until": SOON, "same_day": True, "tz": TZ}),
    ("баланс", "unrouted", "a shared number, no account", {}),
    ("english", "language_set", "", {}),
    ("стоп", "opt_out", "", {}),
    ("старт", "opt_in", "", {}),
    ("(dispatcher)", "ticket_accepted", "taken into work", {"number": 17, "deadline_at": DUE, "tz": TZ, "note": NOTE}),
    ("(dispatcher)", "ticket_in_progress", "work started", {"number": 17, "deadline_at": DUE, "tz": TZ, "note": None}),
    ("(dispatcher)", "ticket_done", "done", {"number": 17, "deadline_at": DUE, "tz": TZ, "note": "Заменили смеситель."}),
    ("(dispatcher)", "ticket_rejected", "rejected", {"number": 17, "deadline_at": DUE, "tz": TZ, "note": "Кран в квартире — зона ответственности собственника."}),
    ("да", "ticket_confirmed", "after done", {"number": 17}),
    ("нет", "ticket_reopened", "after done", {"number": 17}),
    ("5", "ticket_rated", "after ДА", {}),
    ("(deadline clock)", "alert_near", "to a staff phone", {"number": 17, "problem": "common_tap_leak", "category": "plumbing", "emergency": False, "status": "accepted", "deadline_at": DUE, "address": FLAT["address"], "tz": TZ}),
    ("(deadline clock)", "alert_overdue", "to a staff phone", {"number": 17, "problem": "common_tap_leak", "category": "plumbing", "emergency": False, "status": "accepted", "deadline_at": DUE, "address": FLAT["address"], "tz": TZ}),
    ("(notice sent)", "alert_outage", "to the company admin: longer than decree 354 allows", {"outage": "hot_water", "until": DUE, "hours": 24, "allowed": 4, "per_month": False, "tz": TZ}),
    ("(deadline clock)", "alert_escalation", "to the company admin", {"number": 18, "problem": "gas_smell", "category": "gas", "emergency": True, "status": "new", "deadline_at": SOON, "address": FLAT["address"], "tz": TZ}),
]  # fmt: skip
"""What a resident sends and what comes back, in the order a newcomer would try them."""

ENGLISH_COMMAND = {"помощь": "help", "баланс": "balance", "долг": "debt", "телефоны": "contacts",
                   "стоп": "stop", "старт": "start", "english": "russian", "заявка": "ticket",
                   "статус": "status", "показания": "meter", "привязать": "link",
                   "отвязать": "unlink", "да": "yes", "нет": "no"}  # fmt: skip


def _sms(count: int) -> str:
    return "1 SMS" if count == 1 else f"{count} SMS"


def _block(text: str) -> list[str]:
    return ["```", text.replace("\u00a0", " "), "```"]


def _fallback() -> list[tuple[str, str, str, dict]]:
    """Templates with no example above, shown with their budget test's first data."""
    shown = {name for _, name, _, _ in EXAMPLES}
    missing = [n for n in templates.names("ru") if n not in shown]
    if not missing:
        return []
    sys.path.insert(0, str(ROOT / "tests"))
    from test_templates import SAMPLES  # noqa: PLC0415  (only when a template lacks an example)

    return [("", name, "with the budget test's longest data", SAMPLES[name][0]) for name in missing]


def document() -> str:
    """The page, as text."""
    out = [
        "# What residents read",
        "",
        "<!-- Written by scripts/replies_doc.py from smsbot/templates_sms/; do not edit by hand. -->",
        "",
        "Every reply smsbot sends, rendered from its template with the demo data, as the",
        "resident's phone shows it, and what it costs. A Cyrillic SMS holds 70 characters (67 per",
        "part when split), a Latin one 160 (153); the company pays per part. **Budget** is the most",
        "the template may ever cost, held with long realistic data by tests/test_templates.py. A",
        "company that chose transliterated replies (the admin's SMS replies page) sends the",
        "*translit* text instead.",
        "",
    ]
    for sent, name, situation, params in EXAMPLES + _fallback():
        ru = templates.render(name, "ru", **params)
        en = templates.render(name, "en", **params)
        latin = templates.render(name, "ru", translit=True, **params)
        first = sent.split(" ", 1)
        english = " ".join([ENGLISH_COMMAND.get(first[0], first[0]), *first[1:]]) if sent else ""
        title = f"`{sent}`" if sent and not sent.startswith("(") else (sent or name)
        out += [f"## {title}{f' — {situation}' if situation else ''}", ""]
        out += [f"`{name}` · budget {_sms(ru.budget)} (ru), {_sms(en.budget)} (en)", ""]
        out += [f"Russian, {len(ru.text)} characters, **{_sms(ru.measure.segments)}**:", ""]
        out += _block(ru.text) + [""]
        out += [f"Translit, **{_sms(latin.measure.segments)}**:", ""] + _block(latin.text) + [""]
        lead = f"English (`{english}`)" if english and not sent.startswith("(") else "English"
        out += [f"{lead}, **{_sms(en.measure.segments)}**:", ""] + _block(en.text) + [""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    DOC.write_text(document(), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
