"""Sending in batches (smsbot.sending): one wake-up per provider, one claim and one record per
batch, replies before notices, opted-out residents cancelled in the claim, retries and
budgets, and the pacer's decisions under an injected clock. No timed assertions: the pacer's
clock and sleep are fakes, and the real ones are only ever waited on with safety timeouts."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import timedelta

import pytest
from rq import Queue
from sqlmodel import Session, select

from smsbot import clock, db, jobs, outgoing, pacing, providers, queues, sending
from smsbot.exceptions import TransientSendError
from smsbot.models import (
    KIND_NOTICE,
    KIND_OPT_OUT,
    KIND_REPLY,
    OUT_QUEUED,
    OUTBOUND,
    Message,
    Resident,
)
from smsbot.providers import outbox
from smsbot.providers.base import OutgoingSms, Provider, SendResult
from tests.support import listening, statements_seen

COMPANY_NUMBER = "+74951230001"


def store(count: int, *, kind: str = KIND_REPLY, provider: str | None = "outbox",
          resident_id: int | None = None, first_phone: int = 79160000000) -> list[int]:  # fmt: skip
    """`count` queued outbound messages, each to its own phone; their ids."""
    now = clock.utcnow()
    with Session(db.engine()) as session:
        rows = [
            Message(
                direction=OUTBOUND,
                status=OUT_QUEUED,
                kind=kind,
                provider=provider,
                from_phone=COMPANY_NUMBER,
                to_phone=f"+{first_phone + i}",
                body=f"text {i}",
                resident_id=resident_id,
                created_at=now,
                updated_at=now,
            )  # fmt: skip
            for i in range(count)
        ]
        session.add_all(rows)
        session.commit()
        return [r.id for r in rows]


def messages(ids: list[int]) -> list[Message]:
    with Session(db.engine()) as session:
        return list(session.exec(select(Message).where(Message.id.in_(ids)).order_by(Message.id)))


def resident(*, opted_out: bool) -> int:
    with Session(db.engine()) as session:
        person = Resident(phone="+79169999999", language="ru", opted_out=opted_out)
        session.add(person)
        session.commit()
        return person.id


class Statements:
    """Every SQL statement the engine runs while in use (executemany counts once)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __enter__(self) -> Statements:
        self._listening = listening("before_cursor_execute", self._count)
        self._listening.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listening.__exit__(*exc)

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        self.seen.append(" ".join(statement.split()))


def job_ids(name: str) -> list[str]:
    return Queue(name, connection=queues.connection()).job_ids


# --- one claim, one record -------------------------------------------------------------------


def test_a_batch_is_claimed_with_one_statement_and_recorded_with_one(app):
    ids = store(5)
    settings = app.config["SMSBOT_SETTINGS"]
    with Statements() as sql:
        counts = sending.drain("outbox", settings)
    assert counts == {"canceled": 0, "sent": 5}
    assert len(sql.seen) == 2, sql.seen
    claim, record = sql.seen
    assert "UPDATE message SET" in claim and "RETURNING" in claim
    assert record.startswith("UPDATE message SET") and "external_id=" in record
    assert [m.status for m in messages(ids)] == ["delivered"] * 5
    recorded = {r["message_id"]: r["sid"] for r in outbox.messages(limit=10)}
    assert {m.id: m.external_id for m in messages(ids)} == recorded


def test_a_full_batch_is_followed_by_the_next_until_none_is_left(app, monkeypatch):
    monkeypatch.setattr(sending, "BATCH", 2)
    ids = store(5)
    with Statements() as sql:
        counts = sending.drain("outbox", app.config["SMSBOT_SETTINGS"])
    assert counts["sent"] == 5
    claims = [s for s in sql.seen if "RETURNING" in s]
    assert len(claims) == 3  # 2 + 2 + 1: the short batch ends the drain
    assert {m.status for m in messages(ids)} == {"delivered"}


