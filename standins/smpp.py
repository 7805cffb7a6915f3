"""A local SMSC that speaks SMPP 3.4 over real TCP, for tests, demos and benchmarks.

Our connector talks SMPP through ``smpplib``; this simulator decodes and encodes PDUs with a
different implementation, ``smpp34`` (a Rust codec: ``smpp34.decode`` for submit_sm,
``smpp34.DeliverSm(...).encode()`` for deliver_sm), so a bug in one codec cannot hide in the
other. smpp34's own ``Server`` accepts every bind and owns the socket, and an SMSC stand-in
must refuse passwords, drop connections mid-window and hold receipts across binds, so the
socket loop here is our own (plain threads; the header and the few fixed bodies are ``struct``).

Behaviour follows the SMPP v3.4 specification, Issue 1.2 (https://smpp.org/SMPP_v3_4_Issue1_2.pdf):

* 4.1 bind_transmitter / bind_receiver / bind_transceiver: system_id and password are checked;
  a wrong password gets ESME_RINVPASWD (0x0E), an unknown system_id ESME_RINVSYSID (0x0F), and
  ``refuse_binds`` gives ESME_RBINDFAIL (0x0D); an error response carries no body (4.1.6).
* 4.4 submit_sm: answered with a message_id (``hex_ids``: hex in the response and decimal in
  the receipt, a trap real SMSCs set); ESME_RTHROTTLED (0x58, 5.1.3) above ``max_per_second``
  or for the next k submits on demand; a chosen destination can get ESME_RINVDSTADR (0x0B).
* 4.6 deliver_sm: delivery receipts (esm_class 0x04, 5.2.12) whose short_message is in the
  Appendix B format ``id:.. sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
  stat:DELIVRD err:000 text:..`` with the TLVs receipted_message_id (0x001E, 5.3.2.12) and
  message_state (0x0427, 5.3.2.35, values in 5.2.28). The outcome is set per destination or
  for the next n messages. Mobile-originated messages go the same way (esm_class 0), long
  ones as UCS-2 or GSM-7 parts with a concatenation UDH, in any order the test asks for.
  Addresses are international digits without "+", TON=1 NPI=1 (5.2.5, 5.2.6).
* Store and forward: every deliver_sm (receipt or MO) waits in a store per system_id until a
  bound receiver/transceiver answers it with ESME_ROK; on a drop the unanswered ones go back,
  so receipts for a system_id that is not bound are delivered when it binds again.
* 4.11 enquire_link is answered, and sent every ``enquire_interval`` seconds when set; 4.2
  unbind is answered and the connection closed; ``unbind_all()`` unbinds from our side.
* ``drop_after(k)``: on the k-th submit_sm from now the TCP connection is closed without a
  response (the submit was taken, so its receipt comes later: the case where a connector must
  not send again).
* 4.8 query_sm: answers the state of a message id it gave.

Control from Python: ``FakeSmsc`` below (a context manager); from another process:
``python -m standins.smpp --port 2775 --control-port 8775 --system-id ID --password PW`` and
the HTTP endpoints in standins/smpp_control.py.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import smpp34

from standins.smpp_text import SubmitLog, Submitted, decode, phone_parts, udh_concat

GENERIC_NACK, BIND_RX, BIND_TX, QUERY_SM, SUBMIT_SM, DELIVER_SM, UNBIND = (
    0x80000000,
    1,
    2,
    3,
    4,
    5,
    6,
)
BIND_TRX, ENQUIRE_LINK, RESP = 9, 0x15, 0x80000000
ROK, RINVCMDID, RINVBNDSTS, RALYBND, RSYSERR, RINVDSTADR = 0x00, 0x03, 0x04, 0x05, 0x08, 0x0B
RINVMSGID = 0x0C
RBINDFAIL, RINVPASWD, RINVSYSID, RTHROTTLED = 0x0D, 0x0E, 0x0F, 0x58
STATES = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5,
          "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}  # fmt: skip
ERRORS = {"DELIVRD": "000", "UNDELIV": "001", "EXPIRED": "002", "REJECTD": "003"}


def header(length: int, command_id: int, status: int, seq: int) -> bytes:
    return struct.pack(">IIII", length, command_id, status, seq)


def pdu(command_id: int, status: int, seq: int, body: bytes = b"") -> bytes:
    return header(16 + len(body), command_id, status, seq) + body


def cstrings(body: bytes, n: int) -> tuple[list[str], bytes]:
    """The first ``n`` C-Octet Strings of a body, and what follows them."""
    out = []
    for _ in range(n):
        value, _, body = body.partition(b"\x00")
        out.append(value.decode("latin-1"))
    return out, body


def address_type(address: str) -> tuple[int, int]:
    """(TON, NPI): international E.164 digits, or an alphanumeric sender name (5.2.5-6)."""
    return (1, 1) if address.isdigit() else (5, 0)


def smpp_time(moment: float) -> str:
    return datetime.fromtimestamp(moment).strftime("%y%m%d%H%M")


@dataclass
class Deliver:
    """A deliver_sm waiting in the store: a receipt or a resident's message part."""

    system_id: str
    source: str
    destination: str
    short_message: bytes
    esm_class: int = 0
    data_coding: int = 0
    tlvs: list = field(default_factory=list)
    kind: str = "mo"


