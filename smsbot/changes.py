"""Which companies' desks changed: a version counter per company in Redis.

Why: every open staff page asks once a second whether anything new is there. Answering by
rebuilding the page from the database costs a dozen queries per page per second whether or
not anything happened. Instead every transaction that changes what a desk shows (a message,
a delivery state, a conversation, a ticket, a label) bumps its company's counter once, after
it commits, and a page that already saw the current counters is told "nothing new" from
Redis alone (smsbot.web.live).

Bumps ride on the commit: ORM changes to rows that carry a company (or a ticket) are
collected at each flush and bumped together after the commit, so a worker's batch of a
hundred messages costs one Redis round trip, and a rolled back transaction bumps nothing.
Writes through Core (delivery states, the sender's batches) call `bump` themselves.

A counter starts from the clock, not from 0, so after Redis loses its data (a restart
without persistence) no counter repeats a value a page already holds. A bump that fails
(Redis down) costs a page its update until its next full check (smsbot.web.live).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable

from redis.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from smsbot import queues
from smsbot.models import Resident, StaffSession, Ticket, User

log = logging.getLogger(__name__)

ALL = "all"
"""The counter of every company together, for a superadmin's all-company pages."""
EVERYONE = "everyone"
"""The counter every page also watches, for changes no one company owns: a staff account
(disabled, a new password: that person's open page looks again at once and finds its
session ended) or a resident (opted out by a carrier's answer)."""
_PREFIX = "smsbot:desk:"
_COLLECTED = "smsbot.changes"
"""session.info key: company ids changed in this transaction, bumped after the commit."""
_PEOPLE = {User.__tablename__, StaffSession.__tablename__, Resident.__tablename__}
"""Tables whose rows no one company owns: a change to them is EVERYONE's."""
SOON_SECONDS = 0.2
"""How long `bump_soon` gathers before it tells: a delivery state shows a fifth of a second
later, and a web process answering hundreds of callbacks a second makes five round trips."""


def key(scope: int | str) -> str:
    return f"{_PREFIX}{scope}"


def bump(company_ids: Iterable[int | str | None], pipe: Pipeline | None = None) -> None:
    """Tell open pages that these companies' desks (or EVERYONE's) changed: one round trip.

    With `pipe` the commands only join the caller's pipeline, which executes them in its own
    round trip (a drain's signs of life: smsbot.queues.carry_on) and answers for its errors.
    """
    given = {c for c in company_ids if c is not None}
    ids = sorted(int(c) for c in given if c != EVERYONE)
    scopes = [*ids, ALL] if ids else []
    if EVERYONE in given:
        scopes.append(EVERYONE)
    if not scopes:
        return
    start = time.time_ns() // 1000
    if pipe is not None:
        _add(pipe, scopes, start)
        return
    try:
        conn = queues.connection()
    except RuntimeError:  # a process without Redis (a CLI command, a script): pages catch up
        return
    try:
        pipe = conn.pipeline(transaction=False)
        _add(pipe, scopes, start)
        pipe.execute()
    except RedisError as exc:
        log.warning("desk change not announced (%s); pages catch up at their next full check", exc)


def _add(pipe: Pipeline, scopes: list[int | str], start: int) -> None:
    for scope in scopes:
        pipe.set(key(scope), start, nx=True)
        pipe.incr(key(scope))


_soon: set[int] = set()
_soon_lock = threading.Lock()
_soon_pid: int | None = None


def bump_soon(company_ids: Iterable[int | None]) -> None:
    """`bump`, gathered with the other bumps of this process over SOON_SECONDS.

    For the providers' status callbacks: each is its own request, two per message sent, so
    bumping in each would cost a Redis round trip per callback.
    """
    global _soon_pid
    ids = {c for c in company_ids if c is not None}
    if not ids:
        return
    with _soon_lock:
        _soon.update(ids)
        if _soon_pid != os.getpid():  # first use in this process (a fork has no thread)
            _soon_pid = os.getpid()
            threading.Thread(target=_tell_soon, name="desk-changes", daemon=True).start()


def _tell_soon() -> None:
    while True:
        time.sleep(SOON_SECONDS)
        with _soon_lock:
            ids = list(_soon)
            _soon.clear()
        if ids:
            try:
                bump(ids)
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("desk change not announced")


def stamp(scopes: Iterable[int | str]) -> list[str]:
    """The current counters of these scopes (company ids, or ALL), in the order given."""
    keys = [key(s) for s in scopes]
    return [v.decode() if v is not None else "0" for v in queues.connection().mget(keys)]


def scopes_of(company_ids: Iterable[int] | None) -> list[int | str]:
    """The counters a page of these companies depends on (None: every company)."""
    return [ALL, EVERYONE] if company_ids is None else [*sorted(company_ids), EVERYONE]


def note(session: OrmSession, company_ids: Iterable[int | str | None]) -> None:
    """Bump these companies after this session's transaction commits (for Core writes)."""
    session.info.setdefault(_COLLECTED, set()).update(c for c in company_ids if c is not None)


def _company_of(session: OrmSession, obj: object) -> int | str | None:
    if isinstance(obj, User | StaffSession | Resident) and obj not in session.new:
        return EVERYONE
    company_id = getattr(obj, "company_id", None)
    if company_id is not None:
        return company_id
    ticket_id = getattr(obj, "ticket_id", None)
    if ticket_id is not None:  # a ticket's event or feedback: its ticket is in the session
        ticket = session.identity_map.get(session.identity_key(Ticket, ticket_id))
        return ticket.company_id if ticket is not None else None
    return None


@event.listens_for(OrmSession, "before_flush")
def _collect(session: OrmSession, _context: object, _instances: object) -> None:
    changed = {
        _company_of(session, obj) for obj in (*session.new, *session.dirty, *session.deleted)
    }
    changed.discard(None)
    if changed:
        session.info.setdefault(_COLLECTED, set()).update(changed)


@event.listens_for(OrmSession, "do_orm_execute")
def _staff_statement(state: object) -> None:
    """An UPDATE or DELETE of staff accounts or their sessions through a session (disabling
    someone, ending their sessions) is noted."""
    table = getattr(state.statement, "table", None)
    if (state.is_update or state.is_delete) and getattr(table, "name", None) in _PEOPLE:
        note(state.session, [EVERYONE])


DEFER = "smsbot.changes.defer"
"""session.info key: a set that gathers the companies to bump instead, for the caller to
bump once it has done more after the commit (the inbound job, after sending the replies:
one round trip for the messages and their replies)."""


@event.listens_for(OrmSession, "after_commit")
def _announce(session: OrmSession) -> None:
    changed = session.info.pop(_COLLECTED, None)
    if changed:
        deferred = session.info.get(DEFER)
        if deferred is not None:
            deferred.update(changed)
        else:
            bump(changed)


@event.listens_for(OrmSession, "after_rollback")
def _forget(session: OrmSession) -> None:
    session.info.pop(_COLLECTED, None)
