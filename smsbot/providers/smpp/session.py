"""One SMPP account's bind: connect, bind_transceiver, listen, keep alive, bind again.

smpplib (https://github.com/python-smpplib/python-smpplib) encodes and decodes the PDUs and
makes the TCP connection and the bind; this module adds what a long-lived connector needs
and smpplib leaves to its user:

- one lock around every write, because the sender thread writes submit_sm while the listener
  thread answers deliver_sm and enquire_link on the same socket (smpplib's own sequence
  counter and send_pdu are not thread-safe);
- the window (at most N submit_sm written and not yet answered) and the account's messages
  per second, both kept here for the whole bind;
- our own read loop rather than smpplib's `listen`, so an SMSC's `unbind`, a `generic_nack`
  and an unanswered `enquire_link` end the bind instead of being logged and forgotten; and
  so a deliver_sm is answered only after the handler returns (the connector stores first);
- an `enquire_link` every `enquire_seconds`; a link silent for two of those is dead;
- a new bind after a drop or a refused bind, backing off 1 s … 60 s with jitter, so a
  hundred connectors do not hammer an SMSC that is coming back up.

Every submit_sm written and unanswered when a bind ends is handed to the handler as
"unanswered": the SMSC may or may not have taken it (see connector.py for what follows).
SMPP 3.4: https://smpp.org/SMPP_v3_4_Issue1_2.pdf (2.2 sessions, 2.8 windowing, 4.11 enquire_link).
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from smpplib import consts, smpp
from smpplib.client import Client
from smpplib.exceptions import ConnectionError as SmppConnectionError
from smpplib.exceptions import PDUError

from smsbot.providers.smpp.config import SmppConfig

log = logging.getLogger(__name__)

REFUSED_BIND = {
    consts.SMPP_ESME_RINVPASWD: "invalid password",
    consts.SMPP_ESME_RINVSYSID: "invalid system_id",
    consts.SMPP_ESME_RBINDFAIL: "bind failed",
    consts.SMPP_ESME_RALYBND: "already bound",
}
"""Bind answers that mean the SMSC refuses us, not that the network failed."""
TEMPORARY_APP_ERROR = consts.SMPP_ESME_RX_T_APPN
"""Our answer to a deliver_sm we could not store: the SMSC delivers it again later."""

CONNECT_TIMEOUT = 10.0
"""Seconds for the TCP connection and the bind answer."""
RESPONSE_TIMEOUT = 60.0
"""A submit_sm unanswered this long means the bind is stuck: drop it and bind again."""


class Handler(Protocol):
    """What the connector does with what the bind carries (called on the listener thread)."""

    def on_bound(self) -> None: ...

    def on_submit_resp(self, sequence: int, status: int, message_id: str | None) -> None: ...

    def on_deliver(self, pdu: Any) -> int:
        """Store the deliver_sm; the command_status to answer it with (0: stored)."""
        ...

    def after_answer(self) -> None:
        """Called once the deliver_sm_resp is written (cleanup that must follow the answer)."""
        ...

    def on_dropped(self, unanswered: list[int]) -> None: ...


class NotBound(Exception):
    """The bind is down (or going down): nothing was written."""


class Dropped(Exception):
    """The bind ended; the reason is the message."""


class _Client(Client):
    """smpplib's client with thread-safe writes and sequence numbers."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.write_lock = threading.RLock()

    def next_sequence(self) -> int:
        with self.write_lock:
            return super().next_sequence()

    def send_pdu(self, p: Any) -> bool:
        with self.write_lock:
            return super().send_pdu(p)


