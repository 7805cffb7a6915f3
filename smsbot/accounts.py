"""Accounts as residents see them: which of theirs a command is about, what they owe, and
linking a phone by the code printed on the bill.

Security rules live here. A resident only ever sees accounts linked to their own phone. A
wrong code and an unknown account number get the same answer, so nobody can probe which
accounts exist. A code has only 10,000 values, so failures are counted twice: a phone that
fails five times in 24 hours is locked out, and so is an account number that five wrong
codes were tried on, from however many phones; guessing from many phones gets nowhere. The
dispatcher sees the locks of a thread, and a company admin can lift them (the failures stay,
marked cleared).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from smsbot import routing
from smsbot.addresses import short_address
from smsbot.db import insert_ignore
from smsbot.models import (
    Account,
    AccountCharge,
    AccountLink,
    AccountUnlink,
    Building,
    Company,
    CompanyNumber,
    LinkAttempt,
    Message,
    Resident,
)
from smsbot.services import SERVICES

LOCKOUT_WINDOW = timedelta(hours=24)
"""Failed link attempts count for this long."""
PHONE_FAILURE_LIMIT = 5
"""Failed attempts from one phone within the window that lock it out."""
ACCOUNT_FAILURE_LIMIT = 5
"""Failed attempts on one account number (from any phones) within the window that lock the
number out: as many as one phone may make, so five phones have no more tries than one."""

LINKED = "linked"
ALREADY = "already"
FAILED = "failed"
LOCKED = "locked"


@dataclass(frozen=True)
class Linked:
    """One of the resident's accounts with what a reply shows of it."""

    option: routing.AccountOption
    account: Account
    building: Building

    def view(self) -> dict[str, Any]:
        """Template data: short index, the account number's last digits, street and flat."""
        return {
            "index": self.option.index,
            "number": self.account.number,
            "tail": self.account.number[-4:],
            "address": short_address(self.building.address),
            "apartment": self.account.apartment,
        }


@dataclass(frozen=True)
class Pick:
    """The result of choosing an account: `chosen` is set, or `reason` says why not and
    `candidates` are the accounts to list."""

    reason: str
    chosen: Linked | None = None
    candidates: list[Linked] = field(default_factory=list)


def linked(session: Session, resident: Resident) -> list[Linked]:
    """The resident's accounts, oldest link first (that order gives the short indexes)."""
    rows = session.exec(
        select(Account, Building)
        .join(AccountLink, AccountLink.account_id == Account.id)
        .join(Building, Building.id == Account.building_id)
        .where(AccountLink.resident_id == resident.id)
        .order_by(AccountLink.id)
    ).all()
    return [
        Linked(routing.AccountOption(i, a.id, a.number, a.company_id), a, b)
        for i, (a, b) in enumerate(rows, 1)
    ]


def texted_company_id(session: Session, message: Message, company: Company | None) -> int | None:
    """The company whose own number the message was sent to (None for a shared number)."""
    if company is None:
        return None
    owner = session.exec(
        select(CompanyNumber.company_id).where(CompanyNumber.phone == message.to_phone)
    ).first()
    return owner if owner == company.id else None


def pick(
    session: Session, resident: Resident, selector: str | None, *, company_id: int | None
) -> Pick:
    """Choose among the resident's own accounts (see routing.choose_account)."""
    accounts = linked(session, resident)
    choice = routing.choose_account([a.option for a in accounts], selector, company_id=company_id)
    by_id = {a.option.id: a for a in accounts}
    return Pick(
        choice.reason,
        by_id[choice.account.id] if choice.account else None,
        [by_id[c.id] for c in choice.candidates],
    )


def charges(session: Session, account: Account) -> list[tuple[str, Decimal]]:
    """The bill lines that are not zero, in the order a bill lists them."""
    rows = session.exec(select(AccountCharge).where(AccountCharge.account_id == account.id)).all()
    order = {service: i for i, service in enumerate(SERVICES)}
    lines = sorted(rows, key=lambda c: (order.get(c.service, len(order)), c.service))
    return [(c.service, c.amount) for c in lines if c.amount != 0]


