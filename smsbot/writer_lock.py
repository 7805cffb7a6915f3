"""SQLite's writers queue in the kernel for the write lock, instead of polling for it.

Why: SQLite has one writer, and waits for its lock either in its own busy handler (sleeps of
up to 100 ms, which ruin latency when web and worker processes take turns hundreds of times
a second) or, as `db.begin_immediate` did alone, by polling BEGIN IMMEDIATE every fraction of
a millisecond. Under load that polling was most of the web tier's CPU: the benchmark counted
about 50 failed BEGINs per message in the web processes and 15 in the workers, each an SQLite
call, a Python exception and a sleep, and a lock released between two polls stayed idle.

So a writer first takes an exclusive `flock` on a file beside the database
(`<database>-writer.lock`) and only then BEGINs IMMEDIATE, which then almost always succeeds
at once. A process blocked in flock costs no CPU, and the kernel wakes it the moment the
holder lets go. The lock is released right after the transaction's COMMIT or ROLLBACK
(smsbot.db wraps them), and by the kernel when a process dies holding it, so a SIGKILLed
worker blocks no one. Writers that don't take it (alembic, the sqlite3 shell) are still waited for
by `db.begin_immediate`'s polling, as before.

Why not a library: filelock and portalocker wait by polling too (their timeout loops sleep
and retry), which is the cost this removes; and posix semaphores are not released when their
holder is killed. A blocking flock has no timeout, so a wait that may give up (a webhook must
answer within its provider's limit) blocks in a helper thread while the caller waits on an
Event with the timeout; a wait given up on releases the lock as soon as it gets it.

Threads of one process (the web server's, a worker's sending pool) first queue on a plain
`threading.Lock` per lock file, the gate, and only the thread past it goes to the flock. A
thread waiting at the gate sleeps in the lock itself, with its timeout, and is handed the
turn directly; at the flock it would need the helper thread, an Event and two wake-ups per
turn.
"""

from __future__ import annotations

import fcntl
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable

SUFFIX = "-writer.lock"


def path_for(database: str) -> str | None:
    """The lock file of an SQLite database file, or None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + SUFFIX


class _Turn:
    """One wait for the lock: the waiter thread sets `got` once it holds it (or `error`), and
    releases it at once if the caller gave up (`abandoned`) in the meantime."""

    __slots__ = ("fd", "got", "guard", "abandoned", "error")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.got = threading.Event()
        self.guard = threading.Lock()
        self.abandoned = False
        self.error: OSError | None = None


_gates: dict[str, threading.Lock] = {}
"""Each lock file's gate in this process: at most one of its threads at the flock at once."""
_waits: dict[str, queue.SimpleQueue[_Turn]] = {}
"""Each lock file's queue of waits in this process, served by its own waiter thread."""
_waits_pid: int | None = None
_waits_guard = threading.Lock()
IDLE_SECONDS = 60.0
"""A waiter thread with nothing to wait for this long ends (a test process opens hundreds
of databases); the next wait for its file starts another."""


def _waiter(path: str, waits: queue.SimpleQueue[_Turn]) -> None:
    """Block in flock for each wait on one lock file in turn: one thread per file and
    process, started on first need (starting a thread per wait cost more than the wait
    itself under load). Waits of one process for one file queue behind each other here as
    they would at the lock anyway; a wait for another file has its own thread, so a lock
    held for long (another test's database) never holds it up."""
    while True:
        try:
            turn = waits.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            with _waits_guard:  # (waits are put under it: none can slip in unserved)
                if waits.empty():
                    if _waits.get(path) is waits:
                        del _waits[path]
                    return
            continue
        try:
            fcntl.flock(turn.fd, fcntl.LOCK_EX)
        except OSError as exc:
            turn.error = exc
        with turn.guard:
            if turn.abandoned:
                os.close(turn.fd)  # closing releases the lock
                continue
            turn.got.set()


def _this_process() -> None:
    """Forget the waits and gates of a parent process (a forked child has none of its threads,
    and a gate one of them held would stay shut). Called under `_waits_guard`."""
    global _waits_pid
    if _waits_pid != os.getpid():
        _waits.clear()
        _gates.clear()
        _waits_pid = os.getpid()


