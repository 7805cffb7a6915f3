"""The database engine and sessions, for SQLite (default) and PostgreSQL alike.

One engine per process, made by `create_app`. SQLite gets the pragmas that make it a fair
single-machine database (WAL so readers never block the writer, a busy timeout so concurrent
writers queue instead of failing, foreign keys on).
"""

from __future__ import annotations

import random
import re
import select
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, event, exc, func, literal_column
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import make_transient, make_transient_to_detached
from sqlmodel import Session, create_engine

from smsbot import counting, search, writer_lock

_engine: Engine | None = None
_writers: dict[tuple[float | None, bool], Engine] = {}
"""`writer`'s engines of the current `_engine`, by (lock_wait, single); `init` empties it."""
_autocommit: Engine | None = None
"""On PostgreSQL, the engine of `writer`'s single units: the same database, a pool of its own
whose connections stay in autocommit. Why not an execution option of the main engine
(`isolation_level`): SQLAlchemy then switches a connection to autocommit at each checkout
and back at each checkin, about 200 of a webhook's 1,130 Python calls (bench/README.md);
the price is a few more connections per process (each opened when first needed)."""

SQLITE_BUSY_TIMEOUT_MS = 5000
"""How long SQLite itself waits on a lock inside a transaction (rare in WAL mode)."""
WRITER_OPTION = "smsbot_writer"
"""Execution option marking connections whose transactions will write (see `writer`)."""
LOCK_WAIT_OPTION = "smsbot_lock_wait"
"""Execution option: seconds a writer waits for SQLite's write lock, when not
SQLITE_LOCK_TIMEOUT (a webhook must answer within its provider's time limit)."""
POSTGRES_CONNECT_TIMEOUT = 5
"""Seconds to wait for PostgreSQL to accept a connection: a server gone silent (not
refusing) must cost a webhook seconds, not the kernel's two minutes, before it spools."""
SQLITE_LOCK_TIMEOUT = 30.0
"""Seconds a transaction waits for SQLite's write lock before giving up."""


def begin_immediate(dbapi_conn: sqlite3.Connection, timeout: float = SQLITE_LOCK_TIMEOUT) -> None:
    """Start an SQLite transaction holding the write lock, waiting for it in fine steps.

    Why: SQLite has one writer. A deferred transaction that reads and then writes fails at
    once ("database is locked", no waiting) when another process committed in between, and
    SQLite's own busy handler waits in coarse steps (up to 100 ms) that ruin latency when
    web and worker processes take turns hundreds of times a second. So every transaction
    that will write takes the lock at BEGIN (see `writer`), and we poll for it in steps of a
    fraction of a millisecond. The connection's busy timeout must be 0 (see `_busy_timeout`).
    """
    deadline = None
    pause = 0.00005
    while True:
        try:
            dbapi_conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            counting.counts["sqlite_lock_polls"] += 1
            now = time.monotonic()
            if deadline is None:
                deadline = now + timeout
            elif now > deadline:
                raise
        time.sleep(pause * (0.5 + random.random()))
        pause = min(pause * 1.5, 0.0005)


def _busy_timeout(connection: Any, dbapi_conn: sqlite3.Connection, ms: int) -> None:
    """Set the connection's busy timeout unless it already is `ms`.

    A writer's transaction runs with 0 (it polls for the lock at BEGIN and then holds it,
    so nothing inside it waits in WAL mode; without WAL its COMMIT must wait for readers,
    so it gets the timeout back); a reader's with SQLITE_BUSY_TIMEOUT_MS. The
    setting stays with the pooled connection, so a run of writes (every webhook) costs no
    PRAGMA, where setting and restoring it around each BEGIN cost two.
    """
    info = connection.info
    if info.get("busy_timeout_ms") != ms:
        dbapi_conn.execute(f"PRAGMA busy_timeout={ms}")
        info["busy_timeout_ms"] = ms


def _end_turn(held: dict[int, writer_lock.WriterLock], dbapi_conn: Any) -> None:
    """Release the writer lock this connection holds, if any (see smsbot.writer_lock).
    `dbapi_conn` may be the pool's proxy of it, as the dialect's do_commit receives it."""
    lock = held.pop(id(getattr(dbapi_conn, "dbapi_connection", dbapi_conn)), None)
    if lock is not None:
        lock.release()


