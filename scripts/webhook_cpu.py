"""CPU per webhook request in one process: signed Twilio inbound and status callbacks.

    .venv/bin/python scripts/webhook_cpu.py [--db sqlite|postgres] [-n 3000] [--profile inbound]

Requests are built and signed beforehand as WSGI environs and fed straight to the app's
`wsgi_app`, so what is timed (`time.process_time()`) is the web tier's own work per request:
Flask, the signature check, parsing, SQL and the Redis push, but no HTTP server and no test
client. A bare Flask view in the same process gives the floor. Redis (a private
redis-server) and the database server run in other processes and are not counted.
Not a benchmark of record (bench/run.py is): a quick before/after for the request path.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "bench-twilio-auth-token"
PUBLIC = "http://127.0.0.1:5000"
SORT = "tottime"
PACKAGES = ("/smsbot/", "/sqlalchemy/", "/werkzeug/", "/flask/", "/redis/", "/urllib/", "/blinker/",
            "/sqlmodel/", "/json/", "/phonenumbers/", "/hmac", "/base64")  # fmt: skip
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environ(path: str, body: bytes, headers: dict[str, str]) -> dict:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path=path.partition("?")[0],
        query_string=path.partition("?")[2],
        method="POST",
        data=body,
        headers=headers,
        base_url="http://127.0.0.1:5000",
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _run(app, environs: list[dict], profile: bool) -> tuple[float, int]:  # noqa: ANN001
    statuses = []

    def start_response(status, headers, exc_info=None):  # noqa: ANN001, ANN202
        statuses.append(status)

    wsgi = app.wsgi_app
    profiler = cProfile.Profile(time.process_time) if profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    for environ in environs:
        for _ in wsgi(environ, start_response):
            pass
    if profiler:
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(SORT).print_stats(45)
        print(out.getvalue())
        by_package: dict[str, float] = {}
        for (path, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
            package = next((p for p in PACKAGES if p in path), "(python and C built-ins)")
            by_package[package] = by_package.get(package, 0.0) + own
        total = sum(by_package.values())
        for package, own in sorted(by_package.items(), key=lambda kv: -kv[1]):
            print(f"  {own / total * 100:5.1f}%  {package}")
    elapsed = time.process_time() - started
    bad = [s for s in statuses if not s.startswith("200")]
    return elapsed / len(environs) * 1000, len(bad)


def _calls(app, environs: list[dict]) -> float:  # noqa: ANN001
    """Python function calls per request: steadier than CPU time on a shared machine."""
    profiler = cProfile.Profile()
    profiler.enable()
    for environ in environs:
        for _ in app.wsgi_app(environ, lambda *a: None):
            pass
    profiler.disable()
    return pstats.Stats(profiler).total_calls / len(environs)


def _breakdown(app, environs: list[dict], parts: tuple[str, ...]) -> None:  # noqa: ANN001
    """Python calls per request under each of `parts` (function names; innermost counts)."""
    counts: dict[str, int] = dict.fromkeys(parts, 0)
    counts["(other)"] = 0
    stack: list[str] = []

    def tracer(frame, event, arg):  # noqa: ANN001, ANN202
        if event in ("call", "c_call"):
            name = frame.f_code.co_name if event == "call" else "(c)"
            counts[stack[-1] if stack else "(other)"] += 1
            stack.append(
                name if name in counts and event == "call" else (stack[-1] if stack else "(other)")
            )
        elif event in ("return", "c_return", "c_exception") and stack:
            stack.pop()

    sys.setprofile(tracer)
    for environ in environs:
        for _ in app.wsgi_app(environ, lambda *a: None):
            pass
    sys.setprofile(None)
    for name, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {count / len(environs):7.0f}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--profile", choices=("inbound", "status", "bare", "flask"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--breakdown", help="function names to count Python calls under")
    parser.add_argument("--only", choices=("inbound", "status", "bare", "flask"))
    parser.add_argument(
        "--push",
        choices=("rq", "one", "none"),
        default="rq",
        help="queues.enqueue_inbound as it is (rq), one LPUSH in its place (what issue #10 "
        "makes it), or nothing (the web tier's own share)",
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="webhook-cpu-"))
    port = _free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    pg_name = None
    try:
        from smsbot import migrate

        if args.db == "sqlite":
            url = f"sqlite:///{workdir / 'smsbot.db'}"
        else:
            from sqlalchemy import create_engine, text

            pg_name = f"smsbot_webcpu_{uuid.uuid4().hex[:8]}"
            admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
            url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"
        migrate.upgrade(url)
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)

        from flask import Flask, Response

        from app import create_app

        app = create_app({
            "SMSBOT_ENV": "test", "SMSBOT_INSTANCE_PATH": str(workdir / "instance"),
            "DATABASE_URL": url, "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "SECRET_KEY": "bench-secret-key-0123456789", "PUBLIC_BASE_URL": PUBLIC,
            "SMSBOT_LOG_LEVEL": "INFO", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM": "+79990000000",
        })  # fmt: skip

        def bare() -> Response:
            return Response("<Response/>", 200, mimetype="text/xml")

        app.add_url_rule("/bare", "bare", bare, methods=["POST"])
        from smsbot.web.staff import csrf

        csrf.exempt(bare)  # a view in our app, paying its app-wide hooks
        plain = Flask("plain")  # Flask alone: the floor
        plain.add_url_rule("/bare", "bare", bare, methods=["POST"])

        from sqlalchemy import insert

        from smsbot import db
        from smsbot.models import Message
        from smsbot.providers.twilio import inbound_params, new_message_sid, signed_request

        def inbound_environs(n: int) -> list[dict]:
            out = []
            for i in range(n):
                params = inbound_params(
                    from_phone=f"+7985{1000000 + i % 5000}", to_phone="+74951230001",
                    body="Течёт кран на кухне, кв 12", account_sid="AC" + "1" * 32,
                )  # fmt: skip
                body, headers = signed_request(PUBLIC + "/sms/twilio/inbound", params, TOKEN)
                out.append(_environ("/sms/twilio/inbound", body, headers))
            return out

        def status_environs(n: int) -> list[dict]:
            """n/2 outbound rows, each called back 'sent' then 'delivered' (as Twilio does)."""
            rows, sids = [], []
            for _ in range(n // 2):
                sid = new_message_sid()
                sids.append(sid)
                rows.append({"direction": "out", "status": "accepted", "kind": "reply",
                             "provider": "twilio", "external_id": sid, "from_phone": "+74951230001",
                             "to_phone": "+79851234567", "body": "ok", "attempts": 1})  # fmt: skip
            with db.engine().begin() as conn:
                ids = [
                    conn.execute(insert(Message).values(**r).returning(Message.id)).scalar_one()
                    for r in rows
                ]
            out = []
            for word in ("sent", "delivered"):
                for sid, mid in zip(sids, ids, strict=True):
                    params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": word,
                              "AccountSid": "AC" + "1" * 32, "From": "+74951230001",
                              "To": "+79851234567", "ApiVersion": "2010-04-01"}  # fmt: skip
                    path = f"/sms/twilio/status?o={mid}"
                    body, headers = signed_request(PUBLIC + path, params, TOKEN)
                    out.append(_environ(path, body, headers))
            return out

        def bare_environs(n: int) -> list[dict]:
            return [_environ("/bare", b"x=1", {"Content-Type": "text/plain"}) for _ in range(n)]

        if args.push != "rq":
            from smsbot import queues

            def one_push(message_id: int) -> bool:
                queues.connection().lpush("bench:inbound", message_id)
                return True

            queues.enqueue_inbound = one_push if args.push == "one" else lambda message_id: True

        kinds = {
            "flask": bare_environs, "bare": bare_environs,
            "inbound": inbound_environs, "status": status_environs,
        }  # fmt: skip
        apps = {"flask": plain}
        if args.only:
            kinds = {args.only: kinds[args.only]}
        # warm-up: first requests import and build what later ones reuse
        for kind, make in kinds.items():
            _run(apps.get(kind, app), make(50), False)
        results: dict[str, list[float]] = {k: [] for k in kinds}
        for _ in range(args.rounds):
            for kind, make in kinds.items():
                ms, bad = _run(apps.get(kind, app), make(args.n), False)
                if bad:
                    print(f"{kind}: {bad} requests were not answered 200", file=sys.stderr)
                results[kind].append(ms)
        for kind, values in results.items():
            calls = _calls(apps.get(kind, app), kinds[kind](200))
            print(f"{args.db} {kind:8s} CPU ms/request: best {min(values):.3f}  "
                  f"all {' '.join(f'{v:.3f}' for v in values)}  "
                  f"Python calls/request {calls:.0f}")  # fmt: skip
        if args.breakdown:
            parts = tuple(args.breakdown.split(","))
            for kind in kinds:
                print(kind)
                _breakdown(apps.get(kind, app), kinds[kind](200), parts)
        if args.profile:
            _run(apps.get(args.profile, app), kinds[args.profile](args.n), True)
        db.engine().dispose()
    finally:
        redis.terminate()
        redis.wait()
        if pg_name:
            from sqlalchemy import create_engine, text

            admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
