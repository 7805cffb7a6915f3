"""The job entry point: builds the same app as the web and runs RQ workers in-process.

RQ's default worker forks a child per job (about 60 jobs/s here); handlers take
milliseconds, so SimpleWorker runs jobs in the worker process itself. Every job still gets
a fresh app context, and a crash mid-job is covered by the database (see smsbot.sweeping).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from flask import Flask
from rq import SimpleWorker

from app import create_app

log = logging.getLogger("smsbot.worker")


class AppWorker(SimpleWorker):
    """A non-forking RQ worker that runs each job inside the Flask app context."""

    app: Flask

    def perform_job(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        with self.app.app_context():
            return super().perform_job(*args, **kwargs)


def build(
    app: Flask | None = None, queue_names: Sequence[str] | None = None, name: str | None = None
) -> AppWorker:
    """A worker bound to the app's Redis and our queues, highest priority first."""
    import handlers  # noqa: F401  (import before work starts: registry and templates ready)
    import smsbot.jobs  # noqa: F401
    from smsbot import queues

    app = app or create_app()
    names = list(queue_names or queues.ALL_QUEUES)
    worker = AppWorker(
        [queues.queue(n) for n in names],
        connection=queues.connection(),
        name=name,
        log_job_description=False,
    )
    worker.app = app
    return worker


def main(argv: Sequence[str] | None = None, *, burst: bool = False) -> int:
    worker = build()
    worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
