"""Demo data for a first start: two companies, buildings, accounts, a linked demo phone.

Realistic on purpose (long addresses, large sums): what a person trying smsbot sees first
should look like the real thing, and the template budgets are tested against it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from smsbot.clock import utcnow
from smsbot.models import (
    Account,
    AccountCharge,
    AccountPhone,
    Building,
    Company,
    CompanyNumber,
    Meter,
    MeterReading,
)

DEMO_PHONE = "+79851234567"
"""The demo resident: listed in the billing data of two flats, so it links on first SMS."""
DEMO_NUMBERS = {"uk-zarechye": "+74951230001", "uk-solnechny": "+74951230002"}
"""Each demo company's own SMS number (what `smsbot sms --to` defaults to)."""

COMPANIES = [
    {
        "slug": "uk-zarechye",
        "name": "УК «Заречье»",
        "timezone": "Europe/Moscow",
        "dispatch_phone": "+74957770101",
        "dispatch_hours": "пн–пт 08:00–20:00",
        "emergency_phone": "+74957770199",
        "meter_window_start": 1,
        "meter_window_end": 31,
        "buildings": [
            ("Московская обл., г. Балашиха, мкр. Заречный, ул. Молодёжная, д. 12, корп. 2", [
                ("5012345678", "148", "3450.20", "4821", [DEMO_PHONE]),
                ("5012345679", "149", "-512.00", "1933", ["+79161234567"]),
                ("5012345680", "150", "128734.56", "7710", []),
            ]),
            ("Московская обл., г. Балашиха, ул. Советская, д. 3", [
                ("5012345690", "7", "0.00", "3301", []),
            ]),
        ],
    },
    {
        "slug": "uk-solnechny",
        "name": "ООО «Управляющая компания Солнечный город»",
        "timezone": "Europe/Moscow",
        "dispatch_phone": "+74964440202",
        "dispatch_hours": "круглосуточно",
        "emergency_phone": "+74964440299",
        "buildings": [
            ("Московская обл., г.о. Подольск, пос. Львовский, ул. Горького, д. 24", [
                ("7020001001", "56", "12890.00", "5512", [DEMO_PHONE]),
                ("7020001002", "57", "999.99", "6104", []),
            ]),
        ],
    },
]  # fmt: skip

BILLING_DATE = date(2026, 11, 1)

CHARGES = {
    "5012345678": {"maintenance": "1180.40", "capital_repairs": "412.50", "cold_water": "356.10",
                   "hot_water": "842.30", "sewerage": "298.90", "electricity": "260.00", "waste": "100.00"},
    "5012345679": {"maintenance": "-512.00"},
    "5012345680": {"maintenance": "52310.20", "capital_repairs": "18400.00", "heating": "31250.80",
                   "hot_water": "14980.40", "cold_water": "4210.16", "waste": "3120.00", "penalty": "4463.00"},
    "7020001001": {"maintenance": "4120.00", "capital_repairs": "1350.00", "heating": "3980.00",
                   "hot_water": "1870.00", "cold_water": "640.00", "sewerage": "510.00", "electricity": "220.00",
                   "intercom": "80.00", "penalty": "120.00"},
    "7020001002": {"maintenance": "999.99"},
}  # fmt: skip
"""Bill lines of each demo account (they add up to its balance)."""

METERS = {
    "5012345678": {"cold": "120.512", "hot": "44.205", "electricity_day": "12345.6", "electricity_night": "5432.1"},
    "5012345679": {"cold": "310.000", "hot": "150.000", "electricity": "20110.0"},
    "7020001001": {"cold": "88.300", "hot": "35.700", "electricity": "7320.4"},
}  # fmt: skip
"""Meters of the demo accounts with last month's readings. Заречье takes readings all month
(window 1–31) so the demo accepts them any day; Солнечный keeps the default 15–25."""


