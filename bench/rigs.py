"""Per-provider rigs for the end-to-end benchmark (bench/run.py --provider NAME).

Why a rig: "end to end" means a resident's SMS entering smsbot the way that provider brings it
and the reply being accepted by that provider, and each provider differs in how a message
enters, which stand-in answers the send, and where we can read when the reply was accepted.
A rig holds just those differences; bench/run.py's Stack runs smsbot's own processes (gunicorn,
RQ workers, clock) the same way for all of them.

* twilio: signed webhooks to /sms/inbound; the reply reaches `standins.twilio` (through
  `smsbot fake-twilio`), whose `created_at` times it; its `sent` and `delivered` callbacks
  come back to /sms/status (as before this issue, so the numbers compare).
* smsc: SMSC.ru's handler call for an incoming SMS (form fields with its md5, built by the
  plug-in's `simulate_inbound`) posted to /sms/smsc/inbound; the reply is a send.php call to
  `python -m standins.smsc`, which posts the statuses (0 then 1) back to the same handler URL.
* smpp: the resident's SMS is injected through the simulator's control port
  (`POST /_fake/mo`), so it arrives as a deliver_sm to the connector process
  (`python -m smsbot.providers.smpp.connector`); the reply is its submit_sm, and the
  receipt a deliver_sm. gunicorn runs but no message passes through it.
* outbox: the local outbox's signed webhook to /sms/outbox/inbound; the reply "delivered" at
  once into a Redis list.

Except for twilio (whose stand-in records a time per reply), a reply's acceptance time is
the reply row's `sent_at`, which `smsbot.outbound.record` stamps right after the provider
accepted the send (for SMPP, the submit_sm_resp).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

COMPANY_NUMBER = "+74951230001"
"""The first demo company's SMS number: the `To` of every benchmark message."""
FINAL = ("delivered", "undelivered", "failed", "canceled")
"""Reply states after which nothing more happens for a message (smsbot.models OUT_*)."""


