"""SQLite's writer lock (smsbot.writer_lock): writers queue in the kernel, a wait may give up,
and a holder that dies lets the next one in."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from smsbot import db, writer_lock


def held_elsewhere(path: str, seconds: float = 60) -> subprocess.Popen:
    """Another process that holds the lock on `path` for `seconds`, then lets go (a wait in
    this process then goes through its waiter thread, not the gate)."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from smsbot import writer_lock; lock = writer_lock.WriterLock(sys.argv[1]);"
         " lock.acquire(1); print('held', flush=True); time.sleep(float(sys.argv[2])); lock.release();"
         " time.sleep(60)", path, str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    return holder


def waiter_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"sqlite-writer-lock {name}"]


def test_a_second_writer_waits_and_gets_the_lock_when_the_first_lets_go(tmp_path):
    path = str(tmp_path / "x.lock")
    first, second = writer_lock.WriterLock(path), writer_lock.WriterLock(path)
    assert first.acquire(1.0) == 0.0
    got: list[float] = []
    waiter = threading.Thread(target=lambda: got.append(second.acquire(5.0)))
    waiter.start()
    time.sleep(0.2)
    assert got == []  # still waiting
    first.release()
    waiter.join(5)
    assert got and 0.15 < got[0] < 5.0


def test_a_wait_gives_up_with_sqlites_own_error_and_the_given_up_waiter_lets_go(tmp_path):
    path = str(tmp_path / "x.lock")
    holder, mine = held_elsewhere(path, 0.3), writer_lock.WriterLock(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            mine.acquire(0.1)
        # the abandoned waiter takes the lock when the holder lets go, and gives it back at once
        assert mine.acquire(5.0) < 5.0
        mine.close()
    finally:
        holder.kill()
        holder.wait(10)


def test_a_holder_killed_with_the_lock_lets_the_next_writer_in(tmp_path):
    path = str(tmp_path / "x.lock")
    holder = held_elsewhere(path)
    try:
        mine = writer_lock.WriterLock(path)
        with pytest.raises(sqlite3.OperationalError):
            mine.acquire(0.1)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        assert mine.acquire(5.0) < 5.0
        mine.close()
    finally:
        holder.kill()
        holder.wait(10)


def test_engines_take_turns_and_give_the_turn_back_at_commit_not_at_checkin(tmp_path):
    """A connection kept checked out after its COMMIT (a send job calling its provider) must
    not keep other writers waiting; a rolled back transaction gives its turn back too."""
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    one, two = db.make_engine(url), db.make_engine(url)
    try:
        with one.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        w1 = one.execution_options(**{db.WRITER_OPTION: True})
        w2 = two.execution_options(**{db.WRITER_OPTION: True, db.LOCK_WAIT_OPTION: 0.2})
        with w1.connect() as kept:
            with kept.begin():
                kept.execute(text("INSERT INTO t VALUES (1)"))
                with pytest.raises(sqlite3.OperationalError, match="locked"), w2.begin():
                    pass
            with w2.begin() as conn:  # `kept` is still checked out, its transaction over
                conn.execute(text("INSERT INTO t VALUES (2)"))
            trans = kept.begin()
            kept.execute(text("INSERT INTO t VALUES (3)"))
            trans.rollback()
            with w2.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (4)"))
        with one.connect() as conn:
            assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2, 4]
        assert os.path.exists(str(tmp_path / "w.sqlite") + writer_lock.SUFFIX)
    finally:
        one.dispose()
        two.dispose()


def test_a_forked_child_is_excluded_by_its_parent(tmp_path):
    lock = writer_lock.WriterLock(str(tmp_path / "x.lock"))
    lock.acquire(1.0)
    lock.release()
    lock.acquire(1.0)  # the parent holds it, through the descriptor the child inherits
    pid = os.fork()
    if pid == 0:  # the child: must not get it while the parent holds it
        try:
            lock.acquire(0.2)
            os._exit(1)
        except sqlite3.OperationalError:
            os._exit(0)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    lock.close()
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_lock_held_for_good_on_one_database_holds_up_no_wait_on_another(tmp_path):
    """Seen in CI: one test left its database's lock held, a wait for it was given up, and
    every later wait of that process, on any database, timed out behind it."""
    stuck, path = str(tmp_path / "stuck.lock"), str(tmp_path / "x.lock")
    keeper = held_elsewhere(stuck)
    try:
        with pytest.raises(sqlite3.OperationalError, match=f"held by pid {keeper.pid}\\)"):
            writer_lock.WriterLock(stuck).acquire(0.1)
        assert waiter_threads("stuck.lock")  # still blocked in flock for the given-up wait
        other = held_elsewhere(path, 0.2)
        try:
            second = writer_lock.WriterLock(path)
            assert 0.05 < second.acquire(5.0) < 5.0
            second.close()
        finally:
            other.kill()
            other.wait(10)
    finally:
        keeper.kill()
        keeper.wait(10)


def test_a_lock_dropped_undisposed_lets_go_and_an_idle_waiter_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_lock, "IDLE_SECONDS", 0.1)
    path = str(tmp_path / "idle.lock")
    dropped, mine = [writer_lock.WriterLock(path)], writer_lock.WriterLock(path)
    dropped[0].acquire(1.0)
    threading.Timer(0.2, dropped.clear).start()  # its last reference goes, never closed
    assert 0.1 < mine.acquire(5.0) < 5.0  # past the gate and the flock it held
    mine.release()
    for _ in range(2):  # a wait behind another process starts a waiter, which ends idle
        holder = held_elsewhere(path, 0.2)
        try:
            assert 0.05 < mine.acquire(5.0) < 5.0
            mine.release()
        finally:
            holder.kill()
            holder.wait(10)
        deadline = time.monotonic() + 5
        while waiter_threads("idle.lock") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not waiter_threads("idle.lock")
    mine.close()


def test_threads_of_one_process_take_turns_at_the_gate_without_the_waiter(tmp_path):
    """The web server's threads queue on the gate, one at the flock at a time: each is
    handed the lock in turn, and no waiter thread is needed."""
    path = str(tmp_path / "gate.lock")
    inside, most, done = [0], [0], []

    def write(lock: writer_lock.WriterLock) -> None:
        for _ in range(25):
            lock.acquire(5.0)
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            time.sleep(0.001)
            inside[0] -= 1
            done.append(1)
            lock.release()
        lock.close()

    threads = [
        threading.Thread(target=write, args=(writer_lock.WriterLock(path),)) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(done) == 100 and most[0] == 1
    assert not waiter_threads("gate.lock")


def test_a_wait_at_the_gate_gives_up_and_leaves_the_gate_to_the_next(tmp_path):
    path = str(tmp_path / "g.lock")
    first, second = writer_lock.WriterLock(path), writer_lock.WriterLock(path)
    first.acquire(1.0)
    with pytest.raises(sqlite3.OperationalError, match="behind another connection of this process"):
        second.acquire(0.1)
    first.close()  # closed while holding: the descriptor and the gate let go
    assert second.acquire(1.0) == 0.0
    second.close()