# --- linking by the code on the bill ---------------------------------------------------------


@dataclass(frozen=True)
class LinkResult:
    """What `привязать` did: LINKED, ALREADY, FAILED (attempts_left) or LOCKED (until)."""

    status: str
    account: Linked | None = None
    attempts_left: int = 0
    until: datetime | None = None


def _counting(since: datetime) -> tuple[Any, ...]:
    """The failures that count: failed, not cleared, within the window."""
    return (
        LinkAttempt.succeeded.is_(False),
        LinkAttempt.cleared_at.is_(None),
        LinkAttempt.created_at > since,
    )


def _counted(column: Any, value: str, since: datetime) -> tuple[Any, ...]:
    """The failures that count against one phone or one account number."""
    return (column == value, *_counting(since))


def _failures(session: Session, column: Any, value: str, since: datetime) -> list[datetime]:
    return list(
        session.exec(
            select(LinkAttempt.created_at)
            .where(*_counted(column, value, since))
            .order_by(LinkAttempt.created_at)
        )
    )


def _locked_until(failures: list[datetime], limit: int) -> datetime | None:
    """When the oldest failure that keeps the count at the limit ages out, if it is reached."""
    if len(failures) < limit:
        return None
    return failures[-limit] + LOCKOUT_WINDOW


def lockout(session: Session, phone: str, number: str, now: datetime) -> datetime | None:
    """Until when linking is locked for this phone or this account number, if it is."""
    since = now - LOCKOUT_WINDOW
    phone_until = _locked_until(
        _failures(session, LinkAttempt.phone, phone, since), PHONE_FAILURE_LIMIT
    )
    number_until = _locked_until(
        _failures(session, LinkAttempt.account_number, number, since), ACCOUNT_FAILURE_LIMIT
    )
    found = [t for t in (phone_until, number_until) if t is not None]
    return max(found) if found else None


def link_with_code(
    session: Session, resident: Resident, number: str, code: str, now: datetime
) -> LinkResult:
    """Link the resident's phone to account `number` if `code` is its bill code."""
    # Serialise one phone's attempts (PostgreSQL; SQLite holds the write lock already), so two
    # messages sent at once cannot both slip under the limit.
    session.exec(select(Resident.id).where(Resident.id == resident.id).with_for_update()).one()
    number = "".join(ch for ch in number if ch.isdigit())[:32]
    for own in linked(session, resident):
        if own.account.number == number:
            return LinkResult(ALREADY, own)
    until = lockout(session, resident.phone, number, now)
    if until is not None:
        return LinkResult(LOCKED, until=until)

    candidates = session.exec(select(Account).where(Account.number == number)).all()
    match = next(
        (
            a
            for a in candidates
            if a.bill_code and hmac.compare_digest(a.bill_code.encode(), code.encode())
        ),
        None,
    )
    session.add(
        LinkAttempt(
            phone=resident.phone, account_number=number, succeeded=match is not None, created_at=now
        )
    )
    if match is None:
        session.flush()
        since = now - LOCKOUT_WINDOW
        until = lockout(session, resident.phone, number, now)
        if until is not None:
            return LinkResult(LOCKED, until=until)
        left = min(
            PHONE_FAILURE_LIMIT - len(_failures(session, LinkAttempt.phone, resident.phone, since)),
            ACCOUNT_FAILURE_LIMIT
            - len(_failures(session, LinkAttempt.account_number, number, since)),
        )
        return LinkResult(FAILED, attempts_left=left)
    session.execute(
        delete(AccountUnlink).where(
            AccountUnlink.resident_id == resident.id, AccountUnlink.account_id == match.id
        )
    )
    insert_ignore(
        session,
        AccountLink.__table__,
        {"resident_id": resident.id, "account_id": match.id, "source": "code", "created_at": now},
        ["resident_id", "account_id"],
    )
    session.flush()
    return LinkResult(
        LINKED, next(a for a in linked(session, resident) if a.account.id == match.id)
    )