def test_a_full_batch_is_stored_with_the_next_claim_and_alone_if_the_drain_breaks_first(
    app, monkeypatch
):
    monkeypatch.setattr(sending, "BATCH", 2)
    ids = store(3)
    with Statements() as sql:
        assert sending.drain("outbox", app.config["SMSBOT_SETTINGS"])["sent"] == 3
    kinds = ["claim" if "RETURNING" in s else "record" for s in sql.seen]
    assert kinds == ["claim", "record", "claim", "record"]  # the 1st record rides in the 2nd claim

    def redis_gone(*args: object, **kwargs: object) -> bool:
        raise queues.RedisError("gone")

    more = store(2, first_phone=79170000000)
    monkeypatch.setattr(queues, "carry_on", redis_gone)
    with pytest.raises(queues.RedisError):
        sending.drain("outbox", app.config["SMSBOT_SETTINGS"])
    assert {m.status for m in messages([*ids, *more])} == {"delivered"}  # none left 'sending'


def test_on_postgresql_a_claim_or_a_lone_record_runs_alone_and_the_rest_in_transactions(
    app, monkeypatch
):
    """A claim with nothing to record and the record of a lone send are one statement each:
    on PostgreSQL they need no BEGIN and COMMIT (db.writer's `single`); a record of several
    sends, and one riding in the next claim, keep their transaction (one commit for all)."""
    monkeypatch.setattr(sending, "BATCH", 2)
    store(3)
    with statements_seen() as seen:
        assert sending.drain("outbox", app.config["SMSBOT_SETTINGS"])["sent"] == 3
    inside = [inside for _, inside in seen]
    if db.engine().dialect.name == "postgresql":
        # the 1st claim; the 1st batch's record with the 2nd claim; the last send's record
        assert inside == [False, True, True, False], seen
    else:
        assert all(inside), seen  # SQLite's writers take the write lock with BEGIN IMMEDIATE


def test_replies_are_claimed_before_notices_queued_earlier(app):
    notices = store(3, kind=KIND_NOTICE)
    [reply] = store(1, first_phone=79170000000)
    settings = app.config["SMSBOT_SETTINGS"]
    claimed, _ = sending.claim(providers.get(settings, "outbox"), settings, 2)
    assert [c.sms.message_id for c in claimed] == [reply, notices[0]]
    assert [m.status for m in messages([*notices, reply])] == ["sending", "queued", "queued",
                                                                "sending"]  # fmt: skip


def test_messages_to_an_opted_out_resident_are_cancelled_in_the_claim(app):
    person = resident(opted_out=True)
    [notice] = store(1, kind=KIND_NOTICE, resident_id=person)
    [confirmation] = store(1, kind=KIND_OPT_OUT, resident_id=person, first_phone=79170000000)
    counts = sending.drain("outbox", app.config["SMSBOT_SETTINGS"])
    assert counts == {"canceled": 1, "sent": 1}
    cancelled, sent = messages([notice, confirmation])
    assert (cancelled.status, cancelled.error_message) == ("canceled", "resident opted out")
    assert sent.status == "delivered"  # the confirmation of STOP itself still goes
    assert [r["message_id"] for r in outbox.messages()] == [confirmation]


def test_rows_without_a_provider_go_through_the_default_one(app):
    [message_id] = store(1, provider=None)
    settings = app.config["SMSBOT_SETTINGS"]
    assert settings.default_provider == "outbox"
    sending.drain("outbox", settings)
    [message] = messages([message_id])
    assert (message.provider, message.status) == ("outbox", "delivered")


# --- waking the sender ---------------------------------------------------------------------


def test_a_thousand_sends_wake_one_job_and_later_ones_nudge_it(app):
    ids = store(3)
    notices = store(2, kind=KIND_NOTICE, first_phone=79170000000)
    outgoing.queue_sends([(i, KIND_REPLY, "outbox") for i in ids] * 400)
    outgoing.queue_sends([(i, KIND_REPLY, "outbox") for i in ids])
    outgoing.queue_sends([(i, KIND_NOTICE, "outbox") for i in notices])
    [waiting] = job_ids(queues.OUTBOUND_QUEUE)
    assert waiting.startswith("drain-outbox-")
    assert len(job_ids(queues.NOTICES_QUEUE)) == 1  # notices wake on the slowest queue
    nudge = queues.nudge_key("outbox", queues.OUTBOUND_QUEUE)
    assert queues.connection().llen(nudge) == 1  # the job holding the wake will look again
    queues.connection().delete(queues.wake_flag("outbox", queues.OUTBOUND_QUEUE))  # it let go
    outgoing.queue_sends([(ids[0], KIND_REPLY, "outbox")])
    assert len(job_ids(queues.OUTBOUND_QUEUE)) == 2


