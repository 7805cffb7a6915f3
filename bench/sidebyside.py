"""`bench/run.py --with-peer`: smsbot and the RapidSMS peer in the same window (issue #10).

Why one command: the machine is shared and its speed drifts, so the two systems are measured
interleaved (a round is ours on each database, then the peer; `--rounds` of them), each with
its CPU summed over every process it runs and the CPU that others used meanwhile beside it.

* Ours, end to end: signed inbound webhook -> reply accepted by the fake Twilio, which then
  posts two delivery callbacks (bench/run.py's e2e stage), open loop at rising offered loads
  (10, 100, 150, 200, 300, 400, ... msg/s) until the first one past 200 it does not sustain.
* The peer (bench/peer.py): closed loop with wrk as its bench.sh drives it, and open loop at
  the same offered loads as ours.
* Ingest: signed webhooks/s through the web tier alone (bench/run.py's ingest), per database.
* Counts: one extra stage with `SMSBOT_COUNT_DIR` set (smsbot/counting.py) gives SQL statements
  and Redis round trips per message by process kind; its CPU figures are not used.

Replies are counted where they arrive (the fake Twilio) and rows in the database, never by job
or queue names: the pipeline behind the webhook may change.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

import peer as peer_mod
from run import (
    ROOT,
    Config,
    PhoneCounter,
    Processes,
    Stack,
    e2e_stage,
    flush_redis,
    fmt,
    ingest_app,
    log,
    log_errors,
    mark,
    prepare_database,
    sql_rows,
)

RAMP = [10, 100, 150, 200, 300, 400, 500, 600, 700, 800, 1000, 1200, 1500]
"""Offered loads, msg/s, ours and the peer's open loop: each until the first not sustained
past the loads the targets name (LATENCY_AT), so 200 msg/s is always measured. The steps
at 100 and 150 show where below 200 a system stops keeping up."""
LATENCY_AT = (10, 200)
"""Offered loads whose latency the targets name."""
TARGETS = {
    "e2e_rps": {"sqlite": 400, "postgresql": 300},
    "vs_peer": 1.5,
    "cpu_ms": {"sqlite": 5.0, "postgresql": 7.0},
    "p50_at_200_ms": 30,
    "p99_at_200_ms": 250,
    "p99_at_10_ms": 100,
    "ingest_rps": 1500,
    "ingest_p99_ms": 50,
    "sql_statements": 8,
}
"""Issue #10's targets (on this 2-core machine, everything on it)."""
MARK_BEGIN, MARK_END = "<!-- bench:with-peer -->", "<!-- /bench:with-peer -->"
"""The README's table sits between these two lines; a run rewrites what is between them."""


def sustained(stage: dict[str, Any]) -> bool:
    """A load is sustained when nothing stopped it early, every accepted message got its reply,
    the generator did offer it (≥ 90%), and the last reply came within a second (or a tenth of
    the window) of the last post: the system kept up rather than working off a backlog."""
    replies, rps, window = (
        stage.get("replies", 0),
        stage.get("throughput_rps", 0),
        stage.get("send_window_s", 0),
    )
    tail = replies / rps - window if rps else float("inf")
    offered = stage.get("achieved_offered_rps", stage["offered_rps"])
    return (not stage.get("stopped_early") and replies > 0 and stage.get("missing_replies", 1) == 0
            and stage.get("drain", {}).get("drained", True) and offered >= 0.9 * stage["offered_rps"]
            and tail <= max(1.0, 0.1 * window))  # fmt: skip


def system_cpu_ms(stage: dict[str, Any]) -> float:
    """CPU ms per message of every process of the system (the load generator apart)."""
    per = stage.get("cpu_ms_per_reply", {})
    return round(sum(v for k, v in per.items() if k not in ("generator", "all")), 2)


