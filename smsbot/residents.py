"""Residents and their links to accounts: who is texting, and what they may see."""

from __future__ import annotations

from sqlmodel import Session, select

from smsbot.clock import utcnow
from smsbot.db import insert_ignore
from smsbot.models import Account, AccountLink, AccountPhone, AccountUnlink, Resident


def get_or_create(session: Session, phone: str, *, language: str = "ru") -> Resident:
    """The resident for an E.164 phone, created on first contact (safe under concurrency)."""
    resident = session.exec(select(Resident).where(Resident.phone == phone)).first()
    if resident is None:
        insert_ignore(
            session,
            Resident.__table__,
            {"phone": phone, "language": language, "opted_out": False, "created_at": utcnow()},
            ["phone"],
        )
        resident = session.exec(select(Resident).where(Resident.phone == phone)).one()
    return resident


def link_from_billing(session: Session, resident: Resident) -> list[AccountLink]:
    """Link every account whose billing export lists this phone and is not linked yet (nor
    unlinked by the resident: `отвязать` must stick)."""
    linked = set(
        session.exec(select(AccountLink.account_id).where(AccountLink.resident_id == resident.id))
    )
    linked |= set(
        session.exec(
            select(AccountUnlink.account_id).where(AccountUnlink.resident_id == resident.id)
        )
    )
    created = []
    for account_id in session.exec(
        select(AccountPhone.account_id).where(AccountPhone.phone == resident.phone)
    ):
        if account_id in linked:
            continue
        if insert_ignore(
            session,
            AccountLink.__table__,
            {
                "resident_id": resident.id,
                "account_id": account_id,
                "source": "billing",
                "created_at": utcnow(),
            },
            ["resident_id", "account_id"],
        ):
            linked.add(account_id)
            created.append(account_id)
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