def _gate(path: str) -> threading.Lock:
    """`path`'s gate in this process (without the guard once it exists: every writer
    transaction comes here)."""
    if _waits_pid == os.getpid():
        gate = _gates.get(path)
        if gate is not None:
            return gate
    with _waits_guard:
        _this_process()
        gate = _gates.get(path)
        if gate is None:
            gate = _gates[path] = threading.Lock()
        return gate


def _wait_for_turn(path: str, turn: _Turn) -> None:
    """Hand `turn` to `path`'s waiter thread in this process, starting one if there is none
    (a forked child has no threads: it starts its own)."""
    with _waits_guard:
        _this_process()
        waits = _waits.get(path)
        if waits is None:
            waits = _waits[path] = queue.SimpleQueue()
            name = "sqlite-writer-lock " + os.path.basename(path)
            threading.Thread(target=_waiter, args=(path, waits), name=name, daemon=True).start()
        waits.put(turn)


def _holder(path: str) -> str:
    """Who holds the lock on `path`, from /proc/locks (Linux): for the error of a wait given
    up, since a lock held that long is a bug to find, not a load to wait out."""
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->" marks a waiter)
                if len(fields) > 5 and fields[1] == "FLOCK":  # not "1: -> FLOCK …", a waiter
                    pid, where = fields[4], fields[5]
                    if where.rsplit(":", 1)[-1] == str(inode):
                        me = " (this process)" if pid == str(os.getpid()) else ""
                        return f"; held by pid {pid}{me}"
    except OSError:
        pass
    return ""


class WriterLock:
    """One connection's place in the queue for the lock: its own descriptor of the lock file,
    kept open while the connection lives (flock belongs to an open file description, so two
    connections of one process exclude each other as two processes do; opening the file
    per transaction cost as much as the flock itself)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.pid = os.getpid()
        self.gate: threading.Lock | None = None
        """This process's gate for `path`, while this connection is past it."""

    def acquire(self, timeout: float) -> float:
        """Take the lock; return the seconds waited for it.

        Raises sqlite3.OperationalError ("database is locked") when `timeout` passes first:
        the same error SQLite raises, so callers (the webhook's spool) treat both alike.
        """
        if self.fd is None or self.pid != os.getpid():
            # (a forked child shares its parent's open file description, and so its flock:
            # it needs one of its own to be excluded by its parent)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self.pid, self.gate = os.getpid(), None
        gate = _gate(self.path)
        waited = 0.0
        if not gate.acquire(blocking=False):
            started = time.monotonic()
            if not gate.acquire(timeout=max(timeout, 0.0)):
                raise sqlite3.OperationalError(
                    f"database is locked (no turn at the writer lock in {timeout:g} s, behind "
                    f"another connection of this process{_holder(self.path)})"
                )
            waited = time.monotonic() - started
        self.gate = gate
        try:
            return waited + self._flock(timeout - waited)
        except BaseException:
            self._open_gate()
            raise

    def _flock(self, timeout: float) -> float:
        """The flock, once past the gate; the seconds waited for it."""
        fd = self.fd
        assert fd is not None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return 0.0
        except BlockingIOError:
            pass
        timeout = max(timeout, 0.0)
        started = time.monotonic()
        turn = _Turn(fd)
        _wait_for_turn(self.path, turn)
        if not turn.got.wait(timeout):
            with turn.guard:
                if not turn.got.is_set():
                    turn.abandoned = True  # the waiter closes the descriptor when its turn comes
                    self.fd = None
                    raise sqlite3.OperationalError(
                        f"database is locked (no turn at the writer lock in {timeout:g} s"
                        f"{_holder(self.path)})"
                    )
        if turn.error is not None:
            self.close()
            raise turn.error
        return time.monotonic() - started

    def release(self) -> None:
        """Let the next writer in: another process's at the flock, this one's at the gate."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self._open_gate()

    def _open_gate(self) -> None:
        gate, self.gate = self.gate, None
        if gate is not None:
            gate.release()

    def close(self, _close: Callable[[int], None] = os.close) -> None:
        """The connection is gone: its descriptor too (which releases a lock still held), and
        its place past the gate. (os.close bound early: run as __del__ at interpreter exit,
        the module's globals may be gone.)"""
        fd, self.fd = self.fd, None
        if fd is not None:
            _close(fd)
        self._open_gate()

    __del__ = close
    """A connection dropped without the pool's close event (its engine dropped undisposed)
    must not keep the lock, and its descriptor, for the rest of the process's life."""