def summarize_ramp(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """The rate: the most replies per second any stage completed in full (a sustained load's,
    or an overloaded one's from first post to last reply, i.e. at saturation, as the peer's
    closed loop measures it); the sustained maximum; latency at the loads the targets name."""
    ok = [s for s in stages if sustained(s)]
    full = [s for s in stages if s.get("replies", 0) > 0 and s.get("missing_replies", 1) == 0
            and not s.get("processes_exited")]  # fmt: skip
    best = max(full, key=lambda s: s["throughput_rps"]) if full else None
    out: dict[str, Any] = {
        "sustained_max_offered": max((s["offered_rps"] for s in ok), default=None),
        "sustained_max_rps": max((s["throughput_rps"] for s in ok), default=None),
        "rate_rps": best["throughput_rps"] if best else None,
        "rate_at_offered": best["offered_rps"] if best else None,
        "rate_stage_sustained": sustained(best) if best else None,
        "cpu_ms": system_cpu_ms(best) if best else None,
        "cpu_ms_by_process": best.get("cpu_ms_per_reply") if best else None,
        "generator_cpu_ms": best.get("cpu_ms_per_reply", {}).get("generator") if best else None,
        "other_cores": best["cpu"]["other_cores"] if best else None,
        "other_cores_mean": _mean([s["cpu"]["other_cores"] for s in stages]),
        "latency_at": {},
    }
    for rate in LATENCY_AT:
        s = next((s for s in stages if s["offered_rps"] == rate), None)
        if s:
            out["latency_at"][str(rate)] = {"p50": s["latency_ms"]["p50"], "p99": s["latency_ms"]["p99"],
                                            "sustained": sustained(s)}  # fmt: skip
    return out


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else None


def ours_ramp(procs: Processes, cfg: Config, workdir: Path, url: str, redis_url: str,
              phones: PhoneCounter, label: str, rates: list[int], min_messages: int,
              count_dir: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """One stack on a fresh database: warm-up, then the loads until the first not sustained.
    With `count_dir`, its processes count statements and round trips (smsbot/counting.py)."""
    flush_redis(redis_url)
    prepare_database(url)
    stack = Stack(procs, cfg, workdir, url, redis_url, label)
    if count_dir is not None:
        stack.env["SMSBOT_COUNT_DIR"] = str(count_dir)
    stages, counts = [], None
    try:
        stack.start()
        warm = e2e_stage(stack, phones.take(100), 50, cfg)
        log(f"  {label} warm-up: {warm['replies']}/{warm['accepted_200']} replies")
        for rate in rates:
            n = max(min_messages, rate * cfg.e2e_seconds)
            marks: dict[str, Any] = {}

            def snapshot(marks: dict[str, Any] = marks) -> None:
                """Right before the first post, once the warm-up's totals are flushed."""
                time.sleep(1.5)
                marks["before"] = read_counts(count_dir)

            stage = e2e_stage(
                stack, phones.take(n), rate, cfg, on_start=snapshot if count_dir else None
            )
            lat = stage["latency_ms"]
            log(f"    -> {label}: throughput {stage['throughput_rps']}/s, replies {stage['replies']}/{stage['accepted_200']}, "
                f"p50 {lat['p50']} p99 {lat['p99']} ms, CPU {system_cpu_ms(stage)} ms/msg, other load "
                f"{stage['cpu']['other_cores']}" + (f"; {stage['stopped_early']}" if stage["stopped_early"] else ""))  # fmt: skip
            stages.append(stage)
            if dead := exited(stack):
                # e.g. a test run elsewhere on the machine doing `pkill -f "smsbot.cli worker"`
                stage["processes_exited"] = dead
                log(f"  {label}: processes exited during the stage: {dead}; this ramp ends here")
                break
            if count_dir is not None:
                time.sleep(2.5)  # every process flushes its totals about once a second
                counts = per_message(
                    marks["before"], read_counts(count_dir), stack.cpu_groups(), stage["replies"]
                )
            if not sustained(stage) and rate >= max(LATENCY_AT):
                break
    finally:
        stack.stop()
    statuses = dict(
        sql_rows(
            url, "SELECT status, count(*) FROM message WHERE direction = 'out' GROUP BY status"
        )
    )
    return {"label": label, "stages": stages, "summary": summarize_ramp(stages), "counts": counts,
            "outbound_status_counts": statuses, "log_errors": log_errors(procs.logdir, label)}  # fmt: skip


def exited(stack: Stack) -> list[str]:
    """Our processes that are no longer running (a stage without them measures nothing)."""
    procs = {"web": stack.web, "clock": stack.clock, **{f"rq_worker_{i + 1}": w for i, w in enumerate(stack.workers)},
             **stack.rig.procs}  # fmt: skip
    return [
        f"{name} (exit {p.returncode})"
        for name, p in procs.items()
        if p is not None and p.poll() is not None
    ]


# ------------------------------------------------------------------------------ counts


COUNTERS = (
    "sql_statements",
    "sql_commits",
    "redis_round_trips",
    "redis_commands",
    "sqlite_lock_polls",
)


def read_counts(directory: Path | None) -> dict[int, dict[str, int]]:
    out = {}
    for path in (directory or Path("/nonexistent")).glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        out[int(data["pid"])] = data
    return out


def per_message(before: dict[int, dict[str, int]], after: dict[int, dict[str, int]],
                groups: dict[str, list[int]], messages: int) -> dict[str, Any]:  # fmt: skip
    """Counts per message by process kind (web, RQ workers, clock, ...), and in all."""
    kind_of = {pid: kind for kind, pids in groups.items() for pid in pids}
    kinds: dict[str, dict[str, float]] = {}
    for pid, now in after.items():
        kind = kind_of.get(pid, "other")
        row = kinds.setdefault(kind, dict.fromkeys(COUNTERS, 0.0))
        for key in COUNTERS:
            row[key] += now.get(key, 0) - before.get(pid, {}).get(key, 0)
    n = max(messages, 1)
    out = {k: {c: round(v / n, 2) for c, v in row.items()} for k, row in sorted(kinds.items())}
    out["all"] = {c: round(sum(row[c] for row in kinds.values()) / n, 2) for c in COUNTERS}
    return {"messages": messages, "per_message": out}


# ------------------------------------------------------------------------------ the run


def run(args: Any, cfg: Config, procs: Processes, workdir: Path, redis_url: str,
        backends: list[tuple[str, Any]], wrk: str | None, notes: list[str]) -> dict[str, Any]:  # fmt: skip
    """All of it; `backends` is [(name, callable giving a fresh database URL)]."""
    phones = PhoneCounter()
    rates = cfg.e2e_rates
    min_messages = 40 if args.quick else 300
    rounds = args.rounds or (1 if args.quick else 2)
    res: dict[str, Any] = {"rounds": [], "ramp": rates, "targets": TARGETS}

    peer_dir, looked = peer_mod.find_dir(args.peer_dir or os.environ.get("SMSBOT_BENCH_PEER_DIR"))
    why = "wrk is not available (the peer is driven with its inbound.lua)"
    if wrk:
        why = peer_mod.build(peer_dir, looked)
    peer = None
    if why is None:
        res["peer_dir"] = str(peer_dir)
        try:
            peer = peer_mod.Peer(procs, workdir, wrk, peer_dir)
        except Exception as exc:  # noqa: BLE001 - reported, ours still runs
            why = f"{type(exc).__name__}: {exc}"
    if why:
        notes.append(f"The peer was skipped: {why}.")
        log(f"peer skipped: {why}")
    res["peer_available"] = peer is not None

    if wrk and not args.no_ingest:
        res["ingest"] = {}
        for name, fresh in backends:
            url = fresh(f"ingest-{name}")
            flush_redis(redis_url)
            prepare_database(url)
            log(
                f"ingest on {name}: wrk -t{cfg.wrk_threads} -c{cfg.wrk_connections}, {cfg.ingest_seconds}s"
            )
            try:
                d = ingest_app(procs, cfg, wrk, workdir, url, redis_url, phones, f"ingest-{name}")
                log(f"  {name}: {d['ok_rps']}/s p99 {d['latency_ms']['p99']} ms")
            except Exception as exc:  # noqa: BLE001
                d = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"  {name}: {d['error']}")
            res["ingest"][name] = d
            flush_redis(redis_url)

    for r in range(1, rounds + 1):
        rnd: dict[str, Any] = {"round": r, "ours": {}}
        for name, fresh in backends:
            log(f"round {r}: ours on {name}, loads {rates} until one is not sustained")
            try:
                rnd["ours"][name] = ours_ramp(procs, cfg, workdir, fresh(f"e2e-{name}-{r}"), redis_url, phones,
                                              f"{name}-r{r}", rates, min_messages)  # fmt: skip
            except Exception as exc:  # noqa: BLE001
                rnd["ours"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"  ours on {name}: {rnd['ours'][name]['error']}")
        if peer is not None:
            log(
                f"round {r}: the peer, closed loop (wrk -t2 -c16, {args.peer_seconds}s), then open loop"
            )
            try:
                closed = peer.closed_loop(
                    args.peer_seconds, 2 if args.quick else 3, cfg.quiet_wait_s
                )
                log(f"    -> peer closed loop: {closed['throughput_rps']} replies/s, p50 {closed['latency_ms']['p50']} "
                    f"p99 {closed['latency_ms']['p99']} ms, CPU {closed['cpu_ms_per_reply']['all']} ms/msg")  # fmt: skip
                stages = peer.open_loop(
                    rates,
                    cfg.e2e_seconds,
                    min_messages,
                    cfg.quiet_wait_s,
                    sustained,
                    measure_through=max(LATENCY_AT),
                )
                rnd["peer"] = {
                    "closed_loop": closed,
                    "open_loop": stages,
                    "summary": summarize_ramp(stages),
                }
            except Exception as exc:  # noqa: BLE001
                rnd["peer"] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"  peer: {rnd['peer']['error']}")
        res["rounds"].append(rnd)

    if not args.no_counts and backends:
        res["counts"] = {}
        for name, fresh in backends:
            log(
                f"counts: statements and round trips per message on {name} ({args.count_rate} msg/s)"
            )
            try:
                d = ours_ramp(procs, cfg, workdir, fresh(f"counts-{name}"), redis_url, phones, f"counts-{name}",
                              [args.count_rate], min_messages, count_dir=workdir / f"counts-{name}")  # fmt: skip
                res["counts"][name] = {"offered_rps": args.count_rate, **(d["counts"] or {})}
            except Exception as exc:  # noqa: BLE001
                res["counts"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"  counts on {name}: {res['counts'][name]['error']}")
    res["summary"] = summary(res)
    return res


