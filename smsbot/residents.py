"""Residents and their links to accounts: who is texting, and what they may see."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, bindparam, exists
from sqlalchemy import select as sa_select
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
    return find_or_create_many(session, phones, language=language)[0]


_BY_PHONES = select(Resident).where(Resident.phone.in_(bindparam("phones", expanding=True)))
"""Built once: a statement built per call costs more than its execution (the worker's
batch runs the few lookups below every time)."""


def find_or_create_many(
    session: Session,
    phones: Iterable[str],
    *,
    language: str = "ru",
    existing: dict[str, Resident] | None = None,
) -> tuple[dict[str, Resident], set[int]]:
    """`get_or_create_many`, and the ids of the residents this call created: a resident
    created in this transaction has no links, unlinks nor threads yet, so the caller needs
    no query to look for them.

    `existing`: the residents of these phones that the caller's transaction has read
    already (the inbound claim joins them); the others are created without looking again
    (one made meanwhile by another process is read back, as when two race).
    """
    wanted = list(dict.fromkeys(phones))
    if not wanted:
        return {}, set()
    if existing is None:
        found = {r.phone: r for r in session.exec(_BY_PHONES, params={"phones": wanted})}
    else:
        found = {phone: existing[phone] for phone in wanted if phone in existing}
    missing = [phone for phone in wanted if phone not in found]
    if not missing:
        return found, set()
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
        found.update((r.phone, r) for r in session.exec(_BY_PHONES, params={"phones": raced}))
    return found, {r.id for r in created}


def link_from_billing(session: Session, resident: Resident) -> list[int]:
    """Link every account whose billing export lists this phone and is not linked yet (nor
    unlinked by the resident: `отвязать` must stick)."""
    return link_all_from_billing(session, [resident]).get(resident.id, [])


_NEITHER_LINKED_NOR_UNLINKED = (
    ~exists()
    .where(
        AccountLink.resident_id == Resident.id, AccountLink.account_id == AccountPhone.account_id
    )
    .correlate(Resident, AccountPhone),
    ~exists()
    .where(
        AccountUnlink.resident_id == Resident.id,
        AccountUnlink.account_id == AccountPhone.account_id,
    )
    .correlate(Resident, AccountPhone),
)
"""Both to the resident and the phone's account of the enclosing queries, named: in
`billing_waits` the resident is two levels out, past the reach of automatic correlation."""
_UNLINKED = (
    sa_select(AccountPhone.phone, AccountPhone.account_id)
    .join(Resident, Resident.phone == AccountPhone.phone)
    .where(
        AccountPhone.phone.in_(bindparam("phones", expanding=True)), *_NEITHER_LINKED_NOR_UNLINKED
    )
    .order_by(AccountPhone.id)
)
"""The billing export's accounts of these phones that are neither linked to their resident
nor unlinked by them: one query, whether or not the phones are listed."""


def billing_waits(phone: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether the billing export lists `phone` for an account not linked to, nor unlinked by,
    the `Resident` of the enclosing query (none yet: every listed account). The inbound claim
    reads it beside each message (smsbot.inbound), so a batch whose senders have nothing to
    link, the usual case, skips `link_all_from_billing`'s query: one statement less per batch.
    """
    return exists().where(AccountPhone.phone == phone, *_NEITHER_LINKED_NOR_UNLINKED)


def link_all_from_billing(session: Session, people: Iterable[Resident]) -> dict[int, list[int]]:
    """`link_from_billing` for many residents; returns the account ids newly linked per
    resident id. One query when there is nothing to link (the usual case for a message:
    most residents are linked already, or not listed at all)."""
    by_phone = {r.phone: r for r in people}
    if not by_phone:
        return {}
    session.flush()  # (what an ORM query does first; the Core one below costs half as much)
    listed = session.connection().execute(_UNLINKED, {"phones": list(by_phone)}).all()
    if not listed:
        return {}
    now = utcnow()
    created: dict[int, list[int]] = {}
    done: set[tuple[int, int]] = set()
    for phone, account_id in listed:
        pair = (by_phone[phone].id, account_id)
        if pair in done:
            continue
        done.add(pair)
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
