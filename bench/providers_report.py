#!/usr/bin/env python
"""Collect e2e results of bench/run.py into bench/results/providers.json and providers.md.

Why: issue #9 asks that CPU per message be no worse than before it, and that the e2e run
works per provider. The comparison is CPU ms per message (less disturbed than rates on a
shared machine), taken from runs of the commit before the issue and of ours in the same
window, each beside the CPU other work on the machine used meanwhile.

    .venv/bin/python bench/providers_report.py before=/work/wt-before/bench/results/before-1.json \\
        after=bench/results/after-1.json ... after=bench/results/providers-rest.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import mean
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SMSBOT = ("web", "rq_workers", "clock", "connector", "redis", "postgresql")
STANDINS = ("fake_twilio", "fake_smsc", "smpp_simulator")


def rows_of(tag: str, path: Path) -> list[dict[str, Any]]:
    res = json.loads(path.read_text())
    out = []
    for key, d in res.get("e2e", {}).items():
        for s in d.get("stages", []):
            per = s["cpu_ms_per_reply"]
            out.append({
                "code": tag, "run": res["name"], "commit": res["machine"]["git_commit"],
                "date": res["machine"]["date"], "provider": d.get("provider", "twilio"),
                "database": key.rsplit("-", 1)[-1], "offered_rps": s["offered_rps"],
                "replies": s["replies"], "accepted": s["accepted_200"],
                "throughput_rps": s["throughput_rps"], "latency_ms": s["latency_ms"],
                "cpu_ms_per_message": {
                    "smsbot": round(sum(v for k, v in per.items() if k in SMSBOT), 2),
                    "standin": round(sum(v for k, v in per.items() if k in STANDINS), 2),
                    "generator": per.get("generator"),
                    "by_process": per,
                },
                "other_cores": s["cpu"]["other_cores"], "machine_cores": s["cpu"]["machine_cores"],
                "final_statuses": d.get("outbound_status_counts"), "log_errors": d.get("log_errors"),
            })  # fmt: skip
    return out


QUIET = 0.25
"""Other load (cores) below which a run counts as taken on a quiet machine (run.py's wait_quiet)."""


def summarise(mine: list[dict[str, Any]]) -> dict[str, Any]:
    smsbot = [r["cpu_ms_per_message"]["smsbot"] for r in mine]
    return {
        "runs": len(mine),
        "cpu_ms_per_message_smsbot_mean": round(mean(smsbot), 1),
        "cpu_ms_per_message_smsbot_range": [min(smsbot), max(smsbot)],
        "cpu_ms_per_message_standin_mean": round(mean(r["cpu_ms_per_message"]["standin"] for r in mine), 1),
        "other_cores_mean": round(mean(r["other_cores"] for r in mine), 2),
    }  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| code | run | provider | replies / accepted | throughput msg/s | p50 / p99 ms "
        "| CPU ms/msg smsbot | stand-in | generator | other load, cores | smsbot by process |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        c, lat = r["cpu_ms_per_message"], r["latency_ms"]
        parts = ", ".join(f"{k} {v:.1f}" for k, v in c["by_process"].items() if k in SMSBOT and v)
        out.append(f"| {r['code']} ({r['commit']}) | {r['run']} | {r['provider']} | {r['replies']} / {r['accepted']} "
                   f"| {r['throughput_rps']} | {lat['p50']:.0f} / {lat['p99']:.0f} | **{c['smsbot']:.1f}** "
                   f"| {c['standin']:.1f} | {c['generator']:.1f} | {r['other_cores']:.2f} | {parts} |")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str]) -> int:
    rows = []
    for arg in argv:
        tag, _, path = arg.partition("=")
        rows += rows_of(tag, Path(path))
    summary: dict[str, Any] = {}
    for code in dict.fromkeys(r["code"] for r in rows):
        for provider in dict.fromkeys(r["provider"] for r in rows if r["code"] == code):
            for when, limit in (("all runs", 99.0), ("quiet runs", QUIET)):
                mine = [r for r in rows if r["code"] == code and r["provider"] == provider
                        and r["other_cores"] < limit]  # fmt: skip
                if mine:
                    summary[f"{code} {provider}, {when}"] = summarise(mine)
    (RESULTS / "providers.json").write_text(
        json.dumps({"summary": summary, "runs": rows}, indent=2, ensure_ascii=False) + "\n"
    )
    md = [
        "End to end per provider, and Twilio before (8e9ccab) / after issue #9, SQLite, 25 msg/s for 25 s, "
        "runs interleaved on a shared 2-core machine. CPU ms per message = CPU of smsbot's processes "
        "(gunicorn, RQ workers, clock, the SMPP connector, Redis) / replies; the stand-in and the load "
        "generator apart; *other load* = cores used meanwhile by processes outside the benchmark. "
        "Written by bench/providers_report.py from bench/results/providers-runs/; see bench/README.md.",
        "",
        table(rows), "", "| code, provider | runs | CPU ms/msg smsbot: mean (range) | stand-in | other load |",
          "|---|---:|---:|---:|---:|"]  # fmt: skip
    for k, v in summary.items():
        lo, hi = v["cpu_ms_per_message_smsbot_range"]
        md.append(f"| {k} | {v['runs']} | {v['cpu_ms_per_message_smsbot_mean']} ({lo}–{hi}) "
                  f"| {v['cpu_ms_per_message_standin_mean']} | {v['other_cores_mean']} |")  # fmt: skip
    (RESULTS / "providers.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