def summary(res: dict[str, Any]) -> dict[str, Any]:
    """Medians over the rounds, per system."""
    out: dict[str, Any] = {}
    systems: dict[str, list[dict[str, Any]]] = {}
    for rnd in res["rounds"]:
        for name, d in rnd["ours"].items():
            if "summary" in d:
                systems.setdefault(name, []).append(d["summary"])
    for name, rows in systems.items():
        out[name] = _median_rows(rows)
    peers = [rnd["peer"] for rnd in res["rounds"] if "closed_loop" in rnd.get("peer", {})]
    if peers:
        closed = [p["closed_loop"] for p in peers]
        out["peer"] = {
            "rate_rps": _median([c["throughput_rps"] for c in closed]),
            "rate_rps_runs": [c["throughput_rps"] for c in closed],
            "cpu_ms": _median([c["cpu_ms_per_reply"]["all"] for c in closed]),
            "closed_p50_ms": _median([c["latency_ms"]["p50"] for c in closed]),
            "closed_p99_ms": _median([c["latency_ms"]["p99"] for c in closed]),
            "other_cores": _median([c["cpu"]["other_cores"] for c in closed]),
            "generator_cpu_ms": _median([c.get("generator_cpu_ms_per_reply") for c in closed]),
            "open_loop": _median_rows([p["summary"] for p in peers]),
        }
    return out


