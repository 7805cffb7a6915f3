"""The search box as SQL conditions for the inbox and the ticket desk, in either database.

One query is tried every way it could be meant, joined by OR: words in what residents and
dispatchers wrote (by stem, smsbot.search), words of a building's address, digits of a
phone or an account number, a ticket number. Every subquery is limited to the companies
the user sees, as the outer list is.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    ColumnElement,
    Select,
    TextClause,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    table,
    text,
    true,
    union,
)
from sqlmodel import Session, select

from smsbot.models import Account, AccountLink, Building, Conversation, Message, Resident, Ticket
from smsbot.search import PHONE_DIGITS, SEARCHED, Query, address_matches, fts_query

MESSAGE_HITS = 1000
"""The newest messages with the words that a search of the inbox looks at: it shows the 100
latest conversations at most, and a word in 150,000 messages must not cost 150,000 lookups."""


WINDOW = 100_000
"""The newest messages PostgreSQL looks through first for words (see recent_conversation_ids)."""
ENOUGH_CONVERSATIONS = 200
"""Conversations that end the widening: twice the 100 the inbox shows."""


def text_match(dialect: str, table: str, column: str, query: Query) -> TextClause:
    """A condition on `table.id`: its `column` holds every word of the query, by stem.

    PostgreSQL: the expressions of migration 0013's GIN indexes, written the same way so the
    planner uses them. SQLite: the id is among the FTS5 table's matching rowids.
    """
    if dialect == "postgresql":
        kinds = f" AND {SEARCHED.format(table=table)}" if table == "message" else ""
        return text(
            f"(to_tsvector('russian', {table}.{column}) @@ plainto_tsquery('russian', "
            f":words_{table}){kinds})"
        ).bindparams(bindparam(f"words_{table}", " ".join(query.words)))
    return text(
        f"{table}.id IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH :fts_{table})"
    ).bindparams(bindparam(f"fts_{table}", fts_query(query)))


def message_hits(dialect: str, query: Query, company_ids: list[int] | None) -> Select:
    """Conversation ids of the newest MESSAGE_HITS messages that have every word.

    SQLite walks the FTS5 index newest first (it streams rowids in descending order) and
    stops at the limit; asking `message.id IN (matches)` instead would look up every match.
    """
    scope = _scoped(Message.company_id, company_ids)
    if dialect == "postgresql":
        return (
            select(Message.conversation_id)
            .where(text_match(dialect, "message", "body", query), scope)
            .order_by(Message.id.desc())
            .limit(MESSAGE_HITS)
        )
    fts = table("message_fts", column("rowid"))
    return (
        select(Message.conversation_id)
        .select_from(fts)
        .join(Message, Message.id == fts.c.rowid)
        .where(
            text("message_fts MATCH :fts_message").bindparams(
                bindparam("fts_message", fts_query(query))
            ),
            scope,
        )
        .order_by(fts.c.rowid.desc())
        .limit(MESSAGE_HITS)
    )


def _scoped(company_column, company_ids: list[int] | None) -> ColumnElement:  # noqa: ANN001
    return company_column.in_(company_ids) if company_ids is not None else true()


def building_ids(session: Session, query: Query, company_ids: list[int] | None) -> list[int]:
    """Buildings whose address holds every word (a company has hundreds at most: compared
    in Python, where SQLite's LIKE would not fold Cyrillic case)."""
    if not query.words:
        return []
    rows = session.exec(
        select(Building.id, Building.address).where(_scoped(Building.company_id, company_ids))
    )
    return [building_id for building_id, address in rows if address_matches(query, address)]


def _account_numbers(query: Query) -> list[str]:
    return sorted({query.raw, query.digits} - {None}) if query.digits else [query.raw]


def _accounts(query: Query, company_ids: list[int] | None, buildings: list[int]):  # noqa: ANN202
    """Account ids by number (typed as it is printed on the bill) or by building (two
    SELECTs: with an OR, SQLite reads every account of the company instead of one)."""
    by_number = select(Account.id).where(
        _scoped(Account.company_id, company_ids), Account.number.in_(_account_numbers(query))
    )
    if not buildings:
        return by_number
    return union(by_number, select(Account.id).where(Account.building_id.in_(buildings)))


def _phones(query: Query):  # noqa: ANN202
    """Residents whose phone holds the digits (a scan of short strings, no join per row)."""
    return select(Resident.id).where(Resident.phone.contains(query.digits))


def _has_phone(query: Query) -> bool:
    return bool(query.digits) and len(query.digits) >= PHONE_DIGITS


def conversations(
    session: Session, query: Query, company_ids: Iterable[int] | None
) -> ColumnElement:
    """Conversations the query finds, as one `id IN (… UNION …)`: each way of reading the
    query is its own indexed SELECT (an OR of them would make PostgreSQL scan every row and
    stem each text again). Words look at the newest MESSAGE_HITS messages that have them."""
    companies = list(company_ids) if company_ids is not None else None
    scope = _scoped(Conversation.company_id, companies)
    found = []
    said: list[int] = []
    if query.words and session.get_bind().dialect.name == "postgresql":
        said = recent_conversation_ids(session, query, companies)
    elif query.words:
        hits = message_hits("sqlite", query, companies).subquery()
        found.append(select(hits.c.conversation_id))
    if _has_phone(query):
        found.append(
            select(Conversation.id).where(scope, Conversation.resident_id.in_(_phones(query)))
        )
    found.append(
        select(Conversation.id)
        .join(AccountLink, AccountLink.resident_id == Conversation.resident_id)
        .join(Account, Account.id == AccountLink.account_id)
        .where(
            scope,
            Account.company_id == Conversation.company_id,
            Account.id.in_(_accounts(query, companies, building_ids(session, query, companies))),
        )
    )
    if query.ticket_number is not None:
        found.append(
            select(Conversation.id)
            .join(
                Ticket,
                (Ticket.company_id == Conversation.company_id)
                & (Ticket.resident_id == Conversation.resident_id),
            )
            .where(scope, Ticket.number == query.ticket_number)
        )
    return or_(Conversation.id.in_(said), Conversation.id.in_(union(*found)))


def recent_conversation_ids(
    session: Session, query: Query, company_ids: list[int] | None
) -> list[int]:
    """PostgreSQL: the conversations of the newest MESSAGE_HITS messages with the words,
    looked for among the newest WINDOW messages first, then four times as many, and so on
    until the hits fill MESSAGE_HITS or name ENOUGH_CONVERSATIONS conversations.

    A GIN index answers "which rows" but not "newest first", so the newest 5,000 of 60,000
    matches means reading all 60,000 rows. With the id range as a literal the planner ANDs
    the GIN bitmap with the primary key's, and reads only the recent part of the table.
    """
    newest = session.exec(select(func.max(Message.id))).one() or 0
    window = WINDOW
    while True:
        low = max(newest - window, 0)
        hits = message_hits("postgresql", query, company_ids)
        if low:  # the whole table at last: no range to AND with
            hits = hits.where(Message.id > literal_column(str(int(low))))
        rows = session.exec(hits).all()
        if len(rows) >= MESSAGE_HITS or len(set(rows)) >= ENOUGH_CONVERSATIONS or low == 0:
            return list(dict.fromkeys(rows))
        window *= 4


def tickets(session: Session, query: Query, company_ids: Iterable[int] | None) -> ColumnElement:
    """Tickets the query finds, by number, text, address, account or the resident's phone (one
    `id IN (… UNION …)`, as for conversations)."""
    companies = list(company_ids) if company_ids is not None else None
    scope = _scoped(Ticket.company_id, companies)
    found = [select(Ticket.id).where(scope, Ticket.account_id.in_(_accounts(query, companies, [])))]
    if query.ticket_number is not None:
        found.append(select(Ticket.id).where(scope, Ticket.number == query.ticket_number))
    if query.words:
        dialect = session.get_bind().dialect.name
        found.append(select(Ticket.id).where(scope, text_match(dialect, "ticket", "text", query)))
    buildings = building_ids(session, query, companies)
    if buildings:
        found.append(select(Ticket.id).where(scope, Ticket.building_id.in_(buildings)))
    if _has_phone(query):
        found.append(select(Ticket.id).where(scope, Ticket.resident_id.in_(_phones(query))))
    return Ticket.id.in_(union(*found))
