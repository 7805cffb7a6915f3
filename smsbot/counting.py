"""Opt-in counts of SQL statements and Redis round trips per process, for the benchmark.

Why: CPU per message follows from how many statements and round trips a message costs, and
those counts are exact where CPU figures are noisy. Off unless `SMSBOT_COUNT_DIR` is set (the
benchmark sets it for one dedicated stage only); then every process that makes an engine or a
Redis connection keeps running totals and writes them to `<dir>/<pid>.json`, about once a
second while they change and at exit, so a reader takes the difference of two snapshots.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from typing import Any

ENV = "SMSBOT_COUNT_DIR"
"""The directory the counts go to; counting is off when it is unset or empty."""
FLUSH_INTERVAL_S = 1.0

counts: dict[str, int] = {"sql_statements": 0, "sql_commits": 0, "redis_round_trips": 0,
                          "redis_commands": 0, "sqlite_lock_polls": 0}  # fmt: skip
"""This process's running totals (an executemany and a pipeline count once as a statement/round trip)."""
_started_pid: int | None = None
_redis_patched = False
_sql_listening = False
_fork_hook = False


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def count_sql() -> None:
    """Count the statements every engine of this process executes, and its commits."""
    global _sql_listening
    if not enabled() or _sql_listening:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "before_cursor_execute", _on_execute)
    event.listen(Engine, "commit", _on_commit)
    _sql_listening = True
    _start()


def _on_execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
    if statement != "BEGIN":  # SQLite's explicit BEGIN; PostgreSQL's is implicit
        counts["sql_statements"] += 1


def _on_commit(conn: Any) -> None:
    # In autocommit (db.writer's `single` on PostgreSQL) SQLAlchemy still fires "commit",
    # but no COMMIT goes to the server: the statement, counted as one, committed itself.
    if not (conn.dialect.name == "postgresql" and conn.connection.dbapi_connection.autocommit):
        counts["sql_commits"] += 1


def count_redis() -> None:
    """Count Redis round trips (one per packed send, so a pipeline is one) and commands."""
    global _redis_patched
    if not enabled() or _redis_patched:
        return
    from redis.connection import AbstractConnection

    send, send_command, pack_commands = (AbstractConnection.send_packed_command,
                                         AbstractConnection.send_command,
                                         AbstractConnection.pack_commands)  # fmt: skip

    def send_packed_command(self: Any, command: Any, check_health: bool = True) -> Any:
        counts["redis_round_trips"] += 1
        return send(self, command, check_health)

    def counted_send_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["redis_commands"] += 1
        return send_command(self, *args, **kwargs)

    def counted_pack_commands(self: Any, commands: Any) -> Any:
        commands = list(commands)
        counts["redis_commands"] += len(commands)
        return pack_commands(self, commands)

    AbstractConnection.send_packed_command = send_packed_command
    AbstractConnection.send_command = counted_send_command
    AbstractConnection.pack_commands = counted_pack_commands
    _redis_patched = True
    _start()


def flush() -> None:
    """Write this process's totals (atomically: readers never see half a file)."""
    directory = os.environ.get(ENV)
    if not directory:
        return
    pid = os.getpid()
    path = os.path.join(directory, f"{pid}.json")
    data = {"pid": pid, "argv": sys.argv[:4], **counts}
    try:
        os.makedirs(directory, exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(path + ".tmp", path)
    except OSError:
        pass  # counting must never break the process it watches


def _start() -> None:
    """Flush at exit and about once a second; a forked child starts from zero."""
    global _started_pid, _fork_hook
    if _started_pid == os.getpid():
        return
    _started_pid = os.getpid()
    atexit.register(flush)
    if not _fork_hook:
        _fork_hook = True
        os.register_at_fork(after_in_child=_after_fork)

    def loop() -> None:
        last: dict[str, int] = {}
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            if counts != last:
                last = dict(counts)
                flush()

    threading.Thread(target=loop, name="smsbot-counting", daemon=True).start()


def _after_fork() -> None:
    global _started_pid
    for key in counts:
        counts[key] = 0
    if _started_pid is not None:
        _started_pid = None
        _start()