def _raw(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def _listening(proc: subprocess.Popen, port: int, what: str) -> None:
    """Wait for `proc` to listen on `port`, and make sure it is still alive then: the port was
    picked free earlier, and on a shared machine something else may have taken it meanwhile
    (the stand-in then exits, and we would be talking to a stranger)."""
    import time

    from run import wait_port

    wait_port(port, what, proc=proc)
    time.sleep(0.3)
    if proc.poll() is not None:
        raise RuntimeError(
            f"{what} exited with {proc.returncode} (port {port} taken?); see its log"
        )


class Rig:
    """Twilio-independent defaults: the reply times and the drain come from the database."""

    name = ""
    standin_group = ""
    """The name of the stand-in's CPU group in the results."""
    ok_status = 200

    def __init__(self, py: str, free_port: Callable[[], int]):
        self.py = py
        self.fake_port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        """Processes the rig started, by CPU group (stand-ins and, for smpp, the connector)."""

    def env(self, web_port: int) -> dict[str, str]:
        return {"SMSBOT_DEFAULT_PROVIDER": self.name}

    def start(self, stack: Any) -> None:
        """Start the stand-in (and any process of smsbot's own that this provider needs)."""

    def post_port(self, stack: Any) -> int:
        return stack.port

    def requests_for(self, stack: Any, phones: list[str], text: str) -> list[bytes]:
        from smsbot import config, providers

        settings = config.load(stack.env)
        provider = providers.find(settings, self.name)
        out = []
        for phone in phones:
            # Digits only: SMSC.ru's ids are numbers. Unique per run, as the phones are.
            provider_id = str(8_000_000_000 + int(phone[-9:]))
            played = provider.simulate_inbound(public_base_url=stack.public_base, from_phone=phone,
                                               to_phone=COMPANY_NUMBER, text=text,
                                               provider_id=provider_id)  # fmt: skip
            out.append(_raw(stack.port, played.path, played.body, dict(played.headers)))
        return out

    def reply_times(self, stack: Any, phones: list[str]) -> dict[str, float]:
        """Wall time each phone's first reply was accepted by the provider."""
        from run import sql_rows

        rows = sql_rows(
            stack.database_url,
            "SELECT to_phone, sent_at FROM message WHERE direction = 'out' AND sent_at IS NOT NULL "
            f"AND to_phone BETWEEN '{min(phones)}' AND '{max(phones)}' ORDER BY id",
        )
        out: dict[str, float] = {}
        for to, sent_at in rows:
            when = (
                sent_at if isinstance(sent_at, datetime) else datetime.fromisoformat(str(sent_at))
            )
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            out.setdefault(to, when.timestamp())
        return out

    def progress(self, stack: Any, phones: list[str]) -> dict[str, int]:
        """Replies accepted and replies in a final state, for the drain."""
        from run import sql_rows

        final = ", ".join(f"'{s}'" for s in FINAL)
        (row,) = sql_rows(
            stack.database_url,
            f"SELECT count(sent_at), count(CASE WHEN status IN ({final}) THEN 1 END) FROM message "
            f"WHERE direction = 'out' AND to_phone BETWEEN '{min(phones)}' AND '{max(phones)}'",
        )
        return {"created": int(row[0] or 0), "final": int(row[1] or 0)}

    def done(self, progress: dict[str, int], expected: int) -> bool:
        return progress["created"] >= expected and progress["final"] >= progress["created"]

    def created(self, stack: Any) -> int | None:
        """Replies the stand-in accepted since the last reset, where it counts them cheaply."""
        return None

    def reset(self, stack: Any) -> None:
        pass


class TwilioRig(Rig):
    name, standin_group = "twilio", "fake_twilio"

    def __init__(self, py: str, free_port: Callable[[], int]):
        from run import twilio_settings

        super().__init__(py, free_port)
        self.settings = twilio_settings(self.fake_port)

    def env(self, web_port: int) -> dict[str, str]:
        return {**super().env(web_port), **self.settings}

    def start(self, stack: Any) -> None:
        t = self.settings
        proc = stack.procs.start(f"fake-twilio-{stack.label}", [
            self.py, "-m", "smsbot.cli", "fake-twilio", "--quiet", "--port", str(self.fake_port),
            "--account-sid", t["TWILIO_ACCOUNT_SID"], "--auth-token", t["TWILIO_AUTH_TOKEN"],
            "--callback-threads", str(stack.cfg.fake_callback_threads), "--max-messages", "200000",
        ], env=stack.env)  # fmt: skip
        self.procs[self.standin_group] = proc
        _listening(proc, self.fake_port, "fake Twilio")

    def requests_for(self, stack: Any, phones: list[str], text: str) -> list[bytes]:
        from run import raw_request, signed_bodies

        t = self.settings
        bodies = signed_bodies(
            phones, stack.public_url, t["TWILIO_AUTH_TOKEN"], t["TWILIO_ACCOUNT_SID"]
        )
        return [raw_request(stack.port, s, b) for s, b in bodies]

    def fake_get(self, path: str) -> Any:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.fake_port}{path}", timeout=30) as r:  # noqa: S310
            return json.loads(r.read())

    def reply_times(self, stack: Any, phones: list[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.fake_get("/_fake/messages"):
            out.setdefault(m["to"], m["created_at"])
        return out

    def progress(self, stack: Any, phones: list[str]) -> dict[str, int]:
        health = self.fake_get("/_fake/health")
        done = sum(
            health.get(k, 0) for k in ("callbacks_ok", "callback_errors", "callbacks_dropped")
        )
        return {"created": health.get("created", 0), "callbacks_done": done,
                "callback_queue": health.get("callback_queue", 0), "fake": health}  # fmt: skip

    def done(self, progress: dict[str, int], expected: int) -> bool:
        created = progress["created"]
        return (created >= expected and progress["callback_queue"] == 0
                and progress["callbacks_done"] >= 2 * created)  # fmt: skip

    def created(self, stack: Any) -> int | None:
        return int(self.fake_get("/_fake/health").get("created", 0))

    def reset(self, stack: Any) -> None:
        import urllib.request

        req = urllib.request.Request(
            f"http://127.0.0.1:{self.fake_port}/_fake/messages", method="DELETE"
        )
        with urllib.request.urlopen(req, timeout=30):  # noqa: S310
            pass


class SmscRig(Rig):
    name, standin_group = "smsc", "fake_smsc"

    def __init__(self, py: str, free_port: Callable[[], int]):
        super().__init__(py, free_port)
        self.login, self.password = "bench", secrets.token_hex(8)
        self.secret = secrets.token_hex(16)

    def env(self, web_port: int) -> dict[str, str]:
        return {
            **super().env(web_port),
            "SMSC_LOGIN": self.login,
            "SMSC_PASSWORD": self.password,
            "SMSC_SENDER": COMPANY_NUMBER,
            "SMSC_API_URL": f"http://127.0.0.1:{self.fake_port}",
            "SMSC_CALLBACK_SECRET": self.secret,
            "SMSC_MPS": "1000",  # the stand-in has no limit; the default 5/s would cap the run
        }

    def start(self, stack: Any) -> None:
        # The handler URL as the account would hold it: statuses signed with md5 of the secret.
        handler = f"http://127.0.0.1:{stack.port}/sms/smsc/inbound?charset=utf-8&md5=1"
        proc = stack.procs.start(f"fake-smsc-{stack.label}", [
            self.py, "-m", "standins.smsc", "--port", str(self.fake_port), "--callback-url", handler,
            "--login", self.login, "--password", self.password, "--secret", self.secret,
            "--callback-delay", "0",  # its default 0.5 s per status caps it at one message a second
        ], env=stack.env)  # fmt: skip
        self.procs[self.standin_group] = proc
        _listening(proc, self.fake_port, "SMSC.ru stand-in")


class OutboxRig(Rig):
    name, standin_group = "outbox", ""


class SmppRig(Rig):
    name, standin_group = "smpp", "smpp_simulator"
    ok_status = 202

    def __init__(self, py: str, free_port: Callable[[], int]):
        super().__init__(py, free_port)
        self.control_port = free_port()
        self.system_id, self.password = "smsbot", secrets.token_hex(4)

    def env(self, web_port: int) -> dict[str, str]:
        return {
            **super().env(web_port),
            "SMPP_HOST": "127.0.0.1",
            "SMPP_PORT": str(self.fake_port),
            "SMPP_SYSTEM_ID": self.system_id,
            "SMPP_PASSWORD": self.password,
            "SMPP_SOURCE": COMPANY_NUMBER,
            "SMPP_MPS": "1000",  # the simulator has no limit; the default 10/s would cap the run
        }

    def start(self, stack: Any) -> None:
        sim = stack.procs.start(f"smpp-sim-{stack.label}", [
            self.py, "-m", "standins.smpp", "--port", str(self.fake_port),
            "--control-port", str(self.control_port), "--system-id", self.system_id,
            "--password", self.password,
        ], env=stack.env)  # fmt: skip
        self.procs[self.standin_group] = sim
        _listening(sim, self.control_port, "SMPP simulator")
        connector = stack.procs.start(f"connector-{stack.label}",
                                      [self.py, "-m", "smsbot.providers.smpp.connector"], env=stack.env)  # fmt: skip
        self.procs["connector"] = connector
        self._wait_bound(connector)

    def _wait_bound(self, connector: subprocess.Popen, timeout: float = 30) -> None:
        import time
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if connector.poll() is not None:
                raise RuntimeError(
                    f"the SMPP connector exited with {connector.returncode}; see its log"
                )
            url = f"http://127.0.0.1:{self.control_port}/_fake/state"
            with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310
                if json.loads(r.read()).get("bound"):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the SMPP connector did not bind within {timeout:.0f}s")

    def post_port(self, stack: Any) -> int:
        return self.control_port

    def requests_for(self, stack: Any, phones: list[str], text: str) -> list[bytes]:
        headers = {"Content-Type": "application/json"}
        return [
            _raw(
                self.control_port,
                "/_fake/mo",
                json.dumps({"from": p, "to": COMPANY_NUMBER, "text": text}).encode(),
                headers,
            )  # fmt: skip
            for p in phones
        ]


RIGS: dict[str, type[Rig]] = {
    "twilio": TwilioRig,
    "smsc": SmscRig,
    "smpp": SmppRig,
    "outbox": OutboxRig,
}
