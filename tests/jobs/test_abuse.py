"""Abuse and cost protection (issue 13): a flood, a loop and a runaway bill are cut off.

Real Redis counters, real RQ workers (`run_jobs`), SQLite and PostgreSQL, the local outbox
as the provider: every message is posted to the signed webhook and handled by the worker.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from redis import Redis
from sqlmodel import Session, select

from smsbot import clock, daily_cap, db, jobs, limiter, queues, users
from smsbot.abuse import ECHO, RATE, REPEAT, Limits
from smsbot.models import (
    IN_HANDLED,
    INBOUND,
    KIND_ALERT,
    KIND_REPLY,
    OUT_HELD,
    ROLE_COMPANY_ADMIN,
    Company,
    Conversation,
    ConversationNote,
    Message,
)
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound

ZARECHYE, SOLNECHNY = "+74951230001", "+74951230002"
ANSWERED = ("помощь", "контакты")
"""Commands answered every time; taken in turn, no text repeats twice running."""
FLOODER = "+79160000001"
ADMIN_PHONE = "+79165550102"


def _set(slug: str, **limits: int) -> None:
    with Session(db.engine()) as session:
        company = session.exec(select(Company).where(Company.slug == slug)).one()
        for name, value in limits.items():
            setattr(company, name, value)
        session.add(company)
        session.commit()


def _replies(phone: str) -> list[Message]:
    return outbound_messages(to_phone=phone, kind=KIND_REPLY)


def _thread(phone: str, number: str) -> tuple[Conversation, list[str]]:
    with Session(db.engine()) as session:
        [message] = session.exec(
            select(Message)
            .where(Message.from_phone == phone, Message.to_phone == number)
            .order_by(Message.id)
            .limit(1)
        )
        conversation = session.get(Conversation, message.conversation_id)
        notes = session.exec(
            select(ConversationNote.body).where(ConversationNote.conversation_id == conversation.id)
        ).all()
        return conversation, list(notes)


def _inbound(phone: str) -> list[Message]:
    with Session(db.engine()) as session:
        return list(
            session.exec(
                select(Message).where(Message.direction == INBOUND, Message.from_phone == phone)
            )
        )


def stops(reason: str) -> float:
    """The smsbot_abuse_stops counter of this process (the worker runs in it: run_jobs)."""
    return REGISTRY.get_sample_value("smsbot_abuse_stops_total", {"reason": reason}) or 0.0


def test_a_flood_of_200_messages_gets_the_limits_replies_and_loses_none(app, client, demo):
    before = stops(RATE)
    for n in range(200):
        post_inbound(client, app, ANSWERED[n % 2], from_phone=FLOODER)
        if n == 99:
            run_jobs(app)  # the worker keeps up in batches, as under load
    run_jobs(app)
    assert len(_replies(FLOODER)) == Limits().rate_limit == 10
    stored = _inbound(FLOODER)
    assert len(stored) == 200 and {m.status for m in stored} == {IN_HANDLED}
    conversation, notes = _thread(FLOODER, ZARECHYE)
    assert conversation.unread == 190  # every unanswered text waits for a person
    assert len(notes) == 1 and "10 сообщений за 10 мин" in notes[0]  # once per window
    assert stops(RATE) - before == 190  # each stop counted for the operators' metrics


def test_limits_are_per_company(app, client, demo):
    _set("uk-zarechye", rate_limit=2)
    for n in range(6):
        post_inbound(client, app, ANSWERED[n % 2], from_phone=FLOODER, to_phone=ZARECHYE)
        post_inbound(client, app, ANSWERED[n % 2], from_phone=FLOODER, to_phone=SOLNECHNY)
    run_jobs(app)
    by_number = [m.from_phone for m in _replies(FLOODER)]
    assert by_number.count(ZARECHYE) == 2  # Заречье's own limit
    assert by_number.count(SOLNECHNY) == 6  # Солнечный's default of 10 is not reached
    # Past the limit, a text that speaks of danger and СТОП are still answered.
    post_inbound(client, app, "в подъезде сильный запах газа", from_phone=FLOODER)
    post_inbound(client, app, "стоп", from_phone=FLOODER)
    run_jobs(app)
    last = [m.template for m in outbound_messages(to_phone=FLOODER)][-2:]
    assert last == ["emergency", "opt_out"], last


def test_an_echoing_auto_responder_is_cut_off(app, client, demo):
    """The phone answers each of our replies at once, never the same text twice running.

    Each round runs the inbound job (`jobs.handle_waiting`, what a worker runs) in this
    process: 41 rounds through RQ would cost this test tens of seconds."""
    post_inbound(client, app, "помощь", from_phone=FLOODER)
    jobs.handle_waiting()
    rounds = 0
    while rounds < 41 and len(_replies(FLOODER)) > rounds:
        rounds += 1
        post_inbound(client, app, ANSWERED[rounds % 2], from_phone=FLOODER)
        jobs.handle_waiting()
    replies = len(_replies(FLOODER))
    assert replies == 1 + Limits().loop_repeats  # the first answer, then 5 echoes answered
    assert rounds == replies  # the echo of our last reply went unanswered: the loop ended
    _, notes = _thread(FLOODER, ZARECHYE)
    assert len(notes) == 1 and "автоответчик" in notes[0]


def test_the_same_text_again_and_again_stops_getting_answers(app, client, demo, monkeypatch):
    start = clock.utcnow()
    for n in range(9):  # 2 minutes apart: not an echo, and 5 in the rate limit's window
        monkeypatch.setattr(clock, "now", lambda n=n: start + timedelta(minutes=2 * n))
        post_inbound(client, app, "Помощь!" if n % 2 else "помощь", from_phone=FLOODER)
    run_jobs(app)
    assert len(_replies(FLOODER)) == Limits().loop_repeats
    _, notes = _thread(FLOODER, ZARECHYE)
    assert len(notes) == 1 and "один и тот же текст" in notes[0]
    # A different text is answered again, and СТОП always works.
    post_inbound(client, app, "контакты", from_phone=FLOODER)
    run_jobs(app)
    assert len(_replies(FLOODER)) == Limits().loop_repeats + 1


def _admin(app) -> None:
    with Session(db.engine()) as session:
        company = session.exec(select(Company).where(Company.slug == "uk-zarechye")).one()
        users.create_user(
            session,
            login="admin",
            name="Игорь",
            password="a-long-password-1",
            role=ROLE_COMPANY_ADMIN,
            company_id=company.id,
            phone=ADMIN_PHONE,
        )
        session.commit()


def _help_from_many(app, client, count: int) -> list[str]:
    phones = [f"+7916100{n:04d}" for n in range(count)]
    for phone in phones:
        post_inbound(client, app, "помощь", from_phone=phone)
    run_jobs(app)
    return phones


def test_replies_past_the_daily_cap_are_held_and_go_out_next_day_or_when_it_is_raised(
    app, client, demo, monkeypatch
):
    """Заречье may send 5 segments of bot replies a day; 12 residents ask for help."""
    _admin(app)
    _set("uk-zarechye", daily_cap=5)
    before = stops(daily_cap.CAP)
    _help_from_many(app, client, 12)
    replies = outbound_messages(kind=KIND_REPLY)
    fit = 5 // replies[0].num_segments  # help replies a day's cap lets out
    sent = [m for m in replies if m.status != OUT_HELD]
    assert len(replies) == 12 and len(sent) == fit
    assert stops(daily_cap.CAP) - before == 12 - fit
    assert all(m.status != "queued" for m in sent)  # gone to the provider
    [alert] = outbound_messages(kind=KIND_ALERT)
    assert alert.to_phone == ADMIN_PHONE and alert.template == "alert_cap"
    assert "5 SMS" in alert.body and alert.status != OUT_HELD
    assert jobs.sweep()["released"] == 0  # still over today's cap: nothing moves

    tomorrow = clock.utcnow() + timedelta(days=1)
    monkeypatch.setattr(clock, "now", lambda: tomorrow)
    assert jobs.sweep()["released"] == fit  # a new day: as many as its cap allows
    assert jobs.sweep()["released"] == 0
    _set("uk-zarechye", daily_cap=1000)  # the admin raises the cap: the rest go
    assert jobs.sweep()["released"] == 12 - 2 * fit
    run_jobs(app)
    assert not {m.status for m in outbound_messages(kind=KIND_REPLY)} & {OUT_HELD, "queued"}
    assert len(outbound_messages(kind=KIND_ALERT)) == 1  # told once


# --- the counters on their own: each stop at its threshold ---------------------------------


def _verdicts(phone: str, texts_at: list[tuple[str, int]], limits: Limits) -> list[str | None]:
    """Texts from one phone at second offsets, each checked as its own batch and answered
    the second it arrived (when not stopped)."""
    base = clock.utcnow()
    stops = []
    for n, (text, second) in enumerate(texts_at):
        at = base + timedelta(seconds=second)
        check = limiter.Check(n + 1, 1, phone, at, text, limits)
        [verdict] = limiter.check_many([check], at)
        stops.append(verdict.stop)
    return stops


def test_each_stop_starts_past_its_threshold(redis_url):
    queues.init(redis_url)
    limits = Limits(rate_limit=3, rate_window=1, loop_repeats=2)
    spaced = [(f"t{n}", n * 30) for n in range(6)]  # 3 a minute, 30 s after each answer
    assert _verdicts("+79160000011", spaced, limits) == [None] * 6
    burst = [(f"r{n}", n) for n in range(5)]
    assert _verdicts("+79160000012", burst, limits) == [None, None, None, RATE, RATE]
    same = [("same", n * 60) for n in range(4)]
    assert _verdicts("+79160000013", same, limits) == [None, None, REPEAT, REPEAT]
    echo = [(f"e{n}", n * 5) for n in range(5)]  # each 5 s after our answer
    assert _verdicts("+79160000014", echo, Limits(10, 1, 2)) == [None, None, None, ECHO, ECHO]


def test_the_bot_answers_when_redis_is_down(monkeypatch):
    monkeypatch.setattr(queues, "_redis", Redis.from_url("redis://127.0.0.1:1/0"))
    checks = [limiter.Check(1, 1, FLOODER, clock.utcnow(), "x", Limits())]
    assert limiter.check_many(checks, clock.utcnow()) == [limiter.GO]


def test_a_batch_handled_again_after_a_rollback_gets_the_same_verdicts(redis_url):
    queues.init(redis_url)
    limits, at = Limits(rate_limit=2, rate_window=1, loop_repeats=1), clock.utcnow()
    batch = [limiter.Check(n, 1, FLOODER, at, "same", limits) for n in (1, 2, 3)]
    first = limiter.check_many(batch, at)
    assert [v.stop for v in first] == [None, REPEAT, RATE] and first[1].note
    assert limiter.check_many(batch, at) == first  # the retry: nothing counted twice
    [later] = limiter.check_many([limiter.Check(4, 1, FLOODER, at, "other", limits)], at)
    assert later.stop == RATE and not later.note  # one note per window