def test_the_woken_job_sends_everything_waiting(app):
    from tests.conftest import run_jobs

    ids = store(4)
    outgoing.queue_sends([(i, KIND_REPLY, "outbox") for i in ids])
    run_jobs(app)
    assert {m.status for m in messages(ids)} == {"delivered"}
    assert job_ids(queues.OUTBOUND_QUEUE) == []


def test_old_one_message_jobs_still_send(app):
    [message_id] = store(1)
    assert jobs.send_outbound(message_id) == "sent"
    assert messages([message_id])[0].status == "delivered"


def test_the_sweep_wakes_a_lost_drain_once_and_leaves_a_waiting_one_alone(app):
    ids = store(2)
    with Session(db.engine()) as session:
        for message in session.exec(select(Message).where(Message.id.in_(ids))):
            message.created_at = clock.utcnow() - timedelta(minutes=5)
        session.commit()
    outgoing.queue_sends([(i, KIND_REPLY, "outbox") for i in ids])
    Queue(queues.OUTBOUND_QUEUE, connection=queues.connection()).empty()  # Redis lost the job
    assert jobs.sweep()["outbound"] == 2
    assert len(job_ids(queues.OUTBOUND_QUEUE)) == 1
    assert jobs.sweep()["outbound"] == 0  # that job is waiting: nothing more
    assert len(job_ids(queues.OUTBOUND_QUEUE)) == 1


# --- failures and the budget ------------------------------------------------------------------


def test_a_transient_failure_in_a_batch_is_queued_again_with_a_wake_at_its_time(app, monkeypatch):
    ids = store(3)
    settings = app.config["SMSBOT_SETTINGS"]
    box = providers.get(settings, "outbox")
    real_send = box.send

    def flaky(sms: OutgoingSms) -> SendResult:
        if sms.message_id == ids[1]:
            raise TransientSendError("throttled", code=20429, status=429)
        return real_send(sms)

    monkeypatch.setattr(box, "send", flaky)
    counts = sending.drain("outbox", settings)
    assert counts == {"canceled": 0, "sent": 2, "retry": 1}
    first, retried, third = messages(ids)
    assert first.status == third.status == "delivered"
    assert (retried.status, retried.attempts, retried.error_code) == ("queued", 1, 20429)
    assert retried.next_attempt_at is not None
    scheduled = Queue(queues.OUTBOUND_QUEUE, connection=queues.connection()).scheduled_job_registry
    assert len(scheduled.get_job_ids()) == 1


def test_sends_not_started_within_the_budget_are_given_back_and_a_new_job_woken(app):
    ids = store(3)
    sending.pacer.reserve("outbox", 2000, 1000)  # the next two seconds are promised already
    promised = queues.connection().get(pacing.KEY.format("outbox"))
    counts = sending.drain("outbox", app.config["SMSBOT_SETTINGS"], budget=1)
    assert counts == {"canceled": 0, "released": 3}
    assert [(m.status, m.attempts) for m in messages(ids)] == [("queued", 0)] * 3
    assert outbox.messages() == []
    assert len(job_ids(queues.OUTBOUND_QUEUE)) == 1
    # Given back unsent, they took no slot: the woken job starts where the promise ends.
    assert queues.connection().get(pacing.KEY.format("outbox")) == promised


# --- pacing -------------------------------------------------------------------------------------