@dataclass(frozen=True)
class Lock:
    """A lock-out as the dispatcher sees it: of an account number, or (number None) of the
    thread's phone."""

    number: str | None
    until: datetime
    failures: int
    phones: int
    """How many phones the failures came from."""


def _lock(session: Session, column: Any, value: str, limit: int, now: datetime) -> Lock | None:
    failures = _failures(session, column, value, now - LOCKOUT_WINDOW)
    until = _locked_until(failures, limit)
    if until is None:
        return None
    phones = session.exec(
        select(func.count(func.distinct(LinkAttempt.phone))).where(
            *_counted(column, value, now - LOCKOUT_WINDOW)
        )
    ).one()
    number = value if column is LinkAttempt.account_number else None
    return Lock(number, until, len(failures), phones)


def locks_of(
    session: Session, resident: Resident, company_id: int, now: datetime
) -> tuple[Lock | None, list[Lock]]:
    """What a thread shows: the phone's own lock, and the locks of the company's accounts this
    phone is linked to or tried to link in the window."""
    tried = select(LinkAttempt.account_number).where(
        LinkAttempt.phone == resident.phone, LinkAttempt.created_at > now - LOCKOUT_WINDOW
    )
    own = (
        select(Account.number)
        .join(AccountLink, AccountLink.account_id == Account.id)
        .where(AccountLink.resident_id == resident.id)
    )
    numbers = session.exec(
        select(Account.number)
        .where(Account.company_id == company_id)
        .where(Account.number.in_(tried) | Account.number.in_(own))
        .distinct()
        .order_by(Account.number)
    ).all()
    found = [
        _lock(session, LinkAttempt.account_number, n, ACCOUNT_FAILURE_LIMIT, now) for n in numbers
    ]
    phone = _lock(session, LinkAttempt.phone, resident.phone, PHONE_FAILURE_LIMIT, now)
    return phone, [lock for lock in found if lock is not None]


def locked_in(session: Session, company_ids: list[int] | None, now: datetime) -> list[Lock]:
    """The companies' account numbers locked now (None: every company), for the inbox."""
    numbers = select(Account.number)
    if company_ids is not None:
        numbers = numbers.where(Account.company_id.in_(company_ids))
    since = now - LOCKOUT_WINDOW
    locked = session.exec(
        select(LinkAttempt.account_number)
        .where(*_counting(since), LinkAttempt.account_number.in_(numbers))
        .group_by(LinkAttempt.account_number)
        .having(func.count() >= ACCOUNT_FAILURE_LIMIT)
        .order_by(LinkAttempt.account_number)
    ).all()
    found = [
        _lock(session, LinkAttempt.account_number, n, ACCOUNT_FAILURE_LIMIT, now) for n in locked
    ]
    return [lock for lock in found if lock is not None]


def clear_lock(
    session: Session, *, now: datetime, user_id: int, phone: str | None = None,
    number: str | None = None,
) -> int:  # fmt: skip
    """Lift the lock of a phone or an account number: its failures in the window count no
    more. Returns how many were cleared. The caller checks the number is its company's."""
    column, value = (LinkAttempt.phone, phone) if phone else (LinkAttempt.account_number, number)
    return session.execute(
        update(LinkAttempt)
        .where(*_counted(column, value, now - LOCKOUT_WINDOW))
        .values(cleared_at=now, cleared_by_id=user_id)
    ).rowcount


def unlink(session: Session, resident: Resident, account: Linked, now: datetime) -> None:
    """Remove the link, and remember it so the billing phones do not link it back."""
    session.execute(
        delete(AccountLink).where(
            AccountLink.resident_id == resident.id, AccountLink.account_id == account.account.id
        )
    )
    insert_ignore(
        session,
        AccountUnlink.__table__,
        {"resident_id": resident.id, "account_id": account.account.id, "created_at": now},
        ["resident_id", "account_id"],
    )