def _writer_turns(engine: Engine) -> dict[int, writer_lock.WriterLock]:
    """The writer locks held by `engine`'s connections (id of the DBAPI connection → lock),
    released right after each COMMIT or ROLLBACK, not when the connection goes back to the
    pool: a connection kept checked out between two transactions (a send job calling its
    provider) must not keep every other writer waiting meanwhile.

    SQLAlchemy's commit and rollback events fire before the DBAPI call, which would let the
    next writer in while this COMMIT still holds SQLite's own lock; so the dialect's
    do_commit/do_rollback of this engine are wrapped instead. A connection closed or
    invalidated gives up its turn and closes its lock file.
    """
    held: dict[int, writer_lock.WriterLock] = {}
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def commit_then_release(dbapi_conn: Any) -> None:
        try:
            do_commit(dbapi_conn)
        finally:
            _end_turn(held, dbapi_conn)

    def rollback_then_release(dbapi_conn: Any) -> None:
        try:
            do_rollback(dbapi_conn)
        finally:
            _end_turn(held, dbapi_conn)

    def gone(dbapi_conn: Any, record: Any = None, *_: Any) -> None:
        _end_turn(held, dbapi_conn)
        lock = record.info.pop(_LOCK_KEY, None) if record is not None else None
        if lock is not None:
            lock.close()

    dialect.do_commit = commit_then_release  # type: ignore[method-assign]
    dialect.do_rollback = rollback_then_release  # type: ignore[method-assign]
    for name in ("close", "invalidate", "close_detached"):
        event.listen(engine, name, gone)
    return held


_LOCK_KEY = "smsbot_writer_lock"
"""Connection record info key: the connection's WriterLock (smsbot.writer_lock)."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine tuned for our two databases.

    Its errors never show the statement's parameters: they are residents' phones and texts,
    and a database error ends up in a log (the connector's and the workers' alike).
    """
    kwargs.setdefault("hide_parameters", True)
    counting.count_sql()  # only when SMSBOT_COUNT_DIR is set (the benchmark)
    if url.startswith("sqlite"):
        from pathlib import Path

        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # Let SQLAlchemy, not pysqlite, decide when a transaction starts (the documented
            # recipe): readers BEGIN deferred, writers BEGIN IMMEDIATE (see `writer`).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()
            _record.info["wal"] = bool(mode) and str(mode[0]).lower() == "wal"
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()
            _record.info["busy_timeout_ms"] = SQLITE_BUSY_TIMEOUT_MS
            # the search triggers and queries stem in Python (see smsbot.search)
            dbapi_conn.create_function("smsbot_stem", 1, search.stem_text, deterministic=True)

        lock_path = writer_lock.path_for(path.partition("?")[0]) if path != url else None
        held = _writer_turns(engine)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            pooled = conn.connection
            dbapi_conn = pooled.dbapi_connection
            options = conn.get_execution_options()
            if options.get(WRITER_OPTION):
                _busy_timeout(pooled, dbapi_conn, 0)
                timeout = options.get(LOCK_WAIT_OPTION, SQLITE_LOCK_TIMEOUT)
                if lock_path is not None and id(dbapi_conn) not in held:
                    lock = pooled.info.get(_LOCK_KEY)
                    if lock is None:
                        lock = pooled.info[_LOCK_KEY] = writer_lock.WriterLock(lock_path)
                    timeout = max(timeout - lock.acquire(timeout), 0.0)
                    held[id(dbapi_conn)] = lock
                try:
                    begin_immediate(dbapi_conn, timeout)
                except BaseException:
                    _end_turn(held, dbapi_conn)
                    raise
                if not pooled.info.get("wal"):  # its COMMIT may wait for readers' locks
                    _busy_timeout(pooled, dbapi_conn, SQLITE_BUSY_TIMEOUT_MS)
            else:
                _busy_timeout(pooled, dbapi_conn, SQLITE_BUSY_TIMEOUT_MS)
                conn.exec_driver_sql("BEGIN")

        return engine
    _cache_long_statements()
    kwargs.setdefault("connect_args", {"connect_timeout": POSTGRES_CONNECT_TIMEOUT})
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "handle_error", _hide_row_values)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkout", _ping_in_doubt(engine))
    return engine


PSYCOPG_CACHED_LENGTH = 64 * 1024
PSYCOPG_CACHED_PARAMS = 2000
"""Statements up to this long, with up to this many parameters, have their conversion to
PostgreSQL's $n placeholders cached by psycopg (`_cache_long_statements`)."""