class FakeClock:
    """A wall clock that only moves when someone sleeps."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.t += seconds


def test_reserve_spaces_slots_and_starts_now_when_idle():
    assert pacing.reserve(0.0, 100.0, 3, 0.5) == (100.0, 3, 101.5)
    assert pacing.reserve(101.5, 100.2, 2, 0.5) == (101.5, 2, 102.5)  # behind the earlier ones
    assert pacing.reserve(101.5, 200.0, 1, 0.5) == (200.0, 1, 200.5)  # idle: no wait
    assert pacing.slots(10.0, 3, 0.25) == [10.0, 10.25, 10.5]


def test_reserve_takes_only_the_slots_that_start_before_the_deadline():
    # 2/s from 100.0, deadline 101.2: slots 100.0, 100.5 and 101.0 fit, 101.5 does not.
    assert pacing.reserve(0.0, 100.0, 5, 0.5, until=101.2) == (100.0, 3, 101.5)
    assert pacing.reserve(0.0, 100.0, 5, 0.5, until=101.0) == (100.0, 2, 101.0)  # at: too late
    assert pacing.reserve(0.0, 100.0, 2, 0.5, until=500.0) == (100.0, 2, 101.0)
    # The schedule is promised past the deadline: nothing is taken and nothing moves on.
    assert pacing.reserve(130.0, 100.0, 20, 0.1, until=120.0) == (130.0, 0, 130.0)


def test_a_short_gap_between_batches_is_caught_up_but_never_more_than_the_burst():
    # 10/s: a batch of 5 ends at 100.5; the next claim comes 0.05 s late.
    assert pacing.reserve(100.5, 100.55, 5, 0.1, burst=0.2) == (100.5, 5, 101.0)
    # After a long pause only 0.2 s (two sends at 10/s) may go at once.
    start, _, _ = pacing.reserve(100.5, 500.0, 5, 0.1, burst=0.2)
    assert start == pytest.approx(499.8)
    assert sum(slot <= 500.0 for slot in pacing.slots(start, 5, 0.1)) == 3  # 2 owed + now


def test_workers_share_one_schedule_through_redis(app):
    fake = FakeClock(1_000_000.0)
    one = pacing.Pacer(queues.connection, fake, fake.sleep, burst=0)
    other = pacing.Pacer(queues.connection, fake, fake.sleep, burst=0)
    assert one.reserve("twilio", 3, 10) == pytest.approx([1_000_000.0, 1_000_000.1, 1_000_000.2])
    assert other.reserve("twilio", 2, 10) == pytest.approx([1_000_000.3, 1_000_000.4])
    assert other.reserve("smsc", 1, 5) == pytest.approx([1_000_000.0])  # a rate per provider
    fake.t += 60
    assert one.reserve("twilio", 1, 10) == pytest.approx([1_000_060.0])
    catching_up = pacing.Pacer(queues.connection, fake, fake.sleep, burst=0.2)
    fake.t += 60
    assert catching_up.reserve("twilio", 1, 10) == pytest.approx([1_000_119.8])  # same as Python


def test_without_redis_a_process_still_paces_itself():
    fake = FakeClock(50.0)
    alone = pacing.Pacer(None, fake, fake.sleep, burst=0)
    assert alone.reserve("p", 2, 4) == [50.0, 50.25]
    assert alone.reserve("p", 1, 4) == [50.5]
    assert alone.reserve("p", 3, 4, until=50.8) == [50.75]
    assert alone.reserve("p", 1, 4) == [51.0]


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "this process"])
def test_sends_given_back_at_the_deadline_leave_the_schedule_where_it_was(app, shared):
    """A handling job gives back the replies it cannot send within HERE_WAIT (and a drain
    those past its budget): they must not hold slots, or the schedule runs ahead of every
    send and a backlog waits for nothing (the worker-kill row of bench/faults.py)."""
    fake = FakeClock(1_000_000.0)
    pacer = pacing.Pacer(queues.connection if shared else None, fake, fake.sleep, burst=0)
    # A handling job with 20 replies at 10/s may wait 0.05 s: one goes, 19 are given back.
    assert pacer.reserve("twilio", 20, 10, until=fake() + 0.05) == [1_000_000.0]
    # Many such jobs: each takes the one slot it uses, or none.
    for _ in range(50):
        assert len(pacer.reserve("twilio", 20, 10, until=fake() + 0.05)) <= 1
    assert pacer.reserve("twilio", 20, 10, until=fake() + 0.25) == pytest.approx(
        [1_000_000.1, 1_000_000.2]
    )
    # The drain that takes the backlog starts right behind them, not 20 × 51 slots on.
    assert pacer.reserve("twilio", 3, 10, until=fake() + 20)[0] == pytest.approx(1_000_000.3)


class Recorder(Provider):
    """A provider that notes when (on the fake clock) each send happened, and how many
    were in flight at once; sends wait in pairs, so two at once must really happen."""

    kind = "recorder"

    def __init__(self, fake: FakeClock, mps: float, concurrency: int) -> None:
        class Config:
            name = "recorder"
            messages_per_second = mps
            send_concurrency = concurrency

        super().__init__(Config())
        self.fake = fake
        self.calls: list[tuple[int, float]] = []
        self.in_flight = self.most_in_flight = 0
        self.pairs = threading.Barrier(2, timeout=30)
        self._lock = threading.Lock()

    def send(self, sms: OutgoingSms) -> SendResult:
        with self._lock:
            self.calls.append((sms.message_id, self.fake()))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.pairs.wait()
        with self._lock:
            self.in_flight -= 1
        return SendResult(f"R{sms.message_id}", "accepted")

    def find_sent(self, sms, since):  # noqa: ANN001, ANN201
        return None


def claims(ids: Iterable[int]) -> list[sending.Claimed]:
    """Replies claimed for sending, one per id, each to its own phone."""
    return [
        sending.Claimed(OutgoingSms(i, f"+7916000000{i}", "hi", None), KIND_REPLY, 1) for i in ids
    ]


def test_a_batch_is_sent_in_its_slots_two_at_a_time(monkeypatch):
    fake = FakeClock(2_000.0)
    monkeypatch.setattr(sending, "pacer", pacing.Pacer(None, fake, fake.sleep, burst=0))
    recorder = Recorder(fake, mps=5, concurrency=2)
    claimed = claims(range(1, 7))
    outcomes = sending.send_all(recorder, claimed, until=fake() + 60)
    assert [o.result for o in outcomes] == ["sent"] * 6
    assert [o.message_id for o in outcomes] == [1, 2, 3, 4, 5, 6]
    slots = dict(zip(range(1, 7), pacing.slots(2_000.0, 6, 0.2), strict=True))
    assert all(when >= slots[message_id] - 1e-9 for message_id, when in recorder.calls)
    assert recorder.most_in_flight == 2
    assert sum(fake.slept) >= 1.0 - 1e-9  # six sends at 5/s span a second of waiting


def test_a_send_whose_slot_is_past_the_budget_is_not_made(monkeypatch):
    fake = FakeClock(3_000.0)
    monkeypatch.setattr(sending, "pacer", pacing.Pacer(None, fake, fake.sleep, burst=0))
    recorder = Recorder(fake, mps=1, concurrency=1)
    [item] = claims([9])
    sending.pacer.reserve("recorder", 10, 1)  # ten seconds already promised to others
    [outcome] = sending.send_all(recorder, [item], until=fake() + 5)
    assert outcome.result == "released" and recorder.calls == []


def test_a_batch_sends_what_fits_before_the_deadline_and_gives_back_the_rest(monkeypatch):
    fake = FakeClock(4_000.0)
    monkeypatch.setattr(sending, "pacer", pacing.Pacer(None, fake, fake.sleep, burst=0))
    recorder = Recorder(fake, mps=10, concurrency=2)
    claimed = claims(range(1, 5))
    outcomes = sending.send_all(recorder, claimed, until=fake() + 0.15)  # slots 0 and 0.1
    assert [(o.message_id, o.result) for o in outcomes] == [
        (1, "sent"), (2, "sent"), (3, "released"), (4, "released")
    ]  # fmt: skip
    assert sorted(message_id for message_id, _ in recorder.calls) == [1, 2]
    # The two given back took no slot: the next send starts right after the two made.
    assert sending.pacer.reserve("recorder", 1, 10) == pytest.approx([4_000.2])
