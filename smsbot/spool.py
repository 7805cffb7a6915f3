"""The inbound spool: what a callback brought is kept while the database is down.

A provider that hears 5xx may never send the SMS again (Twilio retries only with a fallback
URL), so when the webhook cannot write to the database (DATABASE_DOWN: refused or lost
connection, SQLite's write lock not had within SMSBOT_WEBHOOK_DB_WAIT_SECONDS, a read-only
or full disk) it keeps the request's residents' SMS AND delivery states elsewhere, and only
then answers the provider success:

1. in Redis, one RPUSH onto `smsbot:spool` (as durable as that Redis: with appendfsync
   everysec a Redis crash loses at most a second, a database outage nothing);
2. when Redis fails too, in the append-only file instance/spool/inbound.jsonl: one JSON line
   per record, written under flock and fsynced before the answer;
3. when neither can take it, the webhook answers 503 (`NotKept`): the only 5xx an outage
   gives, when nothing at all could keep the message.

`drain` stores what was kept as soon as the database answers again: the next webhook of the
same process or host does it (a stat of the file, a flag for Redis: no cost while nothing is
kept), and every sweep does (smsbot.sweeping, every SMSBOT_SWEEP_INTERVAL_SECONDS). A
message gets the time the webhook took it, is queued for its handler, and is answered once.
Draining is idempotent, so a drain that dies between the database commit and forgetting the
records only stores them again as no-ops: a message is unique by (provider, provider id),
and a delivery state only moves a message forward (smsbot.outbound), so a repeat, or a state
older than one the message has since reached, changes nothing.

The file lives on the web host that wrote it: a worker or clock on another machine drains
only Redis, and the web process drains its file on its next webhook once the database is
back. A line that cannot be read (torn by a crash in the middle of its write, before the
provider heard success) is skipped and counted; a record the database refuses for its
content, not for an outage, is moved to instance/spool/rejected.jsonl for a person, so one
bad record never blocks the rest.

The SMPP connector does not spool: a deliver_sm it cannot store is answered with a temporary
error (ESME_RX_T_APPN) and the SMSC delivers it again, which is SMPP's own guarantee.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from smsbot import changes, db, inbound, outbound, queues
from smsbot.clock import utcnow
from smsbot.config import Settings
from smsbot.providers.base import InboundSms, StatusUpdate

log = logging.getLogger(__name__)

DATABASE_DOWN: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    sqlite3.OperationalError,  # raised unwrapped by db.begin_immediate when the lock never came
)
"""The database cannot take a write now (not: it refuses this record's content)."""
REDIS_KEY = "smsbot:spool"
"""The Redis list of kept records, oldest first."""
DRAIN_LOCK = "smsbot:spool:draining"
"""Held by the one process draining the Redis list, so records are taken off it once."""
DRAIN_LOCK_SECONDS = 60
FILE = Path("spool") / "inbound.jsonl"
"""The spool file, under the instance folder."""
_FILE_STR = str(FILE)
REJECTED = Path("spool") / "rejected.jsonl"
"""Records the database refused for their content, kept for a person to look at."""
BATCH = 500
"""Records stored per transaction and drain call; a longer spool drains over several."""

INBOUND, STATUS = "inbound", "status"


class NotKept(Exception):
    """Neither Redis nor the spool file could keep a callback's records."""


_kept_in_redis = False
"""This process kept records in Redis since its last drain (its next webhook drains)."""


def record_of(item: InboundSms | StatusUpdate, provider: str) -> dict[str, Any]:
    """A JSON-ready record of one SMS or delivery state, stamped with the time it came."""
    kind = INBOUND if isinstance(item, InboundSms) else STATUS
    return {"kind": kind, "via": provider, "at": utcnow().isoformat(), **asdict(item)}


def item_of(record: dict[str, Any]) -> tuple[InboundSms | StatusUpdate, str, datetime]:
    """(the SMS or state, the provider's name, when it came) from `record_of`'s record."""
    fields = {k: v for k, v in record.items() if k not in ("kind", "via", "at")}
    if record["kind"] == INBOUND:
        item: InboundSms | StatusUpdate = InboundSms(**fields)
    else:
        item = StatusUpdate(**{**fields, "aliases": tuple(fields.get("aliases") or ())})
    return item, record["via"], datetime.fromisoformat(record["at"])


def keep(settings: Settings, records: list[dict[str, Any]]) -> str:
    """Keep records durably: in Redis ('redis'), else in the spool file ('file'); raise
    NotKept when neither can."""
    global _kept_in_redis
    # ASCII JSON: a lone surrogate (SMSC.ru's JSON can carry one) cannot be written as
    # UTF-8, to Redis or the file; escaped it travels, and inbound.store drops it.
    lines = [json.dumps(r) for r in records]
    try:
        queues.connection().rpush(REDIS_KEY, *lines)
        _kept_in_redis = True
        return "redis"
    except RedisError as exc:
        log.warning("spool: Redis cannot keep %d records (%s); writing the file", len(lines), exc)
    try:
        _append(settings.instance_path / FILE, lines)
        return "file"
    except OSError as exc:
        raise NotKept(f"neither Redis nor {settings.instance_path / FILE} ({exc})") from exc


def pending_here(settings: Settings) -> bool:
    """Whether this process kept records in Redis, or this host's spool file has some.

    Asked by every webhook, so the file is stat'ed by a string path (a pathlib join and
    stat cost ten times as much, on a request whose whole budget is about a millisecond)."""
    return _kept_in_redis or _size(os.path.join(settings.instance_path, _FILE_STR)) > 0


def drain(settings: Settings) -> int:
    """Store what the spool keeps (this host's file first, then Redis), up to BATCH records;
    return how many were taken. Raises DATABASE_DOWN while the database is still away."""
    global _kept_in_redis
    taken = 0
    path = settings.instance_path / FILE
    if _size(path):
        try:
            taken += _drain_file(settings, path)
        except OSError as exc:  # the file, not the database: Redis's records still go
            log.error("spool: cannot drain %s: %s", path, exc)
    try:
        taken += _drain_redis(settings, BATCH - taken)
        _kept_in_redis = False
    except RedisError as exc:
        log.warning("spool: cannot read Redis's records now: %s", exc)
    if taken:
        log.warning("spool: stored %d records kept while the database was down", taken)
    return taken


def _drain_file(settings: Settings, path: Path) -> int:
    with _locked(path, "r+") as spool:
        lines = spool.read().splitlines()
        taken = _store_lines(settings, lines[:BATCH])
        rest = lines[BATCH:]
        spool.seek(0)
        spool.truncate()
        spool.write("".join(line + "\n" for line in rest))
        spool.flush()
        os.fsync(spool.fileno())
    return taken


def _drain_redis(settings: Settings, limit: int) -> int:
    conn = queues.connection()
    if limit <= 0 or not conn.llen(REDIS_KEY):
        return 0
    token = os.urandom(8).hex()
    if not conn.set(DRAIN_LOCK, token, nx=True, ex=DRAIN_LOCK_SECONDS):
        return 0  # another process is draining it
    try:
        lines = [line.decode() for line in conn.lrange(REDIS_KEY, 0, limit - 1)]
        taken = _store_lines(settings, lines)
        conn.ltrim(REDIS_KEY, len(lines), -1)  # new records only ever join at the tail
        return taken
    finally:
        if conn.get(DRAIN_LOCK) == token.encode():
            conn.delete(DRAIN_LOCK)


def _store_lines(settings: Settings, lines: list[str]) -> int:
    """Store records in one transaction; on a refusal that is not an outage, one by one,
    setting aside the ones refused. Queues the handler for new messages after the commit."""
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            log.warning("spool: skipped a torn line of %d characters", len(line))
    try:
        created = _store(records)
    except DATABASE_DOWN:
        raise
    except DBAPIError:
        created = 0
        for record in records:
            try:
                created += _store([record])
            except DATABASE_DOWN:
                raise
            except DBAPIError as exc:
                log.warning("spool: the database refused a %s record: %s", record["kind"], exc)
                _append(settings.instance_path / REJECTED, [json.dumps(record, ensure_ascii=False)])
    if created:
        queues.enqueue_inbound()
    return len(records)


def _store(records: list[dict[str, Any]]) -> int:
    """Store records in one transaction; how many new messages."""
    created = 0
    changed: set[int | str | None] = set()
    with db.writer().begin() as conn:
        for record in records:
            item, provider, at = item_of(record)
            if isinstance(item, InboundSms):
                created += inbound.store(conn, item, received_at=at)[1]
            else:
                outbound.apply_status(conn, provider, item, at=at, changed=changed)
    changes.bump_soon(changed)
    return created


def _size(path: Path | str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


@contextlib.contextmanager
def _locked(path: Path, mode: str) -> Iterator[Any]:
    """The file opened with an exclusive flock: writers of every process take turns, and a
    drain never loses a line appended between its read and its truncate."""
    with open(path, mode, encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append(path: Path, lines: list[str]) -> None:
    """Append lines and fsync them (and the folder, for a file just made) before returning."""
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path, "a") as spool:
        spool.write("".join(line + "\n" for line in lines))
        spool.flush()
        os.fsync(spool.fileno())
    if new:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
