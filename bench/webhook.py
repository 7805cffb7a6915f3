"""CPU of the web tier's callbacks, in-process: no HTTP server, no other process but Redis.

    .venv/bin/python bench/webhook.py [--requests 600] [--rounds 3] [--profile] [--database postgresql]

Why beside bench/run.py: end to end, the web tier's three requests per message (the
resident's SMS, then Twilio's 'sent' and 'delivered') cost about a third of the system's
CPU, but that figure includes the HTTP server and shares two cores with everything else.
Here one process calls the WSGI app (`app:create_app()`, as granian serves it) directly with
prepared environs, timing CPU (`time.process_time`) per request over a private Redis and a
fresh SQLite file with the demo data (`--database postgresql`: a fresh database on the local
PostgreSQL, whose backends' CPU per request is reported beside ours):

- *inbound*: signed Twilio inbound webhooks, each from a new phone (one INSERT, one wake);
- *status*: signed 'sent' then 'delivered' callbacks for replies already recorded as
  accepted (one UPDATE … RETURNING each, and the desk's bump).

Reported per round: median, p25 and p75 per request, and per request over the round; then
once, Python calls per request (cProfile), the figure to compare two commits by on a noisy
machine. `--profile` prints cProfile's top functions too. Results: bench/results/webhook.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from handling import _quantile, run_measured  # noqa: E402 - the bench's own helpers
from rigs import COMPANY_NUMBER  # noqa: E402
from run import CpuMeter, pg_backend_pids, proc_ticks  # noqa: E402

PUBLIC = "http://127.0.0.1:9"
TOKEN = "t" * 32
ACCOUNT = "AC" + "0" * 32


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="requests of each kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--name", default="webhook", help="results file name")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="a fresh SQLite file, or a fresh database on the local PostgreSQL")  # fmt: skip
    args = parser.parse_args(argv)

    return run_measured(
        "webhook", args.name, lambda url: _measure(args, url), argv, database=args.database
    )


def _environ(path: str, params: dict[str, str]) -> dict:
    """A WSGI environ of a signed Twilio form post to `path` (query included)."""
    from werkzeug.test import EnvironBuilder

    from smsbot.providers.twilio import signatures

    body = urlencode(params).encode()
    signature = signatures.expected_signature(PUBLIC + path, params, TOKEN)
    builder = EnvironBuilder(
        path=path, method="POST", data=body, content_type="application/x-www-form-urlencoded",
        headers={signatures.SIGNATURE_HEADER: signature},
    )  # fmt: skip
    return builder.get_environ()


def _server_ticks(url: str) -> int:
    """CPU ticks so far of PostgreSQL's processes serving `url`'s database (0 for SQLite):
    a statement saved costs the server too, and that is not this process's CPU."""
    if not url.startswith("postgresql"):
        return 0
    return sum(proc_ticks(pid) or 0 for pid in pg_backend_pids(url))


def _measure(args: argparse.Namespace, url: str) -> dict:
    from sqlalchemy import text

    from app import create_app
    from smsbot import db, jobs
    from smsbot.providers.twilio import inbound_params

    app = create_app()
    served = 0
    phone_no = 0

    def inbound_environs(count: int) -> list[dict]:
        nonlocal phone_no
        out = []
        for _ in range(count):
            phone_no += 1
            params = inbound_params(from_phone=f"+7916{phone_no:07d}", to_phone=COMPANY_NUMBER,
                                    body="помощь", account_sid=ACCOUNT)  # fmt: skip
            out.append(_environ("/sms/twilio/inbound", params))
        return out

    def status_environs() -> list[dict]:
        """Handle what waits (one reply each), mark the replies accepted, and build their
        'sent' and 'delivered' callbacks, in the order Twilio sends them."""
        with app.app_context():
            while jobs._handle_batch(50):
                pass
        with db.writer().begin() as conn:
            ids = conn.execute(text("SELECT id FROM message WHERE direction = 'out' "
                                    "AND external_id IS NULL ORDER BY id")).scalars().all()  # fmt: skip
            padded = (
                "lpad(id::text, 32, '0')" if url.startswith("postgresql") else "printf('%032d', id)"
            )
            conn.execute(text(f"UPDATE message SET external_id = 'SM' || {padded}, "
                              "status = 'accepted' WHERE direction = 'out' "
                              "AND external_id IS NULL"))  # fmt: skip
        out = []
        for state in ("sent", "delivered"):
            for message_id in ids:
                sid = f"SM{message_id:032d}"
                params = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "MessageSid": sid,
                          "MessageStatus": state, "SmsSid": sid, "SmsStatus": state,
                          "To": "+79160000000", "From": COMPANY_NUMBER}  # fmt: skip
                out.append(_environ(f"/sms/twilio/status?o={message_id}", params))
        return out

    def serve(environs: list[dict]) -> list[float]:
        nonlocal served
        each = []
        statuses: list[str] = []

        def start_response(status: str, headers: list, exc_info=None):  # noqa: ANN001, ANN202
            statuses.append(status)

        for environ in environs:
            started = time.process_time()
            b"".join(app(environ, start_response))
            each.append(time.process_time() - started)
        bad = [s for s in statuses if not s.startswith("200")]
        if bad:
            raise SystemExit(f"{len(bad)} callbacks not answered 200, e.g. {bad[0]}")
        served += len(environs)
        return sorted(each)

    def summary(each: list[float], meter: CpuMeter, server_ticks: int) -> dict:
        server_s = (_server_ticks(url) - server_ticks) / CpuMeter.HZ
        return {"median_ms": _quantile(each, 0.5), "p25_ms": _quantile(each, 0.25),
                "p75_ms": _quantile(each, 0.75),
                "per_request_ms": round(1000 * sum(each) / len(each), 3),
                **({"server_per_request_ms": round(1000 * server_s / len(each), 3)}
                   if url.startswith("postgresql") else {}),
                "other_load_cores": meter.read()["other_cores"]}  # fmt: skip

    serve(inbound_environs(50))  # warm-up: first-request imports, caches, connections
    serve(status_environs())
    rounds = []
    for _ in range(args.rounds):
        environs = inbound_environs(args.requests)
        meter, ticks = CpuMeter(), _server_ticks(url)
        inbound = summary(serve(environs), meter, ticks)
        environs = status_environs()
        meter, ticks = CpuMeter(), _server_ticks(url)
        status = summary(serve(environs), meter, ticks)
        rounds.append({"inbound": inbound, "status": status})
        print(f"round {len(rounds)}: {rounds[-1]}", file=sys.stderr)

    calls = {}
    for kind in ("inbound", "status"):
        environs = inbound_environs(args.requests) if kind == "inbound" else status_environs()
        profile = cProfile.Profile()
        profile.enable()
        serve(environs)
        profile.disable()
        stats = pstats.Stats(profile)
        calls[kind] = round(stats.total_calls / len(environs))
        if args.profile:
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
            print(f"== {kind} ==\n{out.getvalue()}", file=sys.stderr)

    def median(kind: str) -> float:
        return sorted(r[kind]["median_ms"] for r in rounds)[len(rounds) // 2]

    return {
        "requests_per_round": args.requests, "rounds": rounds,
        "median_ms_over_rounds": {"inbound": median("inbound"), "status": median("status")},
        "python_calls_per_request": calls,
    }  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
