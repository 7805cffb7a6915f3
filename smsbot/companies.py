"""The superadmin's companies and numbers: add a managing company, give it the numbers
residents text, each with the provider account it is rented from.

Routing reads `company_number` on every inbound batch (no cache), so a number added here
routes at once. A number's provider must be one the service has configured: a typo would
otherwise leave replies with no way out.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from smsbot.exceptions import Refused
from smsbot.models import Company, CompanyNumber
from smsbot.phones import InvalidPhone, normalize

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def create(session: Session, *, slug: str, name: str, timezone: str = "Europe/Moscow") -> Company:
    slug, name = slug.strip().lower(), " ".join(name.split())
    if not SLUG.match(slug):
        raise Refused("The short name must be 2 to 63 Latin letters, digits or hyphens.")
    if not name or len(name) > 200:
        raise Refused("The company needs a name (at most 200 characters).")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused("Unknown time zone {tz}.", tz=timezone) from None
    if session.exec(select(Company.id).where(Company.slug == slug)).first() is not None:
        raise Refused("The short name {slug} is taken.", slug=slug)
    company = Company(slug=slug, name=name, timezone=timezone)
    session.add(company)
    session.flush()
    return company


def add_number(
    session: Session,
    company_id: int,
    raw_phone: str,
    *,
    provider: str | None,
    known_providers: list[str],
    label: str | None = None,
) -> CompanyNumber:
    try:
        phone = normalize(raw_phone or "")
    except InvalidPhone as exc:
        raise Refused("The phone number is not usable: {reason}.", reason=exc.reason) from None
    if provider and provider not in known_providers:
        raise Refused("Unknown provider {name}.", name=provider)
    taken = session.exec(select(CompanyNumber.company_id).where(CompanyNumber.phone == phone))
    if taken.first() is not None:
        raise Refused("The number {phone} already belongs to a company.", phone=phone)
    number = CompanyNumber(
        company_id=company_id,
        phone=phone,
        label=(label or "").strip()[:100] or None,
        provider=provider or None,
    )
    session.add(number)
    session.flush()
    return number


def numbers(session: Session) -> dict[int, list[CompanyNumber]]:
    by_company: dict[int, list[CompanyNumber]] = {}
    for number in session.exec(select(CompanyNumber).order_by(CompanyNumber.id)):
        by_company.setdefault(number.company_id, []).append(number)
    return by_company
