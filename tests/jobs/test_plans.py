"""The status callbacks' UPDATE finds its row by the index meant for it, on PostgreSQL, and so
does a thread's page with the partial index of migration 0019.

psycopg prepares a statement once it has run 5 times, and PostgreSQL may then keep one
generic plan for it, made without the parameters' values and with the statistics of that
moment. Made while the table was small, the plan took whichever index tied with the primary
key, (provider, external_id) or (direction, status, created_at), and kept it as the table
grew: each callback then read every row of the provider with its dead versions, and the
database spent 10 ms of CPU per message instead of 1.5 (bench/README.md). These tests ask
PostgreSQL for exactly that plan: the statements as built, prepared, planned generically on a
freshly migrated, nearly empty table.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from sqlalchemy import bindparam, create_engine, select, text
from sqlalchemy.dialects import postgresql

from smsbot import clock, outbound
from smsbot.models import OUT_DELIVERED, OUT_SENT, Message

pytestmark = pytest.mark.usefixtures("database_url")

CONDITION = re.compile(r"(Index Cond|Seq Scan).*")
COLUMN = re.compile(r"(\w+)\)?(?:::\w+)? = ")  # "(id = $3)", "((provider)::text = ($2)::text)"


def _generic_plan(url: str, statement, params: dict) -> list[str]:  # noqa: ANN001
    """How the generic plan PostgreSQL makes for `statement` finds its rows: the columns of
    each index condition, or 'Seq Scan'.

    Planned against a table as a new installation has it: migrated and never analysed (a
    temporary copy of `message` with its indexes, which autovacuum never visits, shadows it).
    """
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    names: list[str] = []

    def numbered(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", numbered, compiled.string)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE message (LIKE public.message INCLUDING ALL)"))
            conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
            conn.exec_driver_sql(f"PREPARE callback AS {sql}")
            # the values inlined (a client-side cursor): EXECUTE's own parameters have no type
            values = {**compiled.params, **params}
            cursor = psycopg.ClientCursor(conn.connection.driver_connection)
            arguments = ", ".join(f"%({name})s" for name in names)
            cursor.execute(f"EXPLAIN EXECUTE callback({arguments})", values)
            rows = cursor.fetchall()
            conn.exec_driver_sql("DEALLOCATE callback")
            conn.rollback()
    finally:
        engine.dispose()
    found = [m.group(0) for r in rows if (m := CONDITION.search(r[0]))]
    return [" ".join(COLUMN.findall(f)) or f for f in found]


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("a generic plan is PostgreSQL's")
    return database_url


@pytest.mark.parametrize("status", [OUT_SENT, OUT_DELIVERED])
def test_a_callback_naming_our_id_updates_by_the_primary_key_alone(postgres_url, status):
    params = {"m_id": 30, "m_provider": "twilio", "m_external_id": "SMx", "m_now": clock.utcnow()}
    statement = outbound._forward(status, outbound.BY_CALLBACK, False)
    assert _generic_plan(postgres_url, statement, params) == ["id"]


def test_a_state_by_our_id_alone_updates_by_the_primary_key(postgres_url):
    params = {"m_id": 30, "m_now": clock.utcnow()}
    statement = outbound._forward(OUT_SENT, outbound.BY_ID, False)
    assert _generic_plan(postgres_url, statement, params) == ["id"]


def test_a_callback_by_the_provider_s_id_updates_by_that_id(postgres_url):
    params = {"m_provider": "twilio", "m_external_id": "SMx", "m_now": clock.utcnow()}
    statement = outbound._forward(OUT_SENT, outbound.BY_EXTERNAL_ID, False)
    assert _generic_plan(postgres_url, statement, params) == ["provider external_id"]


def test_a_thread_s_messages_are_found_by_its_partial_index(postgres_url):
    """Migration 0019 keeps only filled-in rows in ix_message_conversation; a generic plan,
    made without the thread's id, must still prove `conversation_id = $1` implies IS NOT
    NULL and use it (conversations.thread's statement)."""
    statement = (
        select(Message.id)
        .where(Message.conversation_id == bindparam("c_id"))
        .order_by(Message.id.desc())
        .limit(bindparam("c_limit"))
    )
    assert _generic_plan(postgres_url, statement, {"c_id": 5, "c_limit": 300}) == [
        "conversation_id"
    ]
