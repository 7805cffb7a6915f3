"""What storing one inbound message writes: SQLite WAL pages and PostgreSQL WAL bytes.

    .venv/bin/python bench/stored_pages.py [--messages 500] [--revision heads] [--no-postgres]

Why beside bench/run.py: under a burst of webhooks SQLite's one write lock is the ceiling,
and what a webhook writes while it holds the lock is what counts; ingest itself varies by a
tenth from one spell of this machine to the next, this does not. Each message is stored as
the webhook stores it (`inbound.row_of`, then `inbound.insert` in its own transaction) into
a freshly migrated database at `--revision` (compare two with `--revision 0018`), and the
figure is the growth of the log per message: the WAL file's size in pages (SQLite, with
automatic checkpoints off so the file only grows; a frame is a page plus its 24-byte
header), and `pg_current_wal_lsn()` (PostgreSQL, in a database of its own; other
databases' writes in the same window would count too, so run it on a quiet server).
Results: bench/results/stored_pages-<revision>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from handling import _commit  # noqa: E402 - the bench's own helpers
from run import PG_ADMIN_URL, RESULTS, PgDatabase, pg_available  # noqa: E402

PAGE = 4096
FRAME = PAGE + 24
WARM = 50
"""Messages stored before counting: the first ones grow new pages of every index."""


def _rows(count: int) -> list[dict]:
    from smsbot import inbound
    from smsbot.providers.base import InboundSms

    fields = {f"Field{n}": "x" * 20 for n in range(15)}  # a Twilio webhook carries fifteen
    return [
        inbound.row_of(
            InboundSms(
                provider="twilio",
                provider_id=f"SM{n:032x}",
                from_phone=f"+7916{n:07d}",
                to_phone="+74951230001",
                body="помощь",
                params=fields,
            )
        )
        for n in range(count)
    ]


def _store(url: str, rows: list[dict], before, after) -> float:  # noqa: ANN001
    """Store `rows[WARM:]` one transaction each, after WARM uncounted; log growth per row."""
    from sqlalchemy import create_engine, event

    from smsbot import inbound, search

    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # noqa: ANN001, ANN202
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
            dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")
            dbapi_conn.create_function("smsbot_stem", 1, search.stem_text, deterministic=True)

    try:
        for row in rows[:WARM]:
            with engine.begin() as conn:
                inbound.insert(conn, row)
        start = before(engine)
        for row in rows[WARM:]:
            with engine.begin() as conn:
                inbound.insert(conn, row)
        return (after(engine) - start) / (len(rows) - WARM)
    finally:
        engine.dispose()


def _sqlite(rows: list[dict], revision: str) -> dict:
    from smsbot.migrate import upgrade

    folder = Path(tempfile.mkdtemp(prefix="smsbot-pages-"))
    url = f"sqlite:///{folder}/pages.db"
    upgrade(url, revision)
    wal = folder / "pages.db-wal"

    def size(_engine) -> float:  # noqa: ANN001
        return wal.stat().st_size if wal.exists() else 0.0

    per = _store(url, rows, size, size)
    return {"wal_pages_per_message": round(per / FRAME, 2), "wal_bytes_per_message": round(per)}


def _postgres(rows: list[dict], revision: str) -> dict:
    from sqlalchemy import text

    from smsbot.migrate import upgrade

    why = pg_available(PG_ADMIN_URL)
    if why:
        return {"skipped": why}
    pg = PgDatabase(PG_ADMIN_URL)
    try:
        upgrade(pg.url, revision)

        def lsn(engine) -> float:  # noqa: ANN001
            with engine.connect() as conn:
                return float(
                    conn.execute(
                        text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
                    ).scalar()
                )

        return {"wal_bytes_per_message": round(_store(pg.url, rows, lsn, lsn))}
    finally:
        pg.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500, help="messages counted")
    parser.add_argument("--revision", default="heads", help="the schema to store into")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    rows = _rows(args.messages + WARM)
    result = {
        "messages": args.messages,
        "revision": args.revision,
        "sqlite": _sqlite(rows, args.revision),
    }
    if not args.no_postgres:
        result["postgresql"] = _postgres(rows, args.revision)
    result.update(command=" ".join(["bench/stored_pages.py", *(argv or sys.argv[1:])]),
                  commit=_commit(), started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"stored_pages-{args.revision}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
