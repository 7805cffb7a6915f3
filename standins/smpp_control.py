"""HTTP control port and command line of the SMPP simulator (standins/smpp.py).

A test or a demo in another process drives the simulator over plain HTTP on loopback:

* ``POST /_fake/mo`` ``{"from": "+79851234567", "to": "+79990000000", "text": "...",
  "order": [2, 1], "system_id": "..."}``: a resident's SMS, delivered as deliver_sm.
* ``GET /_fake/submitted``: every message submitted, reassembled, with ``counts`` per
  (to, text), ``duplicates`` and ``duplicate_parts``.
* ``POST /_fake/config``: any of ``max_per_second``, ``hex_ids``, ``enquire_interval``,
  ``refuse_binds``, ``receipts``, ``window``, and the one-shot switches ``throttle_next`` (k),
  ``drop_after`` (k), ``outcome`` ({"stat": "UNDELIV", "destination": "+7..."} or
  {"stat": ..., "next_n": 3}), ``reject`` ({"destination": "+7...", "status": 11}).
* ``GET /_fake/state``: binds, pending deliveries, throttled count, deliver_sm_resp statuses.

Bad input gets a 400 naming what is wrong; the simulator's state is never left half-changed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standins.smpp import FakeSmsc

KNOBS = {"max_per_second": (int, float, type(None)), "hex_ids": bool,
         "enquire_interval": (int, float, type(None)), "refuse_binds": bool,
         "receipts": bool, "window": int}  # fmt: skip


def _int(body: dict, key: str) -> int:
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a whole number >= 0")
    return value


def apply_config(smsc: FakeSmsc, body: dict) -> None:
    """Check every field first, then apply them all (400 leaves nothing changed)."""
    unknown = set(body) - set(KNOBS) - {"throttle_next", "drop_after", "outcome", "reject"}
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    knobs = {}
    for key, kinds in KNOBS.items():
        if key in body:
            if not isinstance(body[key], kinds) or (kinds is int and isinstance(body[key], bool)):
                raise ValueError(f"{key} has the wrong type")
            knobs[key] = body[key]
    throttle = _int(body, "throttle_next") if "throttle_next" in body else None
    drop = _int(body, "drop_after") if "drop_after" in body else None
    outcome, reject = body.get("outcome"), body.get("reject")
    if outcome is not None and not (
        isinstance(outcome, dict) and isinstance(outcome.get("stat"), str)
    ):
        raise ValueError('outcome must be {"stat": "UNDELIV", "destination": ..., "next_n": ...}')
    if reject is not None and not (
        isinstance(reject, dict) and isinstance(reject.get("destination"), str)
    ):
        raise ValueError('reject must be {"destination": "+7...", "status": 11}')
    smsc.configure(**knobs)
    if outcome is not None:
        smsc.set_outcome(outcome["stat"], destination=outcome.get("destination"),
                         next_n=int(outcome.get("next_n") or 0))  # fmt: skip
    if reject is not None:
        smsc.reject_destination(reject["destination"], int(reject.get("status", 0x0B)))
    if throttle is not None:
        smsc.throttle_next(throttle)
    if drop is not None:
        smsc.drop_after(drop)


def state(smsc: FakeSmsc) -> dict:
    with smsc.lock:
        return {
            "port": smsc.port,
            "bound": smsc.bound(),
            "binds": [{"system_id": s, "status": st} for s, st in smsc.bind_log],
            "pending": smsc.pending(),
            "throttled": smsc.throttled,
            "deliver_resps": [{"kind": k, "status": st} for k, st in smsc.deliver_resps],
        }


def submitted(smsc: FakeSmsc) -> dict:
    with smsc.lock:
        return {
            "messages": [m.as_dict() for m in smsc.log.messages],
            "counts": [
                {"to": to, "text": text, "count": n} for (to, text), n in smsc.log.counts().items()
            ],
            "duplicates": [{"to": to, "text": text} for to, text in smsc.log.duplicates()],
            "duplicate_parts": list(smsc.log.duplicate_parts),
            "incomplete": smsc.log.incomplete(),
        }


def make_handler(smsc: FakeSmsc) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # texts and phones stay out of logs
            pass

        def reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_fake/submitted":
                self.reply(200, submitted(smsc))
            elif self.path == "/_fake/state":
                self.reply(200, state(smsc))
            else:
                self.reply(404, {"error": f"no such endpoint: GET {self.path}"})

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                if self.path == "/_fake/mo":
                    missing = [
                        k for k in ("from", "to", "text") if not isinstance(body.get(k), str)
                    ]
                    if missing:
                        raise ValueError(f"missing or not a string: {', '.join(missing)}")
                    order = body.get("order")
                    if order is not None and not all(isinstance(n, int) for n in order):
                        raise ValueError("order must be a list of part numbers")
                    parts = smsc.send_mo(body["from"], body["to"], body["text"], order=order,
                                         system_id=body.get("system_id"))  # fmt: skip
                    self.reply(202, {"parts": parts})
                elif self.path == "/_fake/config":
                    apply_config(smsc, body)
                    self.reply(200, state(smsc))
                else:
                    self.reply(404, {"error": f"no such endpoint: POST {self.path}"})
            except (ValueError, IndexError, TypeError) as exc:
                self.reply(400, {"error": str(exc)})

    return Handler


def serve_control(smsc: FakeSmsc, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(smsc))
    threading.Thread(target=server.serve_forever, daemon=True, name="fake-smsc-http").start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m standins.smpp", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--control-port", type=int, default=8775)
    parser.add_argument("--system-id", default="smsbot")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--max-per-second", type=float, default=None)
    parser.add_argument("--enquire-interval", type=float, default=None)
    parser.add_argument("--hex-ids", action="store_true")
    args = parser.parse_args(argv)
    smsc = FakeSmsc(host=args.host, port=args.port, system_id=args.system_id,
                    password=args.password, max_per_second=args.max_per_second,
                    hex_ids=args.hex_ids, enquire_interval=args.enquire_interval).start()  # fmt: skip
    control = serve_control(smsc, args.host, args.control_port)
    print(f"fake SMSC on {args.host}:{smsc.port}, control http://{args.host}:{control.server_port}/_fake/",
          flush=True)  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        while not stop.wait(0.5):  # a timed wait lets the SIGTERM handler run
            pass
    control.shutdown()
    smsc.stop()