def _median(values: list[Any]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def _median_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": len(rows)}
    for key in (
        "rate_rps",
        "sustained_max_offered",
        "sustained_max_rps",
        "cpu_ms",
        "other_cores",
        "other_cores_mean",
        "generator_cpu_ms",
    ):
        out[key] = _median([r.get(key) for r in rows])
        out[key + "_runs"] = [r.get(key) for r in rows]
    out["latency_at"] = {}
    for rate in LATENCY_AT:
        got = [r["latency_at"][str(rate)] for r in rows if str(rate) in r.get("latency_at", {})]
        if got:
            out["latency_at"][str(rate)] = {"p50": _median([g["p50"] for g in got]),
                                            "p99": _median([g["p99"] for g in got]),
                                            "sustained": all(g["sustained"] for g in got)}  # fmt: skip
    return out


# ------------------------------------------------------------------------------ report


def final_line(res: dict[str, Any]) -> str:
    """The one line a script reads: SQLite (else the first database) against the peer."""
    s = res.get("summary", {})
    ours = s.get("sqlite") or next((v for k, v in s.items() if k != "peer"), {})
    peer = s.get("peer", {})
    x, y, z, w = ours.get("rate_rps"), ours.get("cpu_ms"), peer.get("rate_rps"), peer.get("cpu_ms")
    r = f"{x / z:.2f}" if x and z else "–"
    num = lambda v, nd: "–" if v is None else f"{v:.{nd}f}"  # noqa: E731
    return (f"end to end ours/peer: {r}× (ours {num(x, 0)} msg/s at {num(y, 1)} ms CPU per message, "
            f"peer {num(z, 0)} msg/s at {num(w, 1)} ms)")  # fmt: skip


def markdown(res: dict[str, Any]) -> str:
    m, s, t = res["machine"], res.get("summary", {}), TARGETS
    peer = s.get("peer", {})
    dbs = [k for k in s if k != "peer"]
    out = [f"`{res['command']}` on {m['cpu_count']} cores ({m['cpu_model']}), {m['date'][:16].replace('T', ' ')} UTC, "
           f"commit {m['git_commit']}{' (+ uncommitted changes)' if m['git_uncommitted_changes'] else ''}; "
           f"{len(res['rounds'])} round(s), interleaved (ours on each database, then the peer); medians over the "
           f"rounds. Ours: {res.get('web_config') or 'gunicorn sync × 4'}, {res['config']['rq_workers']} RQ "
           f"workers, clock, fake Twilio with two delivery callbacks per reply; the peer: RapidSMS 2.2 + "
           f"rapidsms-twilio, gunicorn sync × 2, reply POSTed to its fake Twilio inside the request.", ""]  # fmt: skip
    others = [s[d].get("other_cores_mean") for d in dbs] + [peer.get("other_cores")]
    busiest = max((o for o in others if o is not None), default=None)
    if busiest is not None and busiest > 0.25:
        out += [f"**The machine was not idle**: processes outside the benchmark used up to {busiest:.2f} of the 2 "
                "cores while it measured (last row), so these figures and the ratio do not compare the systems; "
                "run again on a quiet machine.", ""]  # fmt: skip
    head = "| figure | target |" + "".join(f" smsbot {d} |" for d in dbs) + " RapidSMS peer |"
    out += [head, "|---|---|" + "---:|" * (len(dbs) + 1)]

    def row(title: str, target: str, cells: list[str], peer_cell: str = "–") -> None:
        out.append(f"| {title} | {target} | " + " | ".join(cells) + f" | {peer_cell} |")

    def e2e_cell(d: str) -> str:
        v = s[d].get("rate_rps")
        ok = None if v is None else v >= t["e2e_rps"].get(d, 400)
        sus = s[d].get("sustained_max_offered")
        return f"{fmt(v)} (sustained {fmt(sus)} offered) {mark(ok)}"

    row("end to end, msg/s", f"≥ {t['e2e_rps']['sqlite']} SQLite, ≥ {t['e2e_rps']['postgresql']} PostgreSQL",
        [e2e_cell(d) for d in dbs], f"{fmt(peer.get('rate_rps'))} (closed loop)")  # fmt: skip
    ratios = []
    for d in dbs:
        x, z = s[d].get("rate_rps"), peer.get("rate_rps")
        ratios.append(f"{x / z:.2f}× {mark(x / z >= t['vs_peer'])}" if x and z else "–")
    row("ours / peer", f"≥ {t['vs_peer']}×", ratios)
    row("CPU ms per message, all processes", f"≤ {t['cpu_ms']['sqlite']:g} SQLite, ≤ {t['cpu_ms']['postgresql']:g} PostgreSQL",
        [f"{fmt(s[d].get('cpu_ms'), 1)} {mark(None if s[d].get('cpu_ms') is None else s[d]['cpu_ms'] <= t['cpu_ms'].get(d, 5))}"
         for d in dbs], fmt(peer.get("cpu_ms"), 1))  # fmt: skip

    def lat(d: dict[str, Any], rate: str, key: str, limit: float | None) -> str:
        v = d.get("latency_at", {}).get(rate, {}).get(key)
        return f"{fmt(v)}{'' if limit is None or v is None else ' ' + mark(v <= limit)}"

    peer_open = peer.get("open_loop", {})
    row("p50 / p99 ms at 200 msg/s offered", f"≤ {t['p50_at_200_ms']} / ≤ {t['p99_at_200_ms']}",
        [f"{lat(s[d], '200', 'p50', t['p50_at_200_ms'])} / {lat(s[d], '200', 'p99', t['p99_at_200_ms'])}" for d in dbs],
        f"{lat(peer_open, '200', 'p50', None)} / {lat(peer_open, '200', 'p99', None)}")  # fmt: skip
    row("p50 / p99 ms at 10 msg/s offered", f"p99 ≤ {t['p99_at_10_ms']}",
        [f"{lat(s[d], '10', 'p50', None)} / {lat(s[d], '10', 'p99', t['p99_at_10_ms'])}" for d in dbs],
        f"{lat(peer_open, '10', 'p50', None)} / {lat(peer_open, '10', 'p99', None)}")  # fmt: skip
    ing = res.get("ingest", {})
    cells = []
    for d in dbs:
        i = ing.get(d, {})
        if "ok_rps" in i:
            ok = i["ok_rps"] >= t["ingest_rps"] and i["latency_ms"]["p99"] <= t["ingest_p99_ms"]
            cells.append(
                f"{fmt(i['ok_rps'])}/s, p99 {fmt(i['latency_ms']['p99'], 1)} ms {mark(ok)}"
            )
        else:
            cells.append(i.get("error", "–")[:60])
    row(
        "ingest, signed webhooks (web tier alone)",
        f"≥ {t['ingest_rps']:,}/s, p99 ≤ {t['ingest_p99_ms']} ms",
        cells,
    )
    row("p50 / p99 ms in the closed loop (wrk -t2 -c16)", "–", ["–" for _ in dbs],
        f"{fmt(peer.get('closed_p50_ms'))} / {fmt(peer.get('closed_p99_ms'))}")  # fmt: skip
    counts = res.get("counts", {})
    cells = []
    for d in dbs:
        a = counts.get(d, {}).get("per_message", {}).get("all")
        cells.append(
            f"{a['sql_statements']:.1f} {mark(a['sql_statements'] <= t['sql_statements'])}"
            if a
            else "–"
        )
    row("SQL statements per message", f"≤ {t['sql_statements']}", cells, "6 (its README)")
    cells = []
    for d in dbs:
        a = counts.get(d, {}).get("per_message", {}).get("all")
        cells.append(f"{a['redis_round_trips']:.1f} / {a['redis_commands']:.1f}" if a else "–")
    row("Redis round trips / commands per message", "–", cells, "0")
    row("load generator's CPU ms per message (not in the CPU above)", "–",
        [f"{fmt(s[d].get('generator_cpu_ms'), 2)} (Python open loop)" for d in dbs],
        f"{fmt(peer.get('generator_cpu_ms'), 2)} (wrk)")  # fmt: skip
    row("other load on the machine, cores (mean over stages)", "low",
        [fmt(s[d].get("other_cores_mean"), 2) for d in dbs], fmt(peer.get("other_cores"), 2))  # fmt: skip
    out.append("")

    out += ["Every stage, every round (CPU ms per message summed over every process of that system; other load = "
            "CPU used meanwhile by processes outside the benchmark, in cores):", "",
            "| round | system | offered msg/s | msg/s | replies / posted | p50 ms | p99 ms | CPU ms/msg | other load | sustained |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|:-:|"]  # fmt: skip
    for rnd in res["rounds"]:
        for d, data in rnd["ours"].items():
            for st in data.get("stages", []):
                out.append(_stage_row(rnd["round"], f"smsbot {d}", st, system_cpu_ms(st)))
            if "error" in data:
                out.append(
                    f"| {rnd['round']} | smsbot {d} | error: {data['error'][:80]} | | | | | | | |"
                )
        p = rnd.get("peer")
        if p and "closed_loop" in p:
            c = p["closed_loop"]
            out.append(f"| {rnd['round']} | peer, closed loop | – | {fmt(c['throughput_rps'])} | {fmt(c['replies'])} / "
                       f"{fmt(c['requests'])} | {fmt(c['latency_ms']['p50'])} | {fmt(c['latency_ms']['p99'])} | "
                       f"{fmt(c['cpu_ms_per_reply']['all'], 1)} | {fmt(c['cpu']['other_cores'], 2)} | – |")  # fmt: skip
            for st in p["open_loop"]:
                out.append(
                    _stage_row(rnd["round"], "peer, open loop", st, st["cpu_ms_per_reply"]["all"])
                )
        elif p:
            out.append(
                f"| {rnd['round']} | peer | error: {p.get('error', '')[:80]} | | | | | | | |"
            )
    out.append("")
    if counts:
        out += ["Per message, by process kind (one stage with `SMSBOT_COUNT_DIR` set, smsbot/counting.py): SQL "
                "statements (an executemany is one; SQLite's BEGIN not counted) / COMMITs sent (a statement in "
                "autocommit, PostgreSQL's webhooks and lone sends, commits itself: not one); Redis round trips (a "
                "pipeline is one) / commands; SQLite lock polls (a BEGIN IMMEDIATE that found the write lock taken, "
                "smsbot/writer_lock.py).", "",
                "| database | process kind | SQL statements | commits | Redis round trips | Redis commands | SQLite lock polls |",
                "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for d, c in counts.items():
            for kind, row_ in c.get("per_message", {}).items():
                out.append(f"| {d} ({fmt(c.get('messages'))} messages) | {kind} | {row_['sql_statements']:.2f} | "
                           f"{row_['sql_commits']:.2f} | {row_['redis_round_trips']:.2f} | {row_['redis_commands']:.2f} | "
                           f"{row_.get('sqlite_lock_polls', 0):.2f} |")  # fmt: skip
        out.append("")
    out += [f"- {n}" for n in res.get("notes", [])]
    out.append(final_line(res))
    return "\n".join(out)


def _stage_row(rnd: int, system: str, st: dict[str, Any], cpu: float) -> str:
    lat = st["latency_ms"]
    return (f"| {rnd} | {system} | {st['offered_rps']} | {fmt(st['throughput_rps'])} | {fmt(st['replies'])} / "
            f"{fmt(st['posted'])} | {fmt(lat['p50'])} | {fmt(lat['p99'])} | {fmt(cpu, 1)} | "
            f"{fmt(st['cpu']['other_cores'], 2)} | {mark(sustained(st))}"
            + (" processes exited: " + ", ".join(st["processes_exited"]) if st.get("processes_exited") else "")
            + " |")  # fmt: skip


def write_readme(table: str, path: Path = ROOT / "README.md") -> bool:
    """Put `table` between the markers in the README; False when the markers are missing."""
    text = path.read_text()
    pattern = re.compile(re.escape(MARK_BEGIN) + r".*?" + re.escape(MARK_END), re.S)
    if not pattern.search(text):
        return False
    path.write_text(pattern.sub(lambda _m: f"{MARK_BEGIN}\n\n{table}\n\n{MARK_END}", text, count=1))
    return True