def _cache_long_statements() -> None:
    """Let psycopg cache the conversion of our multi-row statements too.

    psycopg turns every statement's %(name)s placeholders into $n by a regex scan, cached per
    statement text only for statements under 4,096 characters with at most 50 parameters
    (psycopg/_queries.py, MAX_CACHED_STATEMENT_LENGTH and _PARAMS; discussion #628: an ORM's
    INSERT … VALUES (…), (…) of varying row counts seldom repeats). Ours do repeat: a batch's
    INSERT of 20 messages (19 KB, 600 parameters) has the same text every time, and a lone
    message's one-statement write (`write_all`, 62 parameters) too. Scanning a 13 KB INSERT
    took 1.8 ms here, and with the cache Python calls per handled message fell 2,412 → 1,771
    in a batch of 20 and 6,007 → 5,037 alone (bench/README.md). The cache is psycopg's own
    LRU (128 statements), so memory stays bounded. There is no public setting: should psycopg
    rename these limits, nothing is changed (and `test_long_statements_are_converted_once`
    fails).
    """
    from psycopg import _queries

    for name, least in (
        ("MAX_CACHED_STATEMENT_LENGTH", PSYCOPG_CACHED_LENGTH),
        ("MAX_CACHED_STATEMENT_PARAMS", PSYCOPG_CACHED_PARAMS),
    ):
        if isinstance(getattr(_queries, name, None), int):
            setattr(_queries, name, max(getattr(_queries, name), least))


IDLE_PING_SECONDS = 10.0
"""A pooled PostgreSQL connection not taken from the pool for longer than this is pinged
before use (see `_ping_in_doubt`): a firewall or NAT may have dropped it without a word."""
_TAKEN = "smsbot_taken"
"""Connection record info key: time.monotonic() when the connection was last checked out
(not when it came back: one listener per checkout instead of two)."""


