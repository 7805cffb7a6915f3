"""`smsbot smpp`: the process that holds one SMPP bind per account, sends and receives.

For each SMPP account in the settings a connector claims its provider's queued messages from
the database (never through RQ send jobs), writes their submit_sm within the account's
window and rate, records the SMSC's ids, and stores what deliver_sm brings: residents' SMS
(answered only once stored) and delivery receipts. A Redis LPUSH on `smsbot:wake:<provider>`
wakes it at once after a commit; otherwise it looks at the database every second, so a
Redis outage costs a second of latency, not a message. Database and Redis outages are
waited out with a backoff: the process never exits for them.

Never one message twice. A submit_sm written to the SMSC that got no answer (the bind
dropped, the connector was killed, even by SIGKILL) has an UNKNOWN outcome: the SMSC may have
taken it. Such a message stays 'sending' with no provider id and is NOT submitted again
blindly. While bound, the connector waits for delivery receipts: a receipt whose id matches
no message of ours is matched to an unknown message by its destination (the receipt's
source_addr) and its `text:` field (the first octets of the text) and recorded; that
message went out, and is not sent again. Only a message still unmatched after
SMPP_UNKNOWN_WAIT_SECONDS (600 by default) of listening goes back to 'queued' and is sent again.

The trade-off: SMPP gives no way to ask "did you take this?" without the id we never got
(query_sm needs it), so receipts are the only evidence. A message claimed but never written
(the connector died between the claim and the write) costs a wait of up to
SMPP_UNKNOWN_WAIT_SECONDS before it goes out; an SMSC that sends no receipt at all, or one
that comes later than the wait, can still produce a duplicate. We prefer a late reply to a
repeated one, and the wait is counted from the moment we can hear receipts again, so a
connector that was down for an hour does not give up on receipts still queued at the SMSC.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from redis.exceptions import RedisError
from smpplib import consts
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from smsbot import changes, db, metrics, outbound, queues
from smsbot.config import Settings
from smsbot.providers.base import GIVE_UP, INVALID_NUMBER, RETRY, SendResult, StatusUpdate
from smsbot.providers.smpp import outgoing
from smsbot.providers.smpp.config import KIND, SmppConfig
from smsbot.providers.smpp.incoming import Incoming
from smsbot.providers.smpp.matching import same_start
from smsbot.providers.smpp.outgoing import Outgoing, Unknown
from smsbot.providers.smpp.receipts import Receipt
from smsbot.providers.smpp.session import TEMPORARY_APP_ERROR, Dropped, NotBound, Session

log = logging.getLogger(__name__)

THROTTLE_PAUSE = 1.0
"""Seconds we send nothing after ESME_RTHROTTLED or ESME_RMSGQFUL."""
SLOW_DOWN = {consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL}
"""The SMSC refused the submit for now: write the same part again after a pause."""
MEANING = {
    consts.SMPP_ESME_RINVDSTADR: INVALID_NUMBER,
    consts.SMPP_ESME_RSYSERR: RETRY,
    consts.SMPP_ESME_RX_T_APPN: RETRY,
}
"""Other answers to a submit_sm; any code not here means give up."""
UNKNOWN_SCAN_SECONDS = 2.0
PARTS_SCAN_SECONDS = 10.0


class AccountConnector:
    """One account: a Session (the bind) and a sender thread claiming from the database."""

    def __init__(self, config: SmppConfig, settings: Settings, reassembly_seconds: float = 600.0):
        self.config = config
        self.settings = settings
        self.session = Session(config, self)
        self.incoming = Incoming(config, queues.connection, self._receipt, reassembly_seconds)
        self._lock = threading.RLock()
        self._inflight: dict[int, Outgoing] = {}
        self._by_seq: dict[int, tuple[Outgoing, int]] = {}
        self._backlog: list[Callable[[], None]] = []
        self._deferred: dict[str, float] = {}
        self._unknown: list[Unknown] = []
        self._unknown_heard: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_scan = self._next_parts = 0.0
        self._scanned = False

    # --- life -----------------------------------------------------------------------------

    def start(self) -> None:
        self.session.start()
        self._thread = threading.Thread(
            target=self._run, name=f"smpp-send-{self.config.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.session.stop()
        with self._lock:
            untouched = [o.message_id for o in self._inflight.values() if not _touched(o)]
        self._db(lambda: outgoing.release(untouched))

    # --- the session's callbacks (listener thread) -------------------------------------------

    def on_bound(self) -> None:
        self._scanned = False  # until the sender thread has looked, a receipt may be theirs
        self._next_scan = 0.0

    def on_submit_resp(self, sequence: int, status: int, message_id: str | None) -> None:
        with self._lock:
            entry = self._by_seq.pop(sequence, None)
            if entry is None:
                return
            out, index = entry
            out.written.discard(index)
            if status == consts.SMPP_ESME_ROK:
                out.ids[index] = message_id or f"{out.message_id}.{index + 1}"
            elif status in SLOW_DOWN:
                self.session.hold(THROTTLE_PAUSE)
                out.to_write.insert(0, index)
                log.info("SMPP %s: throttled (%#x), sending again", self.config.name, status)
            elif MEANING.get(status) == RETRY and (out.accepted or out.written):
                # Other parts are out: send this one again rather than the whole text.
                self.session.hold(THROTTLE_PAUSE)
                out.to_write.append(index)
            else:
                out.failure = (status, MEANING.get(status, GIVE_UP))
                out.to_write.clear()
        self._settle(out)

    def on_deliver(self, pdu: object) -> int:
        try:
            stored = self.incoming.deliver(pdu)
        except (SQLAlchemyError, RedisError, OSError) as exc:
            log.warning(
                "SMPP %s: cannot store a deliver_sm now, the SMSC will retry: %s",
                self.config.name,
                exc,
            )
            return TEMPORARY_APP_ERROR
        return consts.SMPP_ESME_ROK if stored else TEMPORARY_APP_ERROR

    def after_answer(self) -> None:
        self.incoming.after_answer()

    def on_dropped(self, unanswered: list[int]) -> None:
        with self._lock:
            for sequence in unanswered:
                entry = self._by_seq.pop(sequence, None)
                if entry is not None:
                    entry[0].written.discard(entry[1])
                    entry[0].unknown.add(entry[1])
            outs = list(self._inflight.values())
        untouched = [out.message_id for out in outs if not _touched(out)]
        self._db(lambda: outgoing.release(untouched))
        with self._lock:
            for message_id in untouched:
                self._inflight.pop(message_id, None)
        for out in outs:
            if _touched(out) and not out.to_write:
                self._settle(out)
            # else: some parts went, the rest are written after the next bind (same UDH ref)
        if unanswered:
            log.warning(
                "SMPP %s: %d submit_sm unanswered when the bind ended: their messages wait for "
                "receipts before anything is sent again",
                self.config.name,
                len(unanswered),
            )

    # --- settling one message ---------------------------------------------------------------

    def _settle(self, out: Outgoing) -> None:
        with self._lock:
            if out.written or (out.to_write and out.failure is None) or out.done:
                return
            out.done = True
        try:
            self._finish(out)
        finally:
            # Only now: until its row is written, a scan must not take it for an unknown send.
            with self._lock:
                self._inflight.pop(out.message_id, None)

    def _finish(self, out: Outgoing) -> None:
        name = self.config.name
        if out.failure is not None:
            code, meaning = out.failure
            reason = f"SMPP {consts.DESCRIPTIONS.get(code, 'error')} ({code:#x})"
            if meaning == RETRY and not out.accepted:
                self._db(
                    lambda: outgoing.retry_later(out, code, reason, self.settings.send_max_attempts)
                )
                last = outgoing.gives_up(out, self.settings.send_max_attempts)
                metrics.MESSAGES_OUT.labels(name, "failed" if last else "retry").inc()
                if not last:
                    metrics.SEND_RETRIES.labels(name).inc()
            else:
                metrics.MESSAGES_OUT.labels(name, "failed").inc()
                log.warning(
                    "SMPP %s: message %s failed for good: %s",
                    self.config.name,
                    out.message_id,
                    reason,
                )
                self._db(lambda: outgoing.fail(out, code, reason))
        elif out.accepted:
            self._db(lambda: outgoing.record(self.config, out))
            metrics.MESSAGES_OUT.labels(name, "accepted").inc()
        # else: every part unanswered, the outcome is unknown: it stays 'sending' (see above)

    def _db(self, step: Callable[[], object]) -> None:
        """Do a database write now, or keep it (in order) until the database is back."""
        with self._lock:
            if self._backlog:
                self._backlog.append(step)
                return
        try:
            step()
        except IntegrityError:
            log.exception("SMPP %s: a write the database refuses, dropped", self.config.name)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("SMPP %s: database unavailable, keeping a write: %s", self.config.name, exc)
            with self._lock:
                self._backlog.append(step)

    def _retry_backlog(self) -> None:
        while True:
            with self._lock:
                if not self._backlog:
                    return
                step = self._backlog[0]
            try:
                step()  # raises while the database is still down: the loop backs off
            except IntegrityError:
                log.exception("SMPP %s: a write the database refuses, dropped", self.config.name)
            with self._lock:
                self._backlog.pop(0)

    # --- receipts -------------------------------------------------------------------------

    def _receipt(self, receipt: Receipt, destination: str, text: bytes) -> bool:
        """Apply a receipt; False asks the SMSC to deliver it again later (ESME_RX_T_APPN).

        A receipt can come before the submit_sm_resp of its message is recorded (some SMSCs
        send it first); answering "later" rather than keeping it in memory means a
        connector killed now loses nothing.
        """
        if self._apply(receipt) or self._match_unknown(receipt, destination, text):
            with self._lock:
                self._deferred.pop(receipt.message_id, None)
            return True
        now = time.monotonic()
        with self._lock:
            first = self._deferred.setdefault(receipt.message_id, now)
            waiting = bool(self._inflight or self._unknown or not self._scanned)
        if waiting and now - first < self.config.unknown_wait_seconds + 60:
            return False
        with self._lock:
            self._deferred.pop(receipt.message_id, None)
        log.info(
            "SMPP %s: a receipt for an id we never sent (%s): ignored",
            self.config.name,
            receipt.message_id,
        )
        return True

    def _apply(self, receipt: Receipt) -> bool:
        error = int(receipt.err) if receipt.err and receipt.err.isdigit() else 0
        forms = sorted(receipt.id_forms() - {receipt.message_id})
        update = StatusUpdate(
            provider_id=receipt.message_id,
            status=receipt.status,
            error_code=error or None,
            error_message=f"SMPP receipt {receipt.stat}" if error else None,
            aliases=tuple(forms),  # every spelling in one query, not one query each
        )
        changed: set[int | str | None] = set()
        with db.session_scope() as session:
            result = outbound.apply_status(session, self.config.name, update, changed=changed)
        changes.bump_soon(changed)
        if result == "updated":
            metrics.DELIVERY_STATES.labels(self.config.name, update.status).inc()
        return result != "unknown"

    def _match_unknown(self, receipt: Receipt, destination: str, text: bytes) -> bool:
        with self._lock:
            if any(o.to == destination and o.written for o in self._inflight.values()):
                return False  # it may be theirs, its answer still on the way: not yet
            found = next(
                (
                    u
                    for u in self._unknown
                    if u.to == destination and same_start(u.body, text, self.config, u.message_id)
                ),
                None,
            )
            if found is None:
                return False
            self._unknown.remove(found)
        outbound.record(
            found.message_id,
            SendResult(provider_id=receipt.message_id, status="accepted"),
            self.config.name,
        )
        log.info(
            "SMPP %s: message %s had no answer to its submit_sm, but a receipt shows it went "
            "out: recorded, not sent again",
            self.config.name,
            found.message_id,
        )
        self._apply(receipt)
        return True

    # --- unknown outcomes ---------------------------------------------------------------------

    def _scan_unknown(self) -> None:
        with self._lock:
            busy = set(self._inflight)
        found = outgoing.unknown(self.config, busy)
        now = time.monotonic()
        with self._lock:
            self._unknown = found
            self._scanned = True
            heard = {u.message_id: self._unknown_heard.get(u.message_id, now) for u in found}
            self._unknown_heard = heard
        for u in found:
            if now - heard[u.message_id] >= self.config.unknown_wait_seconds:
                if outgoing.release_unknown(u.message_id, u.claimed_at):
                    log.warning(
                        "SMPP %s: message %s: no answer to its submit_sm and no receipt in %g s: "
                        "sending it again",
                        self.config.name,
                        u.message_id,
                        self.config.unknown_wait_seconds,
                    )
                with self._lock:
                    self._unknown = [x for x in self._unknown if x.message_id != u.message_id]

    # --- the sender thread ----------------------------------------------------------------------

    def _run(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                self._retry_backlog()
                if not self.session.wait_bound(1.0):
                    continue
                self._tick()
                pause = 0.5
            except (SQLAlchemyError, RedisError, OSError) as exc:
                log.warning("SMPP %s: waiting for the database or Redis: %s", self.config.name, exc)
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)
            except Exception:
                log.exception("SMPP %s: sender failed, going on", self.config.name)
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)

    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_scan:
            self._next_scan = now + UNKNOWN_SCAN_SECONDS
            self._scan_unknown()
            with self._lock:  # receipts the SMSC stopped sending again
                limit = now - self.config.unknown_wait_seconds - 120
                self._deferred = {k: t for k, t in self._deferred.items() if t > limit}
        if now >= self._next_parts:
            self._next_parts = now + min(PARTS_SCAN_SECONDS, self.incoming.reassembly_seconds / 2)
            self.incoming.expire_parts()
        self._write_pending()
        free = self.session.free_window()
        if free > 0:
            claimed = outgoing.claim(self.config, free)
            if claimed:
                with self._lock:
                    for out in claimed:
                        self._inflight[out.message_id] = out
                self._write_pending()
                return
        self._wait_for_wake(1.0)

    def _write_pending(self) -> None:
        with self._lock:
            outs = sorted(
                (o for o in self._inflight.values() if o.to_write and o.failure is None),
                key=lambda o: o.message_id,
            )
        for out in outs:
            while not self._stop.is_set():
                with self._lock:
                    if not out.to_write or out.failure is not None:
                        break
                    index = out.to_write.pop(0)
                    # Counted as written from now on, so an answer to an earlier part cannot
                    # settle the message while this one is on its way out.
                    out.written.add(index)

                def register(sequence: int, out: Outgoing = out, index: int = index) -> None:
                    with self._lock:
                        self._by_seq[sequence] = (out, index)

                try:
                    self.session.submit(register, **outgoing.submit_fields(out, index))
                except NotBound:
                    with self._lock:
                        out.written.discard(index)
                        out.to_write.insert(0, index)
                    return
                except Dropped:
                    return  # on_dropped counts it among the unanswered

    def _wait_for_wake(self, seconds: float) -> None:
        try:
            queues.connection().blpop(queues.wake_key(self.config.name), timeout=seconds)
        except RedisError:
            self._stop.wait(seconds)


def _touched(out: Outgoing) -> bool:
    """Whether any part of it was written (so the SMSC may have it)."""
    return bool(out.written or out.unknown or out.accepted or out.failure)


def run_connector(settings: Settings, stop: threading.Event | None = None) -> None:
    """Bind every SMPP account of `settings` and serve until `stop` is set."""
    stop = stop or threading.Event()
    configs = [c for c in settings.providers if c.kind == KIND]
    if not configs:
        log.warning("no SMPP account is configured (SMPP_HOST): nothing to do")
        return
    connectors = [AccountConnector(c, settings) for c in configs]
    for connector in connectors:
        connector.start()
    log.info("SMPP connector running for %s", ", ".join(c.name for c in configs))
    stop.wait()
    for connector in connectors:
        connector.stop()


def main(settings: Settings) -> None:
    """`smsbot smpp`: run until SIGTERM or SIGINT, then unbind and exit."""
    db.init(settings.database_url)
    if settings.redis_url:
        queues.init(settings.redis_url)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_connector(settings, stop)


if __name__ == "__main__":
    from smsbot import config as smsbot_config
    from smsbot import logs

    logs.configure()
    main(smsbot_config.load())
