"""Alembic environment: the URL comes from smsbot's settings, the schema from our models."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import smsbot.models  # noqa: F401  (registers the tables)
from smsbot import db, migrate

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = db.make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=migrate.include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
