"""Benchmark: import a 100,000-row billing export, then the same file again.

Generates a realistic file (400 buildings, one or two phones and seven bill lines a row),
imports it into a fresh database through the code `smsbot import-accounts` runs (read and
check every row, then bulk upsert in one transaction), imports it again (nothing may
change), then imports next month's export (every balance and bill line changed), and writes
the timings to bench/results/import_accounts.json. The requirement: under a minute for the
whole first import.

    .venv/bin/python bench/import_accounts.py                      # SQLite in a temp dir
    .venv/bin/python bench/import_accounts.py --database-url postgresql://postgres@127.0.0.1/smsbot_bench
    .venv/bin/python bench/import_accounts.py --rows 10000 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlmodel import Session, func, select  # noqa: E402

from smsbot import billing_import, db, migrate  # noqa: E402
from smsbot.models import Account, AccountCharge, AccountPhone, Company  # noqa: E402

RESULTS = REPO / "bench" / "results" / "import_accounts.json"
LIMIT_SECONDS = 60.0
SERVICES = (
    "maintenance",
    "capital_repairs",
    "cold_water",
    "hot_water",
    "sewerage",
    "heating",
    "waste",
)
STREETS = (
    "ул. Молодёжная",
    "ул. Советская",
    "пр-т Ленина",
    "ул. Маршала Рокоссовского",
    "ш. Энтузиастов",
)


def generate(path: Path, rows: int, seed: int = 3) -> None:
    """A `;`-separated export with decimal commas, as Russian Excel writes it. The seed
    decides the amounts only: another seed is next month's export of the same accounts."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(
            "account;address;apartment;phones;balance;balance_date;bill_code;"
            + ";".join(SERVICES)
            + "\n"
        )
        for i in range(rows):
            building = i // 250
            address = f"Московская обл., г. Балашиха, {STREETS[building % len(STREETS)]}, д. {building + 1}"
            lines = [Decimal(rng.randint(0, 500_000)) / 100 for _ in SERVICES]
            phones = [f"+7 985 {i // 10000:03d}-{i // 100 % 100:02d}-{i % 100:02d}"]
            if i % 3 == 0:
                phones.append(f"8 (916) {i // 10000:03d}-{i // 100 % 100:02d}-{i % 100:02d}")
            cells = [
                f"{5_000_000_000 + i}",
                address,
                str(i % 250 + 1),
                ", ".join(phones),
                f"{sum(lines):.2f}".replace(".", ","),
                "01.11.2026",
                f"{1000 + i % 9000}",
                *(f"{v:.2f}".replace(".", ",") for v in lines),
            ]
            out.write(";".join(cells) + "\n")


def timed_import(path: Path, company_id: int) -> dict:
    """Wall time of each phase, and this process's CPU time (the machine may be busy)."""
    started, cpu = time.perf_counter(), time.process_time()
    checked = billing_import.read(path)
    read_seconds = time.perf_counter() - started
    assert checked.ok, (checked.problems, checked.errors[:5])
    with Session(db.writer()) as session:
        stats = billing_import.load(session, session.get(Company, company_id), checked.rows)
        session.commit()
    total = time.perf_counter() - started
    return {
        "read_and_check_seconds": round(read_seconds, 2),
        "write_seconds": round(total - read_seconds, 2),
        "total_seconds": round(total, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "created": stats.created,
        "updated": stats.updated,
        "unchanged": stats.unchanged,
    }


def counts() -> dict[str, int]:
    with Session(db.engine()) as session:
        return {
            name: session.exec(select(func.count()).select_from(model)).one()
            for name, model in (
                ("accounts", Account),
                ("phones", AccountPhone),
                ("bill_lines", AccountCharge),
            )
        }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--database-url", help="an empty database to use (default: a new SQLite file)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help=f"do not update {RESULTS.relative_to(REPO)}"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        migrate.upgrade(url)
        db.init(url)
        with Session(db.writer()) as session:
            company = Company(slug=f"bench-{int(time.time())}", name="УК «Бенчмарк»")
            session.add(company)
            session.commit()
            company_id = company.id

        path = Path(tmp) / "export.csv"
        started = time.perf_counter()
        generate(path, args.rows)
        generate_seconds = time.perf_counter() - started
        file_mb = round(path.stat().st_size / 1e6, 1)

        first = timed_import(path, company_id)
        after_first = counts()
        repeat = timed_import(path, company_id)
        after_repeat = counts()
        next_month = Path(tmp) / "next_month.csv"
        generate(next_month, args.rows, seed=4)
        monthly = timed_import(next_month, company_id)
        db.engine().dispose()

    assert first["created"] == args.rows and repeat["unchanged"] == args.rows, (first, repeat)
    assert monthly["updated"] == args.rows, monthly
    assert after_first == after_repeat, "a repeat import changed the data"
    result = {
        "benchmark": "import_accounts",
        "rows": args.rows,
        "database": url.split(":", 1)[0],
        "file_mb": file_mb,
        "generate_seconds": round(generate_seconds, 2),
        "first_import": first,
        "repeat_import": repeat,
        "next_month_import": monthly,
        "rows_after": after_first,
        "limit_seconds": LIMIT_SECONDS,
        "within_limit": first["total_seconds"] < LIMIT_SECONDS,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0 if result["within_limit"] else 1


if __name__ == "__main__":
    sys.exit(main())