def seed(session: Session) -> bool:
    """Load the demo data unless any company exists; True when it was loaded."""
    if session.exec(select(Company.id).limit(1)).first() is not None:
        return False
    for spec in COMPANIES:
        company = Company(**{k: v for k, v in spec.items() if k != "buildings"})
        session.add(company)
        session.flush()
        session.add(
            CompanyNumber(company_id=company.id, phone=DEMO_NUMBERS[spec["slug"]], label="основной")
        )
        for address, accounts in spec["buildings"]:
            building = Building(company_id=company.id, address=address)
            session.add(building)
            session.flush()
            for number, flat, balance, code, phones in accounts:
                account = Account(
                    company_id=company.id,
                    building_id=building.id,
                    number=number,
                    apartment=flat,
                    balance=Decimal(balance),
                    balance_as_of=BILLING_DATE,
                    bill_code=code,
                )
                session.add(account)
                session.flush()
                for phone in phones:
                    session.add(AccountPhone(account_id=account.id, phone=phone))
                for service, amount in CHARGES.get(number, {}).items():
                    charge = AccountCharge(
                        account_id=account.id, service=service, amount=Decimal(amount)
                    )
                    session.add(charge)
                _seed_meters(session, account, company)
    session.flush()
    return True


def _seed_meters(session: Session, account: Account, company: Company) -> None:
    """The account's meters, each with a reading for last month (local to the company)."""
    today = utcnow().astimezone(ZoneInfo(company.timezone)).date()
    last_month = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    for kind, value in METERS.get(account.number, {}).items():
        meter = Meter(account_id=account.id, kind=kind)
        session.add(meter)
        session.flush()
        reading = MeterReading(
            meter_id=meter.id, period=last_month, value=Decimal(value), source="demo"
        )
        session.add(reading)


def summary() -> str:
    """What a person trying the demo needs to know, printed by `smsbot run` on first start."""
    lines = ["Demo data loaded:"]
    for spec in COMPANIES:
        lines.append(
            f"  {spec['name']}: SMS number {DEMO_NUMBERS[spec['slug']]}, {len(spec['buildings'])} buildings"
        )
    lines.append(f"  demo resident phone {DEMO_PHONE} (linked to two accounts by the billing data)")
    lines.append('  link another phone: smsbot sms +79031112233 "привязать 5012345680 7710"')
    return "\n".join(lines)


# --- Demo staff: one of each role, with passwords made up at first start --------------------

DEMO_STAFF = [
    ("dispatcher", "Ольга Петрова", "dispatcher", "uk-zarechye"),
    ("admin", "Игорь Смирнов", "company_admin", "uk-zarechye"),
    ("solnechny", "Анна Кузнецова", "dispatcher", "uk-solnechny"),
    ("inspector", "Инспектор Госжилинспекции", "inspector", None),
    ("superadmin", "Администратор сервиса", "superadmin", None),
]
"""login, name, role, company slug: one of each role, and a dispatcher of the other company."""
DEMO_STAFF_PHONES = {
    "dispatcher": "+79165550101",
    "admin": "+79165550102",
    "solnechny": "+79165550201",
}
"""Made-up mobiles of the demo company staff, where their deadline alerts go (`smsbot outbox`)."""

DEMO_CANNED = [
    ("Заявка принята", "Здравствуйте! Ваша заявка принята, мастер свяжется с вами в течение дня."),
    ("Уточните адрес", "Здравствуйте! Уточните, пожалуйста, номер подъезда и квартиры."),
    (
        "Плановые работы",
        "Идут плановые работы, подача будет восстановлена до 18:00. Приносим извинения.",
    ),
]


def seed_staff(session: Session) -> dict[str, str]:
    """Add the demo staff with fresh random passwords, and canned replies; login → password.

    The passwords exist only in this return value (and the summary printed from it): a
    demo database that ends up somewhere public has no well-known password.
    """
    import secrets

    from smsbot import users
    from smsbot.models import CannedReply

    companies = {c.slug: c for c in session.exec(select(Company))}
    passwords = {}
    for login, name, role, slug in DEMO_STAFF:
        password = secrets.token_urlsafe(9)
        company = companies.get(slug) if slug else None
        users.create_user(session, login=login, name=name, password=password, role=role,
                          company_id=company.id if company else None, phone=DEMO_STAFF_PHONES.get(login))  # fmt: skip
        passwords[login] = password
    for company in companies.values():
        for title, body in DEMO_CANNED:
            session.add(CannedReply(company_id=company.id, title=title, body=body))
    session.flush()
    return passwords


def staff_summary(passwords: dict[str, str], base_url: str = "http://127.0.0.1:5000") -> str:
    """The sign-ins a person trying the demo needs; printed once, on first start."""
    lines = [f"Web inbox: {base_url}/login  (these passwords are shown only now)"]
    for login, _name, role, slug in DEMO_STAFF:
        if login in passwords:
            where = f", {slug}" if slug else ""
            lines.append(f"  {login:<11} {passwords[login]:<14} {role}{where}")
    return "\n".join(lines)
