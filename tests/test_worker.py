"""worker.py: the RQ worker smsbot runs (the jobs themselves are tested in tests/jobs)."""

from __future__ import annotations

import worker


def test_the_command_channel_thread_stops_within_its_short_poll(app):
    """RQ 3.0 polls the worker's command channel every 60 s, and redis-py 8.2's stop() waits
    for that thread: a worker could hang a minute at its end (see AppWorker.subscribe)."""
    w = worker.build(app)
    w.subscribe()
    try:
        assert w.pubsub_thread.sleep_time == worker.PUBSUB_POLL_SECONDS <= 1
        assert w.pubsub_thread.is_alive()
    finally:
        w.unsubscribe()
    w.pubsub_thread.join(timeout=5 * worker.PUBSUB_POLL_SECONDS + 5)
    assert not w.pubsub_thread.is_alive()