@dataclass
class Message:
    """What the SMSC knows about one message id it handed out."""

    message_id: str
    system_id: str
    destination: str
    stat: str
    submitted_at: float


class Session:
    """One TCP connection from an ESME: reads PDUs, writes responses and deliveries."""

    def __init__(self, smsc: FakeSmsc, sock: socket.socket):
        self.smsc, self.sock = smsc, sock
        self.system_id: str | None = None
        self.can_receive = False
        self.closed = threading.Event()
        self.inflight: dict[int, Deliver] = {}
        self._write = threading.Lock()
        self._seq = 0

    def next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def send(self, data: bytes) -> None:
        with self._write:
            try:
                self.sock.sendall(data)
            except OSError:
                self.close()

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.smsc.session_closed(self)

    def read_exact(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def run(self) -> None:
        threading.Thread(target=self.pump, daemon=True).start()
        while not self.closed.is_set():
            head = self.read_exact(16)
            if head is None:
                break
            length, command_id, status, seq = struct.unpack(">IIII", head)
            if not 16 <= length <= 65536:
                break
            body = self.read_exact(length - 16) if length > 16 else b""
            if body is None:
                break
            self.smsc.handle(self, command_id, status, seq, head + body)
        self.close()

    def pump(self) -> None:
        """Push stored deliver_sm to this session and send enquire_link when it is due."""
        last_enquire = time.monotonic()
        while not self.closed.wait(0.02):
            interval = self.smsc.enquire_interval
            if self.system_id and interval and time.monotonic() - last_enquire >= interval:
                last_enquire = time.monotonic()
                self.send(pdu(ENQUIRE_LINK, ROK, self.next_seq()))
            if self.can_receive:
                for seq, item in self.smsc.take_deliveries(self):
                    source_ton, source_npi = address_type(item.source)
                    dest_ton, dest_npi = address_type(item.destination)
                    encoded = smpp34.DeliverSm(
                        item.source, item.destination, item.short_message,
                        source_addr_ton=source_ton, source_addr_npi=source_npi,
                        dest_addr_ton=dest_ton, dest_addr_npi=dest_npi,
                        esm_class=item.esm_class, data_coding=item.data_coding,
                        tlvs=item.tlvs, sequence_number=seq,
                    ).encode()  # fmt: skip
                    self.send(encoded)


class FakeSmsc:
    """The simulator. ``with FakeSmsc(system_id="smsbot", password="secret") as smsc:``

    Knobs (attributes, also settable with :meth:`configure`): ``max_per_second`` (None: no
    limit), ``hex_ids``, ``enquire_interval`` (seconds, None: never), ``refuse_binds``,
    ``receipts`` (send them at all), ``window`` (deliver_sm outstanding per session).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, system_id: str = "smsbot",
                 password: str = "secret", accounts: dict[str, str] | None = None,
                 max_per_second: float | None = None, hex_ids: bool = False,
                 enquire_interval: float | None = None, name: str = "FakeSMSC"):  # fmt: skip
        self.host, self.port = host, port
        self.accounts = dict(accounts or {system_id: password})
        self.system_id = next(iter(self.accounts))
        self.name = name
        self.max_per_second, self.hex_ids = max_per_second, hex_ids
        self.enquire_interval = enquire_interval
        self.refuse_binds, self.receipts, self.window = False, True, 10
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.log = SubmitLog()
        self.messages: dict[str, Message] = {}
        self.store: dict[str, deque[Deliver]] = {}
        self.sessions: list[Session] = []
        self.bind_log: list[tuple[str, int]] = []
        self.deliver_resps: list[tuple[str, int]] = []
        self.throttled = 0
        self._outcomes: dict[str, str] = {}
        self._next_outcomes: deque[str] = deque()
        self._reject: dict[str, int] = {}
        self._throttle_next = 0
        self._drop_in: int | None = None
        self._drop_taken = True
        self._recent: deque[float] = deque()
        self._next_id = 1_000_000
        self._mo_ref = 0
        self._server: socket.socket | None = None

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> FakeSmsc:
        self._server = socket.create_server((self.host, self.port))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="fake-smsc").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in list(self.sessions):
            session.close()

    def __enter__(self) -> FakeSmsc:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept(self) -> None:
        server = self._server
        while server is not None:
            try:
                sock, _ = server.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = Session(self, sock)
            with self.lock:
                self.sessions.append(session)
            threading.Thread(target=session.run, daemon=True).start()

    def session_closed(self, session: Session) -> None:
        """Unanswered deliveries go back to the front of the store, oldest first."""
        with self.changed:
            if session in self.sessions:
                self.sessions.remove(session)
            if session.system_id and session.inflight:
                queue = self.store.setdefault(session.system_id, deque())
                for seq in sorted(session.inflight, reverse=True):
                    queue.appendleft(session.inflight[seq])
                session.inflight.clear()
            self.changed.notify_all()

    # --- knobs ----------------------------------------------------------------------------

    def configure(self, **knobs) -> None:
        allowed = {"max_per_second", "hex_ids", "enquire_interval", "refuse_binds",
                   "receipts", "window"}  # fmt: skip
        unknown = set(knobs) - allowed
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        with self.lock:
            for key, value in knobs.items():
                setattr(self, key, value)

    def set_outcome(self, stat: str, *, destination: str | None = None, next_n: int = 0) -> None:
        """Receipts say ``stat`` for ``destination`` (digits or +E.164) or the next n messages."""
        stat = stat.upper()
        if stat not in STATES:
            raise ValueError(f"stat must be one of {', '.join(STATES)}")
        with self.lock:
            if destination:
                self._outcomes[destination.lstrip("+")] = stat
            self._next_outcomes.extend([stat] * next_n)

    def reject_destination(self, destination: str, status: int = RINVDSTADR) -> None:
        with self.lock:
            self._reject[destination.lstrip("+")] = status

    def throttle_next(self, k: int) -> None:
        with self.lock:
            self._throttle_next = k

    def drop_after(self, k: int, *, taken: bool = True) -> None:
        """Close the connection on the k-th submit_sm from now, leaving it unanswered."""
        with self.lock:
            self._drop_in, self._drop_taken = k, taken

    def unbind_all(self) -> None:
        for session in list(self.sessions):
            session.send(pdu(UNBIND, ROK, session.next_seq()))

    # --- what tests look at -----------------------------------------------------------------

    @property
    def submitted(self) -> list[Submitted]:
        with self.lock:
            return list(self.log.messages)

    def pending(self, system_id: str | None = None) -> int:
        """Deliveries stored or in flight for ``system_id`` (all when None)."""
        with self.lock:
            stored = sum(len(q) for sid, q in self.store.items() if system_id in (None, sid))
            flying = sum(len(s.inflight) for s in self.sessions if system_id in (None, s.system_id))
            return stored + flying

    def bound(self, system_id: str | None = None) -> int:
        with self.lock:
            return sum(1 for s in self.sessions if s.system_id and system_id in (None, s.system_id))

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` holds (checked on every change and every 50 ms)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.05))
        return True

    # --- mobile-originated ------------------------------------------------------------------

    def send_mo(self, from_phone: str, to: str, text: str, *, order: list[int] | None = None,
                system_id: str | None = None, ref: int | None = None) -> int:  # fmt: skip
        """Queue a resident's SMS for ``system_id``; ``order`` lists part numbers to send
        (e.g. [2, 1, 3], or [1, 2, 2, 3] for a duplicate). Returns how many parts it made."""
        with self.changed:
            if ref is None:
                self._mo_ref = (self._mo_ref + 1) % 256
                ref = self._mo_ref
            parts = phone_parts(text, ref)
            queue = self.store.setdefault(system_id or self.system_id, deque())
            for seq in order or range(1, len(parts) + 1):
                coding, esm, data = parts[seq - 1]
                queue.append(Deliver(system_id or self.system_id, from_phone.lstrip("+"),
                                     to.lstrip("+"), data, esm, coding))  # fmt: skip
            self.changed.notify_all()
            return len(parts)

    # --- the protocol -----------------------------------------------------------------------

    def take_deliveries(self, session: Session) -> list[tuple[int, Deliver]]:
        """Move stored deliveries into the session's window: [(sequence number, item)]."""
        with self.lock:
            queue = self.store.get(session.system_id or "")
            taken = []
            while queue and len(session.inflight) < self.window:
                seq = session.next_seq()
                session.inflight[seq] = queue.popleft()
                taken.append((seq, session.inflight[seq]))
            return taken

    def handle(self, session: Session, command_id: int, status: int, seq: int, raw: bytes) -> None:
        body = raw[16:]
        if command_id in (BIND_RX, BIND_TX, BIND_TRX):
            self._bind(session, command_id, seq, body)
        elif command_id == ENQUIRE_LINK:
            session.send(pdu(ENQUIRE_LINK | RESP, ROK, seq))
        elif command_id == UNBIND:
            session.send(pdu(UNBIND | RESP, ROK, seq))
            session.close()
        elif command_id == UNBIND | RESP:
            session.close()
        elif command_id == DELIVER_SM | RESP:
            self._delivered(session, status, seq)
        elif command_id & RESP:
            return  # enquire_link_resp, generic_nack: nothing to do
        elif session.system_id is None:
            session.send(pdu(command_id | RESP, RINVBNDSTS, seq))
        elif command_id == SUBMIT_SM:
            self._submit(session, seq, raw)
        elif command_id == QUERY_SM:
            self._query(session, seq, body)
        else:
            session.send(pdu(GENERIC_NACK, RINVCMDID, seq))

    def _bind(self, session: Session, command_id: int, seq: int, body: bytes) -> None:
        (system_id, password, _system_type), _ = cstrings(body, 3)
        with self.changed:
            if session.system_id is not None:
                status = RALYBND
            elif self.refuse_binds:
                status = RBINDFAIL
            elif system_id not in self.accounts:
                status = RINVSYSID
            elif self.accounts[system_id] != password:
                status = RINVPASWD
            else:
                status = ROK
            self.bind_log.append((system_id, status))
            if status != ROK:
                session.send(pdu(command_id | RESP, status, seq))
                self.changed.notify_all()
                return
            session.system_id = system_id
            session.can_receive = command_id in (BIND_RX, BIND_TRX)
            tlv = struct.pack(">HHB", 0x0210, 1, 0x34)  # sc_interface_version 3.4
            session.send(pdu(command_id | RESP, ROK, seq, self.name.encode() + b"\x00" + tlv))
            self.changed.notify_all()

    def _new_id(self) -> tuple[str, str]:
        """(id for submit_sm_resp, id for the receipt): equal unless hex_ids is on."""
        self._next_id += 1
        number = self._next_id
        return (format(number, "x") if self.hex_ids else str(number)), str(number)

    def _submit(self, session: Session, seq: int, raw: bytes) -> None:
        try:
            sm = smpp34.decode(raw)
        except smpp34.SmppError:
            session.send(pdu(GENERIC_NACK, RSYSERR, seq))
            return
        with self.changed:
            drop = False
            if self._drop_in is not None:
                self._drop_in -= 1
                if self._drop_in <= 0:
                    self._drop_in, drop = None, True
            if drop and not self._drop_taken:
                session.close()
                return
            status = self._admit(sm.destination_addr)
            if status != ROK:
                session.send(pdu(SUBMIT_SM | RESP, status, seq))
                return
            resp_id, receipt_id = self._new_id()
            now = time.time()
            stat = self._outcome(sm.destination_addr)
            self.messages[resp_id] = Message(resp_id, session.system_id or "", sm.destination_addr,
                                             stat, now)  # fmt: skip
            tlvs = {t.tag: t.value for t in sm.tlvs}
            self.log.add(session.system_id or "", sm.source_addr, sm.destination_addr,
                         sm.data_coding, sm.esm_class, sm.short_message, tlvs, resp_id)  # fmt: skip
            if self.receipts and sm.registered_delivery & 0x03:
                self._queue_receipt(session.system_id or "", sm, resp_id, receipt_id, stat, now)
            self.changed.notify_all()
        if drop:
            session.close()
            return
        session.send(pdu(SUBMIT_SM | RESP, ROK, seq, resp_id.encode() + b"\x00"))

    def _admit(self, destination: str) -> int:
        """ROK, or the refusal this submit gets (throttling, a rejected destination)."""
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if self._throttle_next > 0:
            self._throttle_next -= 1
            self.throttled += 1
            return RTHROTTLED
        if self.max_per_second is not None and len(self._recent) >= self.max_per_second:
            self.throttled += 1
            return RTHROTTLED
        if destination in self._reject:
            return self._reject[destination]
        self._recent.append(now)
        return ROK

    def _outcome(self, destination: str) -> str:
        if self._next_outcomes:
            return self._next_outcomes.popleft()
        return self._outcomes.get(destination, "DELIVRD")

    def _queue_receipt(self, system_id, sm, resp_id, receipt_id, stat, now) -> None:
        # registered_delivery 0x02 asks for failure receipts only (SMPP 3.4 5.2.17).
        if sm.registered_delivery & 0x03 == 0x02 and stat == "DELIVRD":
            return
        dlvrd = "001" if stat == "DELIVRD" else "000"
        _, body = udh_concat(sm.esm_class, sm.short_message, {})
        start = decode(sm.data_coding, body)[:20].encode("ascii", "replace").decode()
        text = (f"id:{receipt_id} sub:001 dlvrd:{dlvrd} submit date:{smpp_time(now)} "
                f"done date:{smpp_time(time.time())} stat:{stat} "
                f"err:{ERRORS.get(stat, '000')} text:{start}")  # fmt: skip
        tlvs = [smpp34.Tlv(0x001E, resp_id.encode() + b"\x00"),
                smpp34.Tlv(0x0427, bytes((STATES[stat],)))]  # fmt: skip
        item = Deliver(system_id, sm.destination_addr, sm.source_addr,
                       text.encode("ascii"), 0x04, 0x00, tlvs, "receipt")  # fmt: skip
        self.store.setdefault(system_id, deque()).append(item)

    def _delivered(self, session: Session, status: int, seq: int) -> None:
        with self.changed:
            item = session.inflight.pop(seq, None)
            if item is None:
                return
            self.deliver_resps.append((item.kind, status))
            if status != ROK:  # the ESME could not take it now: keep it for later
                self.store.setdefault(item.system_id, deque()).append(item)
            self.changed.notify_all()

    def _query(self, session: Session, seq: int, body: bytes) -> None:
        (message_id,), _ = cstrings(body, 1)
        with self.lock:
            message = self.messages.get(message_id)
        if message is None or message.system_id != session.system_id:
            session.send(pdu(QUERY_SM | RESP, RINVMSGID, seq))
            return
        state = STATES[message.stat]
        reply = message_id.encode() + b"\x00" + b"\x00" + bytes((state, 0))
        session.send(pdu(QUERY_SM | RESP, ROK, seq, reply))


if __name__ == "__main__":
    from standins.smpp_control import main

    main()
