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

from sqlalchemy import (
    ARRAY,
    Integer,
    any_,
    bindparam,
    delete,
    insert,
    literal,
    select,
    text,
    update,
)
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


def _insert_many(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk INSERT: COPY on PostgreSQL (row-by-row executemany costs a minute for 700,000
    bill lines there), executemany on SQLite (in-process, already fast)."""
    if not rows:
        return
    if session.connection().dialect.name == "postgresql":
        _copy(session, table.name, list(rows[0]), rows)
        return
    for chunk in _chunks(rows):
        session.execute(insert(table), chunk)


def _update_many(
    session: Session, table: Any, rows: list[dict[str, Any]], columns: tuple[str, ...]
) -> None:
    """Bulk UPDATE by id: on PostgreSQL through a temporary table filled by COPY and one
    UPDATE … FROM; on SQLite with executemany."""
    if not rows:
        return
    if session.connection().dialect.name != "postgresql":
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in columns})
        )
        for chunk in _chunks(rows):
            session.execute(
                statement, [{"_id": r["id"], **{c: r[c] for c in columns}} for r in chunk]
            )
        return
    temp = f"import_{table.name}"
    names = ", ".join(columns)
    session.execute(
        text(f"CREATE TEMPORARY TABLE {temp} AS SELECT id, {names} FROM {table.name} WITH NO DATA")
    )
    _copy(session, temp, ["id", *columns], rows)
    assignments = ", ".join(f"{c} = u.{c}" for c in columns)
    session.execute(
        text(f"UPDATE {table.name} AS t SET {assignments} FROM {temp} AS u WHERE t.id = u.id")
    )
    session.execute(text(f"DROP TABLE {temp}"))


def _copy(
    session: Session, table_name: str, columns: list[str], rows: list[dict[str, Any]]
) -> None:
    """COPY rows into a PostgreSQL table, inside the session's transaction."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table_name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    raw = session.connection().connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load(session: Session, company: Company, rows: Iterable[AccountRow]) -> ImportStats:
    """Upsert the rows into the company's accounts, in the caller's transaction."""
    rows = list(rows)
    stats = ImportStats()
    building_ids = _buildings(session, company, {r.address for r in rows}, stats)
    ids, created, changed = _accounts(session, company, rows, building_ids)
    changed |= _phones(session, company, rows, ids, stats)
    changed |= _charges(session, company, rows, ids)
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
    _insert_many(session, table, [{"company_id": company.id, "address": a} for a in new])
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
            updates.append({"id": old.id, **values})
            changed.add(old.id)
    _insert_many(session, table, inserts)
    _update_many(session, table, updates, _ACCOUNT_FIELDS)
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


def _rows_of(session: Session, table: Any, company: Company, *columns: str) -> list[Any]:
    """Every row of a per-account table for the company's accounts, in one query (an IN
    list of 100,000 ids costs more to build and send than the rows we do not need)."""
    accounts = Account.__table__
    query = (
        select(table.c.id, table.c.account_id, *(table.c[c] for c in columns))
        .join(accounts, accounts.c.id == table.c.account_id)
        .where(accounts.c.company_id == company.id)
    )
    return session.execute(query).all()


def _where_in(session: Session, column: Any, values: list[int]) -> Iterator[Any]:
    """`column IN values` as few statements as the database allows: one array parameter on
    PostgreSQL, chunks of bound parameters on SQLite."""
    if session.connection().dialect.name == "postgresql":
        if values:
            yield column == any_(literal(values, ARRAY(Integer)))
        return
    for chunk in _chunks(values):
        yield column.in_(chunk)


def _phones(
    session: Session,
    company: Company,
    rows: list[AccountRow],
    ids: dict[str, int],
    stats: ImportStats,
) -> set[int]:
    """Make each account's phones on file the row's; unlink phones taken off the list."""
    table = AccountPhone.__table__
    imported = {ids[r.number] for r in rows}
    existing = {
        (r.account_id, r.phone): r.id
        for r in _rows_of(session, table, company, "phone")
        if r.account_id in imported  # accounts missing from the file keep their phones
    }
    wanted = {(ids[r.number], p) for r in rows for p in r.phones}
    added = sorted(wanted - existing.keys())
    removed = sorted(existing.keys() - wanted)
    _insert_many(session, table, [{"account_id": a, "phone": p} for a, p in added])
    for where in _where_in(session, table.c.id, [existing[pair] for pair in removed]):
        session.execute(delete(table).where(where))
    stats.unlinked += _unlink_billing(session, set(removed))
    return {a for a, _ in added} | {a for a, _ in removed}


def _unlink_billing(session: Session, pairs: set[tuple[int, str]]) -> int:
    """Remove billing links of (account, phone) pairs no longer on file."""
    links, residents = AccountLink.__table__, Resident.__table__
    doomed = []
    for where in _where_in(session, links.c.account_id, sorted({a for a, _ in pairs})):
        query = (
            select(links.c.id, links.c.account_id, residents.c.phone)
            .join(residents, residents.c.id == links.c.resident_id)
            .where(links.c.source == "billing", where)
        )
        doomed += [r.id for r in session.execute(query) if (r.account_id, r.phone) in pairs]
    for where in _where_in(session, links.c.id, doomed):
        session.execute(delete(links).where(where))
    return len(doomed)


def _charges(
    session: Session, company: Company, rows: list[AccountRow], ids: dict[str, int]
) -> set[int]:
    """Make each account's bill lines the row's service columns. An account whose lines
    changed gets them all rewritten (a month's import changes nearly every amount, and
    delete + bulk insert beats an UPDATE per line)."""
    table = AccountCharge.__table__
    existing: dict[int, dict[str, Decimal]] = {}
    for r in _rows_of(session, table, company, "service", "amount"):
        existing.setdefault(r.account_id, {})[r.service] = Decimal(r.amount)
    changed = [
        (ids[r.number], dict(r.charges))
        for r in rows
        if existing.get(ids[r.number], {}) != dict(r.charges)
    ]
    for where in _where_in(session, table.c.account_id, [a for a, _ in changed if a in existing]):
        session.execute(delete(table).where(where))
    lines = [
        {"account_id": a, "service": s, "amount": v}
        for a, charges in changed
        for s, v in charges.items()
    ]
    _insert_many(session, table, lines)
    return {a for a, _ in changed}
