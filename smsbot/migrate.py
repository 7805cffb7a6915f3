"""Run Alembic migrations from code, so `smsbot run` and the tests need no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from smsbot.search import FTS_TABLES, PG_INDEXES

MIGRATIONS = Path(__file__).with_name("migrations")


LEGACY_COLUMNS = {("message", "provider_sid")}
"""Columns the models no longer have but SQLite databases keep, emptied: dropping a UNIQUE
column there means rebuilding its table (see migration 0008). Autogenerate leaves them be."""


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    """Alembic's filter: everything but the legacy columns above and the search's tables and
    indexes (SQLite's FTS5 tables, PostgreSQL's expression indexes: smsbot.search), which
    no model can describe for one database and not the other."""
    if (type_ == "table" and name.startswith(FTS_TABLES)) or (
        type_ == "index" and name in PG_INDEXES
    ):
        return False
    return not (type_ == "column" and (obj.table.name, name) in LEGACY_COLUMNS)


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the database schema up to `revision` (every head by default).

    "heads", not "head": two features developed side by side may each add a migration on
    the same parent; both apply, and a later merge revision joins them.
    """
    command.upgrade(alembic_config(database_url), revision)


def revision(database_url: str, message: str) -> None:
    """Autogenerate a migration from the models (developers run this after changing them)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
