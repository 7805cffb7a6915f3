"""Loading a company's billing export: accounts, addresses, flats, phones on file, balances
with their date, bill lines and bill codes.

Reading is all or nothing by default: every row is checked first (smsbot.billing_rows) and
a file with a bad row imports nothing. Writing is an upsert keyed by the account number, in
one transaction, by bulk statements (100,000 rows in seconds), and importing the same file
again changes nothing. Accounts missing from a file are left alone: an export of one
building must not wipe the others.

A phone taken off an account's list is unlinked from it if it was linked by the billing
data: when a flat changes hands, the old owner stops seeing the new owner's bills.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select, tuple_, update
from sqlmodel import Session

from smsbot.billing_rows import AccountRow, RowError, check_header, validate_all
from smsbot.models import (
    Account,
    AccountCharge,
    AccountLink,
    AccountPhone,
    Building,
    Company,
    Resident,
)

CHUNK = 5000
"""Rows per bulk statement (and per IN list), well under every driver's parameter limit."""
ENCODINGS = ("utf-8-sig", "cp1251")
"""UTF-8 (with or without Excel's BOM), else Windows-1251 as Russian Excel saves CSV."""


@dataclass
class FileCheck:
    """A file read and checked: its good rows, its bad rows, and problems with the file itself."""

    rows: list[AccountRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """The header or the encoding is wrong: nothing can be read."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.errors


@dataclass
class ImportStats:
    """What an import changed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    buildings: int = 0
    """Buildings that were new."""
    unlinked: int = 0
    """Billing links removed because the phone is no longer on the account's list."""


def _decode(raw: bytes) -> str | None:
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def read(path: Path, *, today: date | None = None) -> FileCheck:
    """Read a billing CSV (`;` or `,` separated) and check every row."""
    text = _decode(path.read_bytes())
    if text is None:
        return FileCheck(problems=["the file is neither UTF-8 nor Windows-1251 text"])
    return check_text(text, today=today)


def check_text(text: str, *, today: date | None = None) -> FileCheck:
    """Check CSV text: the header, then every row (numbered as lines of the file)."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if not reader.fieldnames:
        return FileCheck(problems=["the file is empty"])
    problems = check_header(reader.fieldnames)
    if problems:
        return FileCheck(problems=problems)
    numbered, ragged = [], []
    for row in reader:
        if None in row:  # DictReader keeps cells beyond the header under None
            ragged.append(RowError(reader.line_num, "more cells than the header has columns"))
        elif any((v or "").strip() for v in row.values()):
            numbered.append((reader.line_num, row))
    rows, errors = validate_all(numbered, today=today)
    return FileCheck(rows, sorted(errors + ragged, key=lambda e: e.line))


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load(session: Session, company: Company, rows: Iterable[AccountRow]) -> ImportStats:
    """Upsert the rows into the company's accounts, in the caller's transaction."""
    rows = list(rows)
    stats = ImportStats()
    building_ids = _buildings(session, company, {r.address for r in rows}, stats)
    ids, created, changed = _accounts(session, company, rows, building_ids)
    changed |= _phones(session, rows, ids, stats)
    changed |= _charges(session, rows, ids)
    stats.created = len(created)
    stats.updated = len(changed - created)
    stats.unchanged = len(rows) - stats.created - stats.updated
    return stats


def _buildings(
    session: Session, company: Company, addresses: set[str], stats: ImportStats
) -> dict[str, int]:
    table = Building.__table__
    query = select(table.c.address, table.c.id).where(table.c.company_id == company.id)
    known = dict(session.execute(query).all())
    new = sorted(addresses - known.keys())
    for chunk in _chunks(new):
        session.execute(insert(table), [{"company_id": company.id, "address": a} for a in chunk])
    if new:
        known = dict(session.execute(query).all())
    stats.buildings = len(new)
    return known


_ACCOUNT_FIELDS = ("building_id", "apartment", "balance", "balance_as_of", "bill_code")


def _accounts(
    session: Session, company: Company, rows: list[AccountRow], building_ids: dict[str, int]
) -> tuple[dict[str, int], set[int], set[int]]:
    """Insert new accounts and update changed ones; (number → id, created ids, changed ids)."""
    table = Account.__table__
    query = select(table.c.number, table.c.id, *(table.c[f] for f in _ACCOUNT_FIELDS)).where(
        table.c.company_id == company.id
    )
    existing = {r.number: r for r in session.execute(query)}
    inserts, updates, changed = [], [], set()
    for row in rows:
        values = {
            "building_id": building_ids[row.address],
            "apartment": row.apartment,
            "balance": row.balance,
            "balance_as_of": row.balance_as_of,
            "bill_code": row.bill_code,
        }
        old = existing.get(row.number)
        if old is None:
            inserts.append({"company_id": company.id, "number": row.number, **values})
        elif any(_differs(getattr(old, f), values[f]) for f in _ACCOUNT_FIELDS):
            updates.append({"_id": old.id, **values})
            changed.add(old.id)
    for chunk in _chunks(inserts):
        session.execute(insert(table), chunk)
    statement = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({f: bindparam(f) for f in _ACCOUNT_FIELDS})
    )
    for chunk in _chunks(updates):
        session.execute(statement, chunk)
    ids = dict(
        session.execute(
            select(table.c.number, table.c.id).where(table.c.company_id == company.id)
        ).all()
    )
    return ids, {ids[i["number"]] for i in inserts}, changed


def _differs(old: Any, new: Any) -> bool:
    if isinstance(new, Decimal) and old is not None:
        return Decimal(old) != new
    return old != new


def _pairs_of(
    session: Session, table: Any, column: str, account_ids: list[int]
) -> dict[tuple[int, str], Any]:
    found: dict[tuple[int, str], Any] = {}
    for chunk in _chunks(account_ids):
        cols = [table.c.account_id, table.c[column]] + (
            [table.c.amount] if column == "service" else []
        )
        for r in session.execute(select(*cols).where(table.c.account_id.in_(chunk))):
            found[(r[0], r[1])] = r[2] if column == "service" else None
    return found


def _phones(
    session: Session, rows: list[AccountRow], ids: dict[str, int], stats: ImportStats
) -> set[int]:
    """Make each account's phones on file the row's; unlink phones taken off the list."""
    table = AccountPhone.__table__
    account_ids = [ids[r.number] for r in rows]
    existing = set(_pairs_of(session, table, "phone", account_ids))
    wanted = {(ids[r.number], p) for r in rows for p in r.phones}
    added, removed = sorted(wanted - existing), sorted(existing - wanted)
    for chunk in _chunks(added):
        session.execute(insert(table), [{"account_id": a, "phone": p} for a, p in chunk])
    for chunk in _chunks(removed):
        session.execute(delete(table).where(tuple_(table.c.account_id, table.c.phone).in_(chunk)))
        stats.unlinked += _unlink_billing(session, chunk)
    return {a for a, _ in added} | {a for a, _ in removed}


def _unlink_billing(session: Session, pairs: list[tuple[int, str]]) -> int:
    links, residents = AccountLink.__table__, Resident.__table__
    doomed = (
        select(links.c.id)
        .join(residents, residents.c.id == links.c.resident_id)
        .where(
            links.c.source == "billing", tuple_(links.c.account_id, residents.c.phone).in_(pairs)
        )
    )
    ids = list(session.execute(doomed).scalars())
    if ids:
        session.execute(delete(links).where(links.c.id.in_(ids)))
    return len(ids)


def _charges(session: Session, rows: list[AccountRow], ids: dict[str, int]) -> set[int]:
    """Make each account's bill lines the row's service columns."""
    table = AccountCharge.__table__
    existing = _pairs_of(session, table, "service", [ids[r.number] for r in rows])
    wanted = {(ids[r.number], s): a for r in rows for s, a in r.charges}
    inserts = [
        {"account_id": a, "service": s, "amount": v}
        for (a, s), v in wanted.items()
        if (a, s) not in existing
    ]
    updates = [
        {"_account": a, "_service": s, "amount": v}
        for (a, s), v in wanted.items()
        if (a, s) in existing and Decimal(existing[(a, s)]) != v
    ]
    removed = sorted(existing.keys() - wanted.keys())
    for chunk in _chunks(inserts):
        session.execute(insert(table), chunk)
    statement = (
        update(table)
        .where(
            and_(
                table.c.account_id == bindparam("_account"),
                table.c.service == bindparam("_service"),
            )
        )
        .values(amount=bindparam("amount"))
    )
    for chunk in _chunks(updates):
        session.execute(statement, chunk)
    for chunk in _chunks(removed):
        session.execute(delete(table).where(tuple_(table.c.account_id, table.c.service).in_(chunk)))
    return (
        {i["account_id"] for i in inserts}
        | {u["_account"] for u in updates}
        | {a for a, _ in removed}
    )
