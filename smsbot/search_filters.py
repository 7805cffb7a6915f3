"""The search box as SQL conditions for the inbox and the ticket desk, in either database.

One query is tried every way it could be meant, joined by OR: words in what residents and
dispatchers wrote (by stem, smsbot.search), words of a building's address, digits of a
phone or an account number, a ticket number. Every subquery is limited to the companies
the user sees, as the outer list is.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, TextClause, bindparam, false, or_, text, true, tuple_
from sqlmodel import Session, select

from smsbot.models import Account, AccountLink, Building, Conversation, Message, Resident, Ticket
from smsbot.search import PHONE_DIGITS, SEARCHED_KINDS, Query, address_matches, fts_query


def text_match(dialect: str, table: str, column: str, query: Query) -> TextClause:
    """A condition on `table.id`: its `column` holds every word of the query, by stem.

    PostgreSQL: the expressions of migration 0013's GIN indexes, written the same way so the
    planner uses them. SQLite: the id is among the FTS5 table's matching rowids.
    """
    if dialect == "postgresql":
        kinds = f" AND {table}.kind IN {SEARCHED_KINDS!r}" if table == "message" else ""
        return text(
            f"(to_tsvector('russian', {table}.{column}) @@ plainto_tsquery('russian', "
            f":words_{table}){kinds})"
        ).bindparams(bindparam(f"words_{table}", " ".join(query.words)))
    return text(
        f"{table}.id IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH :fts_{table})"
    ).bindparams(bindparam(f"fts_{table}", fts_query(query)))


def _scoped(column, company_ids: list[int] | None) -> ColumnElement:  # noqa: ANN001
    return column.in_(company_ids) if company_ids is not None else true()


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
    """Account ids by number (typed as it is printed on the bill) or by building."""
    return select(Account.id).where(
        _scoped(Account.company_id, company_ids),
        or_(Account.number.in_(_account_numbers(query)), Account.building_id.in_(buildings)),
    )


def _phone(query: Query) -> ColumnElement:
    if query.digits and len(query.digits) >= PHONE_DIGITS:
        return Resident.phone.contains(query.digits)
    return false()


def conversations(
    session: Session, query: Query, company_ids: Iterable[int] | None
) -> ColumnElement:
    """Conversations (joined with their Resident) the query finds."""
    companies = list(company_ids) if company_ids is not None else None
    found: list[ColumnElement] = [_phone(query)]
    if query.words:
        dialect = session.get_bind().dialect.name
        found.append(
            Conversation.id.in_(
                select(Message.conversation_id).where(
                    text_match(dialect, "message", "body", query),
                    _scoped(Message.company_id, companies),
                )
            )
        )
    buildings = building_ids(session, query, companies)
    found.append(
        tuple_(Conversation.company_id, Conversation.resident_id).in_(
            select(Account.company_id, AccountLink.resident_id)
            .join(Account, Account.id == AccountLink.account_id)
            .where(AccountLink.account_id.in_(_accounts(query, companies, buildings)))
        )
    )
    if query.ticket_number is not None:
        found.append(
            tuple_(Conversation.company_id, Conversation.resident_id).in_(
                select(Ticket.company_id, Ticket.resident_id).where(
                    Ticket.number == query.ticket_number, _scoped(Ticket.company_id, companies)
                )
            )
        )
    return or_(*found)


def tickets(session: Session, query: Query, company_ids: Iterable[int] | None) -> ColumnElement:
    """Tickets the query finds: by number, text, address, account or the resident's phone."""
    companies = list(company_ids) if company_ids is not None else None
    found: list[ColumnElement] = []
    if query.ticket_number is not None:
        found.append(Ticket.number == query.ticket_number)
    if query.words:
        found.append(text_match(session.get_bind().dialect.name, "ticket", "text", query))
    buildings = building_ids(session, query, companies)
    if buildings:
        found.append(Ticket.building_id.in_(buildings))
    found.append(Ticket.account_id.in_(_accounts(query, companies, [])))
    if query.digits and len(query.digits) >= PHONE_DIGITS:
        found.append(
            Ticket.resident_id.in_(select(Resident.id).where(Resident.phone.contains(query.digits)))
        )
    return or_(*found)
