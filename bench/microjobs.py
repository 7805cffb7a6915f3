"""Jobs/s of RQ workers on a trivial job: SimpleWorker (in-process) vs Worker (fork per job).

Run by bench/run.py in a subprocess, one worker kind per run:

    python bench/microjobs.py --redis redis://127.0.0.1:PORT/0 --worker simple --jobs 3000

Enqueues `--jobs` no-op jobs on a private queue, then times `worker.work(burst=True)` until
the queue is empty, and prints one JSON line. `--worker app` is smsbot's own AppWorker
(SimpleWorker + a Flask app context per job), which needs the app's environment variables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def noop() -> None:
    """The trivial job."""
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--worker", choices=("simple", "fork", "app"), required=True)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--queue", default="bench-micro")
    args = parser.parse_args(argv)

    from redis import Redis
    from rq import Queue, SimpleWorker, Worker

    conn = Redis.from_url(args.redis)
    q = Queue(args.queue, connection=conn)
    q.empty()
    jobs = [Queue.prepare_data("microjobs.noop", result_ttl=60) for _ in range(args.jobs)]
    for start in range(0, len(jobs), 1000):
        q.enqueue_many(jobs[start : start + 1000])

    if args.worker == "app":
        sys.path.insert(0, str(ROOT))
        import worker as worker_module

        w = worker_module.build(queue_names=[args.queue])
        # build() binds queues through smsbot.queues; rebind to this Redis/queue to be sure.
        w.queues = [Queue(args.queue, connection=conn)]
    else:
        cls = SimpleWorker if args.worker == "simple" else Worker
        w = cls([q], connection=conn, log_job_description=False)

    started = time.perf_counter()
    w.work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - started
    left = q.count
    print(json.dumps({
        "worker": args.worker,
        "class": type(w).__name__,
        "jobs": args.jobs,
        "left_in_queue": left,
        "seconds": round(elapsed, 3),
        "jobs_per_s": round((args.jobs - left) / elapsed, 1),
    }))  # fmt: skip
    q.empty()
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