class Session:
    """The bind of one account, kept up by its own thread until `stop`."""

    backoff_first = 1.0
    backoff_max = 60.0

    def __init__(self, config: SmppConfig, handler: Handler):
        self.config = config
        self.handler = handler
        self._client: _Client | None = None
        self._cond = threading.Condition()
        self._outstanding: dict[int, float] = {}
        self._bound = False
        self._stopping = threading.Event()
        self._next_slot = 0.0
        self._thread: threading.Thread | None = None
        self._stop_at = 0.0
        self.binds = 0
        """How many times a bind succeeded (tests and logs)."""

    # --- life -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"smpp-{self.config.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Unbind and close: waits a little for answers to what is outstanding first."""
        self._stop_at = time.monotonic()
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def bound(self) -> bool:
        return self._bound

    def wait_bound(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._bound or self._stopping.is_set(), timeout
            ) and (self._bound)

    def outstanding(self) -> int:
        with self._cond:
            return len(self._outstanding)

    def free_window(self) -> int:
        with self._cond:
            return self.config.window - len(self._outstanding) if self._bound else 0

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (the SMSC said it is throttling us)."""
        with self._cond:
            self._next_slot = max(self._next_slot, time.monotonic() + seconds)

    # --- sending ----------------------------------------------------------------------------

    def submit(self, register: Callable[[int], None], **fields: Any) -> int:
        """Write one submit_sm once the window and the rate allow; its sequence number.

        `register(sequence)` is called before the write, so its answer always finds it.

        Raises NotBound when the bind is down or goes down while waiting (nothing written),
        Dropped when the write itself failed (the SMSC may have read it: unknown outcome,
        reported through on_dropped like every other unanswered submit).
        """
        interval = 1.0 / self.config.messages_per_second
        with self._cond:
            while True:
                if self._stopping.is_set() or not self._bound:
                    raise NotBound(self.config.name)
                wait = self._next_slot - time.monotonic()
                if len(self._outstanding) < self.config.window and wait <= 0:
                    break
                self._cond.wait(min(max(wait, 0.001), 0.5) if wait > 0 else 0.5)
            self._next_slot = max(self._next_slot, time.monotonic()) + interval
            client = self._client
            with client.write_lock:
                pdu = smpp.make_pdu("submit_sm", client=client, **fields)
                self._outstanding[pdu.sequence] = time.monotonic()
                register(pdu.sequence)
                try:
                    client.send_pdu(pdu)
                except (SmppConnectionError, OSError, PDUError) as exc:
                    self._close_socket()
                    raise Dropped(f"write failed: {exc}") from exc
            return pdu.sequence

    # --- the bind's thread -----------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                self._bind()
            except Dropped as exc:
                failures += 1
                self._wait_before_binding(failures, str(exc))
                continue
            failures = 0
            reason = "stopped"
            try:
                self.handler.on_bound()
                self._listen()
            except Dropped as exc:
                reason = str(exc)
            except Exception as exc:  # a bug must not end the bind's thread for good
                reason = f"{type(exc).__name__}: {exc}"
                log.exception("SMPP %s: listener failed", self.config.name)
            self._end_bind(reason)
            if not self._stopping.is_set():
                failures = 1
                self._wait_before_binding(failures, reason)

    def _bind(self) -> None:
        c = self.config
        client = _Client(c.host, c.port, timeout=CONNECT_TIMEOUT, allow_unknown_opt_params=True)
        try:
            client.connect()
            client.bind_transceiver(
                system_id=c.system_id, password=c.password, system_type=c.system_type or None
            )
        except PDUError as exc:
            client.disconnect()
            code = exc.args[1] if len(exc.args) > 1 else None
            if code in REFUSED_BIND:
                log.error(
                    "SMPP bind refused for system_id %s: %s (%s:%s)",
                    c.system_id,
                    REFUSED_BIND[code],
                    c.host,
                    c.port,
                )
                raise Dropped(f"bind refused: {REFUSED_BIND[code]}") from None
            raise Dropped(f"bind failed: {exc}") from None
        except (SmppConnectionError, OSError) as exc:
            client.disconnect()
            log.warning(
                "SMPP %s: cannot bind at %s:%s: %s", c.name, c.host, c.port, exc or "no answer"
            )
            raise Dropped("cannot connect") from None
        with self._cond:
            self._client = client
            self._outstanding.clear()
            self._bound = True
            self.binds += 1
            self._cond.notify_all()
        log.info("SMPP %s: bound as %s at %s:%s", c.name, c.system_id, c.host, c.port)

    def _wait_before_binding(self, failures: int, reason: str) -> None:
        delay = min(self.backoff_max, self.backoff_first * 2 ** (failures - 1))
        delay *= random.uniform(0.5, 1.0)
        log.info("SMPP %s: binding again in %.1f s (%s)", self.config.name, delay, reason)
        self._stopping.wait(delay)

    def _listen(self) -> None:
        client = self._client
        last_heard = last_enquire = time.monotonic()
        enquire_sent: float | None = None
        unbind_sent: float | None = None
        while True:
            now = time.monotonic()
            draining = self._stopping.is_set() and unbind_sent is None
            if draining and (not self._outstanding or now - self._stop_at > 5.0):
                with self._cond:
                    self._bound = False
                    self._cond.notify_all()
                self._write(smpp.make_pdu("unbind", client=client))
                unbind_sent = now
            if unbind_sent is not None and now - unbind_sent > 2.0:
                raise Dropped("stopped (no unbind_resp)")
            if now - last_enquire >= self.config.enquire_seconds and unbind_sent is None:
                if enquire_sent is not None and last_heard < enquire_sent:
                    raise Dropped("no answer to enquire_link")
                self._write(smpp.make_pdu("enquire_link", client=client))
                enquire_sent = last_enquire = now
            oldest = min(self._outstanding.values(), default=now)
            if now - oldest > RESPONSE_TIMEOUT:
                raise Dropped("submit_sm unanswered for too long")
            try:
                readable, _, _ = select.select([client._socket], [], [], 0.2)
            except (OSError, ValueError, TypeError) as exc:
                raise Dropped(f"socket closed: {exc}") from None
            if not readable:
                continue
            try:
                pdu = client.read_pdu()
            except (TimeoutError, SmppConnectionError, OSError) as exc:
                raise Dropped(f"connection lost: {exc or 'closed by the SMSC'}") from None
            except Exception as exc:  # an unreadable PDU: the stream cannot be trusted
                raise Dropped(f"unreadable PDU: {exc}") from None
            last_heard = time.monotonic()
            if self._dispatch(pdu) == "unbound":
                return

    def _dispatch(self, pdu: Any) -> str | None:
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            with self._cond:
                known = self._outstanding.pop(pdu.sequence, None) is not None
                self._cond.notify_all()
            if known:
                message_id = getattr(pdu, "message_id", None)
                if isinstance(message_id, bytes):
                    message_id = message_id.decode("ascii", "replace")
                self.handler.on_submit_resp(pdu.sequence, int(pdu.status), message_id or None)
            elif command == "generic_nack":
                log.warning("SMPP %s: generic_nack %#x", self.config.name, pdu.status)
        elif command == "deliver_sm":
            try:
                status = self.handler.on_deliver(pdu)
            except Exception:
                log.exception("SMPP %s: could not handle a deliver_sm", self.config.name)
                status = TEMPORARY_APP_ERROR
            resp = smpp.make_pdu("deliver_sm_resp", client=self._client, status=status)
            resp.sequence = pdu.sequence
            self._write(resp)
            if status == consts.SMPP_ESME_ROK:
                self.handler.after_answer()
        elif command == "enquire_link":
            resp = smpp.make_pdu("enquire_link_resp", client=self._client)
            resp.sequence = pdu.sequence
            self._write(resp)
        elif command == "unbind":
            resp = smpp.make_pdu("unbind_resp", client=self._client)
            resp.sequence = pdu.sequence
            self._write(resp)
            raise Dropped("the SMSC unbound")
        elif command == "unbind_resp":
            return "unbound"
        elif command not in ("enquire_link_resp", "alert_notification"):
            log.warning("SMPP %s: unexpected %s", self.config.name, command)
        return None

    def _write(self, pdu: Any) -> None:
        try:
            self._client.send_pdu(pdu)
        except (SmppConnectionError, OSError, PDUError) as exc:
            raise Dropped(f"write failed: {exc}") from None

    def _close_socket(self) -> None:
        client = self._client
        if client is not None and client._socket is not None:
            with contextlib.suppress(OSError):
                client._socket.shutdown(socket.SHUT_RDWR)

    def _end_bind(self, reason: str) -> None:
        with self._cond:
            self._bound = False
            unanswered = sorted(self._outstanding)
            self._outstanding.clear()
            self._cond.notify_all()
        if self._client is not None:
            self._client.state = consts.SMPP_CLIENT_STATE_OPEN  # a quiet disconnect
            self._client.disconnect()
        level = logging.INFO if self._stopping.is_set() else logging.WARNING
        log.log(
            level,
            "SMPP %s: bind ended (%s), %d unanswered",
            self.config.name,
            reason,
            len(unanswered),
        )
        self.handler.on_dropped(unanswered)
