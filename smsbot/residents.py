"""Residents and their links to accounts: who is texting, and what they may see."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, select

from smsbot.clock import utcnow
from smsbot.db import insert_ignore, insert_ignore_returning
from smsbot.models import Account, AccountLink, AccountPhone, AccountUnlink, Resident


def get_or_create(session: Session, phone: str, *, language: str = "ru") -> Resident:
    """The resident for an E.164 phone, created on first contact (safe under concurrency)."""
    return get_or_create_many(session, [phone], language=language)[phone]


def get_or_create_many(
    session: Session, phones: Iterable[str], *, language: str = "ru"
) -> dict[str, Resident]:
    """Residents by phone, creating those seen for the first time: two statements however
    many phones (a worker handles messages in batches), three if another process created
    one of them at the same moment."""
    wanted = list(dict.fromkeys(phones))
    if not wanted:
        return {}
    found = {r.phone: r for r in session.exec(select(Resident).where(Resident.phone.in_(wanted)))}
    missing = [phone for phone in wanted if phone not in found]
    if missing:
        now = utcnow()
        created = insert_ignore_returning(
            session,
            Resident,
            [
                {"phone": p, "language": language, "opted_out": False, "created_at": now}
                for p in missing
            ],
            ["phone"],
        )
        found.update((r.phone, r) for r in created)
        raced = [phone for phone in missing if phone not in found]
        if raced:
            found.update(
                (r.phone, r)
                for r in session.exec(select(Resident).where(Resident.phone.in_(raced)))
            )
    return found


def link_from_billing(session: Session, resident: Resident) -> list[int]:
    """Link every account whose billing export lists this phone and is not linked yet (nor
    unlinked by the resident: `отвязать` must stick)."""
    return link_all_from_billing(session, [resident]).get(resident.id, [])


def link_all_from_billing(session: Session, people: Iterable[Resident]) -> dict[int, list[int]]:
    """`link_from_billing` for many residents; returns the account ids newly linked per
    resident id. One query when no phone is in the billing export (the usual case for a
    message: most residents are linked already, or not listed at all)."""
    by_phone = {r.phone: r for r in people}
    if not by_phone:
        return {}
    listed = session.exec(
        select(AccountPhone.phone, AccountPhone.account_id)
        .where(AccountPhone.phone.in_(list(by_phone)))
        .order_by(AccountPhone.id)
    ).all()
    if not listed:
        return {}
    ids = list({by_phone[phone].id for phone, _ in listed})
    known = set(
        session.exec(
            select(AccountLink.resident_id, AccountLink.account_id).where(
                AccountLink.resident_id.in_(ids)
            )
        )
    ) | set(
        session.exec(
            select(AccountUnlink.resident_id, AccountUnlink.account_id).where(
                AccountUnlink.resident_id.in_(ids)
            )
        )
    )
    now = utcnow()
    created: dict[int, list[int]] = {}
    for phone, account_id in listed:
        pair = (by_phone[phone].id, account_id)
        if pair in known:
            continue
        known.add(pair)
        if insert_ignore(
            session,
            AccountLink.__table__,
            {"resident_id": pair[0], "account_id": account_id, "source": "billing",
             "created_at": now},
            ["resident_id", "account_id"],
        ):  # fmt: skip
            created.setdefault(pair[0], []).append(account_id)
    return created


def linked_accounts(session: Session, resident: Resident) -> list[Account]:
    """The resident's accounts, oldest link first (that order gives the short indexes)."""
    return list(
        session.exec(
            select(Account)
            .join(AccountLink, AccountLink.account_id == Account.id)
            .where(AccountLink.resident_id == resident.id)
            .order_by(AccountLink.id)
        )
    )