def _ping_in_doubt(engine: Engine) -> Any:
    """A pool checkout listener: ping a pooled PostgreSQL connection only when in doubt.

    Why not SQLAlchemy's `pool_pre_ping`: it sends a statement on every checkout, a round
    trip that costs our process and the server about as much as the one statement a webhook
    runs (bench/README.md, "One round trip for a webhook on PostgreSQL"). A connection the
    server has ended is not silent: a restart, `pg_terminate_backend` or a crash of its
    backend leaves an error message or end-of-file waiting on the socket, which a zero-wait
    `select` sees. So it is pinged only when its socket has something to read, psycopg
    marks it broken or closed, or it was last taken longer than IDLE_PING_SECONDS ago. A
    failed ping raises InvalidatePoolError: the pool drops that connection and every older
    one, and hands out a new one, as with pre-ping.
    """
    dialect = engine.dialect

    def in_doubt(dbapi_conn: Any, record: Any) -> bool:
        if dbapi_conn.closed or getattr(dbapi_conn, "broken", False):
            return True
        now = time.monotonic()
        taken, record.info[_TAKEN] = record.info.get(_TAKEN), now  # None: just connected
        if taken is not None and now - taken > IDLE_PING_SECONDS:
            return True
        try:
            readable, _, _ = select.select([dbapi_conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if in_doubt(dbapi_conn, record) and not dialect._do_ping_w_event(dbapi_conn):
            raise exc.InvalidatePoolError("PostgreSQL connection lost")

    return checkout


_DETAIL = re.compile(r"^DETAIL:.*$", re.MULTILINE)


def _hide_row_values(context: Any) -> None:
    """Drop PostgreSQL's DETAIL line from a database error before anyone logs it.

    `hide_parameters` keeps the statement's values out of SQLAlchemy's text, but the server
    quotes them itself: "DETAIL: Failing row contains (…, +79851234567, <the text>, …)",
    "Key (phone)=(+7…) already exists". The error's kind and constraint stay; its
    `diag` keeps the detail for code that asks.
    """
    for error in (context.original_exception, context.sqlalchemy_exception):
        text = error.args[0] if error is not None and error.args else None
        if isinstance(text, str) and "DETAIL:" in text:
            hidden = _DETAIL.sub("DETAIL: (hidden: it quotes the row's values)", text)
            error.args = (hidden, *error.args[1:])


def init(url: str, **kwargs: Any) -> Engine:
    """Make the process-wide engine (called by create_app)."""
    global _engine, _autocommit
    for made in engines() if _engine is not None else ():
        made.dispose()
    _writers.clear()
    _engine = make_engine(url, **kwargs)
    _autocommit = None
    if _engine.dialect.name == "postgresql":
        _autocommit = make_engine(url, **kwargs, isolation_level="AUTOCOMMIT")
    return _engine


def engines() -> list[Engine]:
    """Every engine of this process: `engine()`, and on PostgreSQL the one of `writer`'s
    single units (`_autocommit`). For a listener that must see every statement."""
    return [engine(), *([_autocommit] if _autocommit is not None else [])]


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database not initialised: call smsbot.db.init() (create_app does)")
    return _engine


def writer(lock_wait: float | None = None, single: bool = False) -> Engine:
    """The engine for units of work that write: on SQLite they hold the write lock from BEGIN.

    Use it for anything that reads and then writes (jobs, webhooks, form posts); plain
    `engine()` sessions are for reading, and never block writers. `lock_wait`: seconds to
    wait for SQLite's write lock before giving up (OperationalError), when not the default.

    `single`: the unit is one write statement, or writes that stand each on their own (a
    webhook's INSERT, a status's forward-only UPDATE). On PostgreSQL it then runs in
    autocommit, each statement its own transaction: psycopg sends BEGIN and COMMIT as round
    trips of their own, which cost a webhook's process and the server more than its one
    statement (bench/README.md, "One round trip for a webhook on PostgreSQL"). SQLite keeps
    its BEGIN IMMEDIATE, which is how a writer takes the write lock, and costs no round trip.
    """
    key = (lock_wait, single and _autocommit is not None)
    found = _writers.get(key)
    if found is None:
        options: dict[str, Any] = {WRITER_OPTION: True}
        if lock_wait is not None:
            options[LOCK_WAIT_OPTION] = lock_wait
        base = _autocommit if key[1] else engine()
        found = _writers[key] = base.execution_options(**options)
    return found


@contextmanager
def session_scope() -> Iterator[Session]:
    """A writing session whose transaction commits on success and rolls back on error."""
    with Session(writer(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@lru_cache(maxsize=64)
def _insert_ignore_statement(dialect: str, table: Any, keys: tuple[str, ...]) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    # RETURNING, not rowcount: drivers disagree on rowcount for a skipped conflicting row.
    return statement.returning(table.c.id)


def insert_ignore(
    executor: Session | Connection, table: Any, values: dict[str, Any], keys: list[str]
) -> int | None:
    """INSERT a row unless one with the same unique `keys` exists; return its new id, or None.

    Both SQLite and PostgreSQL speak ON CONFLICT DO NOTHING, which is what makes concurrent
    duplicate webhooks and first messages from a new phone safe without a retry loop. The
    statement is built once per table, so the hot webhook path only binds values.
    """
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    stmt = _insert_ignore_statement(bind.dialect.name, table, tuple(keys))
    return executor.execute(stmt, values).scalar_one_or_none()


@lru_cache(maxsize=64)
def _insert_ignore_returning_statement(dialect: str, table: Any, keys: tuple[str, ...]) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return (
        dialect_insert(table).on_conflict_do_nothing(index_elements=list(keys)).returning(*table.c)
    )


def insert_ignore_returning(
    session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]
) -> list[Any]:
    """INSERT rows (one multi-row statement) unless their unique `keys` exist; return the ORM
    objects created, in the session as if loaded. A row skipped because it exists (another
    process just made it) is not returned: the caller reads those back, usually none.

    The rows go as parameters of one statement built once per model (SQLAlchemy's
    "insertmanyvalues" sends them as a single multi-row INSERT … RETURNING): a statement
    with the rows in its VALUES would be compiled afresh on every call, a millisecond and
    a half for each new resident or thread a worker's batch opens. It runs through Core and
    the objects are built from the whole rows it returns (`make_transient_to_detached`, then
    `add`: persistent, nothing to flush): the ORM's own bulk INSERT … RETURNING cost about
    twice as much, some 0.1 ms more per row, and a lone new resident's message opens two.
    """
    if not rows:
        return []
    statement = _insert_ignore_returning_statement(
        session.get_bind().dialect.name, model.__table__, tuple(keys)
    )
    return load(session, model, statement, rows)


def load(
    session: Session, model: Any, statement: Any, params: Mapping[str, Any] | list[dict[str, Any]]
) -> list[Any]:
    """`model`'s objects for the whole rows of its table that a Core `statement` returns (see
    `loaded`); what the ORM's own statement would give, for those a worker's batch runs."""
    if session.autoflush:
        session.flush()  # (as the ORM's statement would: the caller's pending rows go first)
    return [
        loaded(session, model, row._mapping)
        for row in session.connection().execute(statement, params)
    ]


def loaded(session: Session, model: Any, values: Mapping[str, Any]) -> Any:
    """The ORM object of a whole row read or written through Core, in `session` as if the ORM
    had loaded it: persistent, unchanged, nothing to flush (the one the session already holds
    under that `id`, if any).

    Why not a query through the ORM: on the worker's hot path (the inbound claim, a new
    resident and thread) the ORM's loading machinery cost about twice the statement itself.
    The object is made as the ORM's loader makes it, not through `model(**values)`: SQLModel's
    constructor sets each field through the ORM's attribute events, about 10 µs a field (a
    message has thirty).
    """
    # (identity_key configures the mappers, which make_transient_to_detached needs, in a
    # process whose ORM has run no query yet: a fresh worker's first statement is the claim)
    held = session.identity_map.get(session.identity_key(model, values["id"]))
    if held is not None:
        return held
    made = sa_inspect(model).class_manager.new_instance()
    made.__dict__.update(values)
    make_transient_to_detached(made)
    session.add(made)
    return made


@lru_cache(maxsize=8)
def _upsert_statement(
    dialect: str, table: Any, keys: tuple[str, ...], changing: tuple[str, ...]
) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert

        # An explicit NULL is no serial's DEFAULT on PostgreSQL, and the keyword cannot stand
        # in an expression: a new row's id is the sequence's next value, as its DEFAULT says.
        new_id = func.nextval(literal_column(f"'{table.name}_id_seq'::regclass"))
        row_id = func.coalesce(bindparam("id", type_=table.c.id.type), new_id)
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert

        row_id = bindparam("id", type_=table.c.id.type)  # NULL: SQLite's next rowid
    statement = dialect_insert(table).values(
        id=row_id, **{c.key: bindparam(c.key, type_=c.type) for c in table.c if c.key != "id"}
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.id], set_={key: statement.excluded[key] for key in changing}
    ).returning(table.c.id, *(table.c[k] for k in keys))


def write_all(
    session: Session,
    model: Any,
    objects: list[Any],
    *,
    keys: tuple[str, ...],
    changing: tuple[str, ...],
) -> list:
    """Write `model`'s new objects among `objects`, and those changed in `changing` columns
    only, with one statement: an INSERT of them all, whose rows already there update those
    columns instead (ON CONFLICT (id) DO UPDATE). They are then persistent and unchanged,
    nothing left to flush. Returns the objects written; the others are left to the flush.

    Why: the unit of work sends an UPDATE for the changed rows and an INSERT for the new,
    two statements, where a worker's batch writes both kinds to one table: the messages it
    handled and their replies (issue #10's budget of statements per message). Both
    databases speak this upsert. Whole rows go (every column), so the statement is built
    once per table and SQLAlchemy's "insertmanyvalues" sends all rows in one multi-row
    statement; a changed object must therefore hold its whole row (as one `loaded`, or
    loaded by a query, does): one missing a column is left to the flush. The update
    sets `changing` only: SQLite rewrites the entries of every index on a column it sets,
    whether its value changed or not.

    The rows come back in no promised order. A new row is told by `keys`, the columns that
    set it apart from the others written with it; rows alike in all of them are alike in
    everything that matters, and take the new ids in the order given (both databases number
    a VALUES list in its order).
    """
    table = model.__table__
    columns, allowed = [c.key for c in table.c], set(changing)
    written, rows = [], []
    for obj in objects:
        state = sa_inspect(obj)
        if state.pending or (
            state.persistent
            and state.modified
            and not state.unloaded
            and set(state.committed_state) <= allowed
        ):
            values = obj.__dict__
            written.append(obj)
            rows.append({k: values[k] if k in values else _default_of(table.c[k]) for k in columns})
    if not rows:
        return []
    statement = _upsert_statement(session.get_bind().dialect.name, table, keys, changing)
    known = {row["id"] for row in rows if row["id"] is not None}
    new_ids: dict[tuple, list[int]] = {}
    for row in session.connection().execute(statement, rows):
        if row[0] not in known:
            new_ids.setdefault(tuple(row[1:]), []).append(row[0])
    for ids in new_ids.values():
        ids.sort(reverse=True)
    for obj, row in zip(written, rows, strict=True):
        if row["id"] is None:
            row["id"] = new_ids[tuple(row[k] for k in keys)].pop()
        make_transient(obj)  # (out of the session, as a new object: then in, as if loaded)
        obj.__dict__.update(row)
        make_transient_to_detached(obj)
        session.add(obj)
    return written


def _default_of(column: Any) -> Any:
    """What the INSERT would have put in a column not given: its Python-side default."""
    default = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def added(session: Session, model: Any, values: Mapping[str, Any]) -> Any:
    """A new `model` object with these column values, added to `session` (pending): what
    `model(**values)` then `session.add` give, made as `loaded` makes an object.

    Why: SQLModel's constructor sets each field through the ORM's attribute events, about
    10 µs a field; every reply a worker stores was a tenth of a millisecond of it. The unit
    of work INSERTs the values as given; a column not given takes its default in that INSERT
    (SQLModel makes every field's default its column's), and reads as None until the flush.
    """
    made = sa_inspect(model).class_manager.new_instance()
    made.__dict__.update(values)
    session.add(made)
    return made
