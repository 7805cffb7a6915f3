"""A few months of ticket history for the demo, so the inspector's pages have something to
judge on the first start: which company lets tickets go overdue, on working days and on
weekends and holidays.

Each company has its habits (how many tickets its buildings file, how often it is late, how
slow it is on non-working days); each building and local day has its own seeded random
generator, so a calendar day looks the same on every first start and the last months are
simply the days before `now`. A ticket's life is planned whole (accepted, started, done,
asked, reopened…) and then cut at `now`: what had not happened yet has not happened, so a
few tickets are still open and some of them overdue. The ticket's stamps are then replayed
from the kept history, which is what keeps them consistent with it, and the clock's marks
(warned, overdue, alerted, escalated) are put where the clock would have put them.

Deadlines come from smsbot.deadlines exactly as tickets.file computes them. Tickets filed
by SMS belong to made-up residents whose numbers (+7 000 …) belong to nobody; tickets taken
by telephone have none. Only the first start loads it (`smsbot run`, `smsbot seed-demo`),
never demo.seed(), which the tests use for an empty ticket desk.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlmodel import Session, select

from smsbot import categories, deadline_clock, deadlines, tickets, workdays
from smsbot.clock import utcnow
from smsbot.danger import ELECTRIC, FIRE, FLOOD, GAS, HEATING, LIFT
from smsbot.models import (
    ACTOR_DISPATCHER,
    ACTOR_RESIDENT,
    ACTOR_SYSTEM,
    COMPANY_ROLES,
    TICKET_ACCEPTED,
    TICKET_DONE,
    TICKET_IN_PROGRESS,
    TICKET_NEW,
    TICKET_OPEN,
    TICKET_REJECTED,
    Building,
    Company,
    Resident,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketFeedback,
    User,
)

MONTHS = 4
"""How far back the history goes."""
DAYS = 122
"""The same, in days."""


@dataclass(frozen=True)
class Habits:
    """How a company works its tickets: the shares and typical delays its history is drawn
    from. `late` is the share of tickets that miss their deadline; companies are judged on
    exactly that, so it is what sets them apart."""

    tickets_per_day: float
    """Tickets a building files on an ordinary Wednesday."""
    late: float
    """Share of tickets filed on working days that miss the deadline."""
    late_nonworking: float
    """The same for tickets filed on weekends and public holidays."""
    accept_minutes: int
    """Typical time to take a routine ticket into work, filed on a working day."""
    accept_minutes_nonworking: int
    stuck: float = 0.01
    """Share forgotten for days: the overdue tickets still open on the desk."""
    reject: float = 0.04
    reopen: float = 0.06
    """Share of the residents' answers that are НЕТ (not fixed)."""
    rating: float = 4.4
    """A typical mark, for tickets done in time (late ones get less)."""


HABITS = {
    "uk-zarechye": Habits(2.2, late=0.04, late_nonworking=0.38, accept_minutes=25,
                          accept_minutes_nonworking=540, reopen=0.05, rating=4.6),
    "uk-solnechny": Habits(4.0, late=0.22, late_nonworking=0.26, accept_minutes=150,
                           accept_minutes_nonworking=240, stuck=0.03, reject=0.07, reopen=0.14,
                           rating=3.4),
    "uk-voskhod": Habits(1.8, late=0.10, late_nonworking=0.13, accept_minutes=60,
                         accept_minutes_nonworking=120, rating=4.1),
    "zhilkomfort": Habits(1.6, late=0.05, late_nonworking=0.07, accept_minutes=40,
                          accept_minutes_nonworking=90, stuck=0.005, rating=4.5),
}  # fmt: skip
"""Заречье is quick on working days and slow on weekends and holidays; Солнечный город is
late all week and often has tickets reopened; the two history-only companies sit between."""

HISTORY_COMPANIES = [
    {
        "slug": "uk-voskhod",
        "name": "УК «Восход»",
        "timezone": "Europe/Moscow",
        "dispatch_hours": "пн–сб 08:00–20:00",
        "buildings": [
            "Московская обл., г. Балашиха, ул. Свердлова, д. 41",
            "Московская обл., г. Балашиха, ул. Свердлова, д. 43",
            "Московская обл., г. Балашиха, ш. Энтузиастов, д. 7, корп. 1",
        ],
    },
    {
        "slug": "zhilkomfort",
        "name": "ООО «ЖилКомфорт»",
        "timezone": "Europe/Moscow",
        "dispatch_hours": "пн–пт 09:00–18:00",
        "working_hours_deadlines": True,
        "buildings": [
            "Московская обл., г.о. Подольск, ул. Кирова, д. 15",
            "Московская обл., г.о. Подольск, пр-т Ленина, д. 102",
        ],
    },
]
"""Companies with buildings and tickets but no staff, numbers or accounts: more rows for the
inspector to compare (ЖилКомфорт counts routine deadlines in working hours)."""

WEEKDAY_FACTOR = (1.3, 1.1, 1.0, 1.0, 0.95, 0.7, 0.6)
"""More tickets on Monday (the weekend's), fewer on Saturday and Sunday."""
HOLIDAY_FACTOR = 0.6
HOUR_WEIGHTS = (1, 1, 0, 0, 0, 1, 2, 5, 9, 9, 8, 7, 6, 6, 6, 6, 7, 8, 9, 9, 8, 6, 4, 2)
"""When residents report problems, by local hour: mornings and evenings."""

PROBLEM_WEIGHTS = {
    "stair_lighting": 12, "cleaning": 10, "plumbing": 9, "heating_fault": 8, "waste": 7,
    "lift_stopped": 7, "door_lock": 6, "intercom": 6, "electrical": 5, "common_tap_leak": 4,
    "no_water": 4, "roof_leak": 3, "roof_facade": 2, "broken_glass": 2, "other": 4,
    "flood": 1.5, "sewer_blockage": 1.5, "lift_stuck": 0.8, "power_out": 0.6,
    "heating_out": 0.6, "chute_blockage": 0.5, "sparking": 0.3, "gas_smell": 0.3, "fire": 0.1,
}  # fmt: skip
"""The problem mix: mostly routine, a few emergencies (keys of categories.PROBLEMS)."""

DANGERS = {
    "gas_smell": GAS,
    "fire": FIRE,
    "flood": FLOOD,
    "sparking": ELECTRIC,
    "lift_stuck": LIFT,
    "heating_out": HEATING,
}
"""Problems a resident's words raise as a danger (tickets.file gets them as danger_kind)."""

TEXTS = {
    "gas_smell": ("Пахнет газом в подъезде на третьем этаже", "Сильный запах газа у лифта"),
    "fire": ("Горит мусор в подвале, дым в подъезде",),
    "lift_stuck": ("Застряли в лифте между этажами, второй подъезд",),
    "flood": ("Прорвало трубу, заливает квартиру снизу", "Топит сверху, вода по стене"),
    "sparking": ("Искрит щиток на лестничной площадке",),
    "power_out": ("Пропало электричество во всём доме",),
    "heating_out": ("Отопления нет, батареи ледяные",),
    "sewer_blockage": ("Засор канализации, вода поднимается в ванной",),
    "chute_blockage": ("Забит мусоропровод, мусор до пятого этажа",),
    "roof_leak": ("Протекает крыша, капает с потолка на кухне",),
    "lift_stopped": ("Лифт не работает с утра", "Не работает лифт во втором подъезде"),
    "door_lock": ("Сломан доводчик на входной двери", "Не закрывается дверь подъезда"),
    "broken_glass": ("Разбито стекло в окне на лестнице",),
    "common_tap_leak": ("В подвале капает из трубы",),
    "stair_lighting": ("Не горит свет в подъезде на четвёртом этаже", "Перегорела лампа на площадке"),
    "roof_facade": ("Висят сосульки над входом", "Отвалилась штукатурка на фасаде"),
    "no_water": ("Нет горячей воды с утра", "Слабый напор холодной воды"),
    "heating_fault": ("Батарея еле тёплая в комнате", "Шумит отопление, стучит в батареях"),
    "plumbing": ("Подтекает труба стояка в туалете",),
    "electrical": ("Не работает розетка в коридоре", "Выбивает автомат в щитке"),
    "intercom": ("Не работает домофон", "Домофон не открывает дверь"),
    "waste": ("Не вывезли мусор, контейнеры переполнены",),
    "cleaning": ("Не убирают в подъезде вторую неделю", "Во дворе не чистят снег"),
    "other": ("Сломана лавочка у подъезда",),
}  # fmt: skip
"""What residents write (each text files as its problem: tests check it with
categories.guess)."""

DONE_NOTES = {
    categories.PLUMBING: "Заменили прокладку, течи нет",
    categories.ELECTRICAL: "Неисправность устранена, проверили щиток",
    categories.HEATING: "Стравили воздух, батареи прогреваются",
    categories.LIFT: "Лифт запущен",
    categories.CLEANING: "Убрано",
    categories.WASTE: "Вывезено",
    categories.ROOF: "Работы выполнены",
    categories.INTERCOM: "Домофон исправлен",
    categories.GAS: "Аварийная газовая служба устранила утечку",
    categories.OTHER: "Выполнено",
}
REJECT_NOTES = (
    "Внутриквартирное оборудование, ремонт за счёт собственника",
    "Повторная заявка, работы уже ведутся",
    "При выезде неисправность не подтвердилась",
)

SMS_SHARE = 0.6
"""Share of tickets residents file by SMS (the rest are taken by telephone)."""
ANSWER_SHARE = 0.6
"""Share of residents who answer the question after done."""
RATE_SHARE = 0.75
"""Share of those saying ДА who then give a mark."""
RESIDENTS_PER_BUILDING = 15
CLOCK_LAG = (5, 60)
"""The clock runs every minute: seconds between a moment passing and the clock marking it."""


# --- a ticket's life, planned whole (pure) ------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One history entry as planned (a TicketEvent once loaded)."""

    at: datetime
    actor: str
    to_status: str | None
    note: str | None = None
    public: bool = True


@dataclass(frozen=True)
class Question:
    """The question after done and the resident's answer, each part with its time."""

    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None
    rating: int | None = None
    rated_at: datetime | None = None


@dataclass
class Story:
    """A ticket's whole planned life, before it is cut at `now`."""

    steps: list[Step] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def _typical(rng: random.Random, minutes: float) -> timedelta:
    """A delay around `minutes` with a long tail (log-normal, median `minutes`)."""
    return _minutes(minutes * math.exp(rng.gauss(0, 0.7)))


def plan(
    rng: random.Random,
    *,
    habits: Habits,
    filed_at: datetime,
    due: deadlines.Deadline,
    on_time_at: datetime,
    emergency: bool,
    nonworking: bool,
    by_sms: bool,
    category: str,
) -> Story:
    """What happens to a ticket, from filing to the resident's mark, whatever `now` is.

    `on_time_at` is the moment it is finished when the company keeps the deadline (a share
    of the way to it on the deadline's own clock). Late tickets finish after the deadline by
    a fraction of their time; stuck ones days later.
    """
    story = Story()
    span = due.due_at - filed_at
    late_share = habits.late_nonworking if nonworking else habits.late
    roll = rng.random()
    if roll < habits.stuck:
        close = due.due_at + timedelta(days=rng.uniform(2, 9))
    elif roll < habits.stuck + late_share:
        close = due.due_at + max(_minutes(10), span * rng.expovariate(2.0))
    else:
        close = on_time_at
    rejected = rng.random() < habits.reject
    story.steps.append(Step(filed_at, ACTOR_RESIDENT if by_sms else ACTOR_DISPATCHER, TICKET_NEW))

    if emergency:
        accept_delay = _minutes(rng.uniform(1, 8))
    else:
        base = habits.accept_minutes_nonworking if nonworking else habits.accept_minutes
        accept_delay = _typical(rng, base)
    accepted = filed_at + min(accept_delay, (close - filed_at) * 0.6)
    if rejected:
        story.steps.append(
            Step(accepted, ACTOR_DISPATCHER, TICKET_REJECTED, rng.choice(REJECT_NOTES))
        )
        return story
    if emergency or rng.random() < 0.15:  # the crew went out at once
        story.steps.append(Step(accepted, ACTOR_DISPATCHER, TICKET_IN_PROGRESS))
    else:
        story.steps.append(Step(accepted, ACTOR_DISPATCHER, TICKET_ACCEPTED))
        if rng.random() < 0.7:
            started = accepted + (close - accepted) * rng.uniform(0.1, 0.6)
            story.steps.append(Step(started, ACTOR_DISPATCHER, TICKET_IN_PROGRESS))
    story.steps.append(Step(close, ACTOR_DISPATCHER, TICKET_DONE, DONE_NOTES[category]))
    if by_sms:
        _ask(rng, story, close, habits, late=close > due.due_at, category=category)
    return story


def _ask(
    rng: random.Random, story: Story, done_at: datetime, habits: Habits, *, late: bool,
    category: str,
) -> None:  # fmt: skip
    """The question after done, the answer, and after a НЕТ the second round of work."""
    if rng.random() >= ANSWER_SHARE:
        story.questions.append(Question(done_at))
        return
    answered = done_at + _typical(rng, 90)
    if rng.random() < habits.reopen * (2 if late else 1):
        story.questions.append(Question(done_at, "no", answered))
        story.steps.append(Step(answered, ACTOR_RESIDENT, TICKET_IN_PROGRESS, "НЕТ"))
        done_again = answered + _typical(rng, 600)
        story.steps.append(Step(done_again, ACTOR_DISPATCHER, TICKET_DONE, DONE_NOTES[category]))
        story.questions.append(Question(done_again))
        return
    story.steps.append(Step(answered, ACTOR_RESIDENT, None, "ДА"))
    if rng.random() >= RATE_SHARE:
        story.questions.append(Question(done_at, "yes", answered))
        return
    mark = habits.rating - (1.3 if late else 0) + rng.gauss(0, 0.8)
    rating = min(5, max(1, round(mark)))
    rated = answered + _typical(rng, 3)
    story.steps.append(Step(rated, ACTOR_RESIDENT, None, str(rating)))
    story.questions.append(Question(done_at, "yes", answered, rating, rated))


@dataclass
class Settled:
    """A ticket as it stands at `now`: its stamps and the history kept."""

    fields: dict
    steps: list[Step]
    questions: list[Question]


def settle(
    story: Story,
    *,
    due: deadlines.Deadline,
    emergency: bool,
    now: datetime,
    rng: random.Random,
    note: Callable[[str], str],
) -> Settled:
    """Cut the story at `now` and replay it into the ticket's stamps, the way tickets.transition
    and ticket_desk set them, and add the clock's marks (with `note(stage)` in the history)
    where smsbot.deadline_clock would have made them."""
    steps = sorted((s for s in story.steps if s.at <= now), key=lambda s: s.at)
    questions = [_cut(q, now) for q in story.questions if q.asked_at <= now]
    f: dict = {"accepted_at": None, "started_at": None, "done_at": None, "rejected_at": None,
               "first_done_at": None, "reopened_at": None, "reopen_count": 0,
               "confirmed_at": None, "rating": None, "first_reply_at": None}  # fmt: skip
    status, open_spans, opened = TICKET_NEW, [], steps[0].at
    for step in steps:
        if step.to_status is None:
            if step.note == "ДА":
                f["confirmed_at"] = step.at
            elif step.note and step.note.isdigit():
                f["rating"] = int(step.note)
            continue
        if step.to_status == TICKET_IN_PROGRESS:
            f["accepted_at"] = f["accepted_at"] or step.at
            if status == TICKET_DONE:
                f["done_at"] = None
                f["reopened_at"], f["reopen_count"] = step.at, f["reopen_count"] + 1
                opened = step.at
            f["started_at"] = step.at
        elif step.to_status == TICKET_ACCEPTED:
            f["accepted_at"] = step.at
        elif step.to_status == TICKET_DONE:
            f["done_at"] = step.at
            f["first_done_at"] = f["first_done_at"] or step.at
            open_spans.append((opened, step.at))
        elif step.to_status == TICKET_REJECTED:
            f["rejected_at"] = step.at
            open_spans.append((opened, step.at))
        if step.actor == ACTOR_DISPATCHER and status == TICKET_NEW and step.to_status != TICKET_NEW:
            f["first_reply_at"] = step.at  # the resident's SMS about the change
        status = step.to_status
    if status in TICKET_OPEN:
        open_spans.append((opened, None))
    f["status"] = status
    f["updated_at"] = steps[-1].at

    def open_at(t: datetime) -> bool:
        return any(start <= t and (end is None or t < end) for start, end in open_spans)

    def lag() -> timedelta:
        return timedelta(seconds=rng.uniform(*CLOCK_LAG))

    f.update(warned_at=None, overdue_at=None, overdue_alerted_at=None, escalated_at=None)
    marks = []
    warned = due.warn_at + lag() if due.warn_at else None
    if warned and warned <= now and warned < due.due_at and open_at(warned):
        f["warned_at"] = warned
        marks.append((warned, deadline_clock.NEAR))
    # Overdue: open at some moment after the deadline (closed late, or reopened after it).
    missed = [
        max(start, due.due_at) for start, end in open_spans if end is None or end > due.due_at
    ]
    if missed and min(missed) < now:
        f["overdue_at"] = due.due_at  # by the clock, or by tickets.mark_if_late when closed
        alerted = min(missed) + lag()
        if alerted <= now and open_at(alerted):
            f["overdue_alerted_at"] = alerted
            marks.append((alerted, deadline_clock.OVERDUE))
            if emergency:
                f["escalated_at"] = alerted
                marks.append((alerted, deadline_clock.ESCALATION))
    for at, stage in marks:
        steps.append(Step(at, ACTOR_SYSTEM, None, note(stage), public=False))
    steps.sort(key=lambda s: s.at)
    f["updated_at"] = steps[-1].at
    return Settled(f, steps, questions)


def _cut(q: Question, now: datetime) -> Question:
    """The question as it stands at `now`: answers not given yet are not there."""
    if q.answered_at is None or q.answered_at > now:
        return Question(q.asked_at)
    if q.rated_at is None or q.rated_at > now:
        return Question(q.asked_at, q.answer, q.answered_at)
    return q


def day_count(rng: random.Random, habits: Habits, day: date) -> int:
    """How many tickets a building files on a local day (Poisson around its rhythm)."""
    factor = HOLIDAY_FACTOR if workdays.holiday_name(day) else WEEKDAY_FACTOR[day.weekday()]
    if day.month in (12, 1, 2):
        factor *= 1.15  # snow, ice and frozen pipes
    mean, count, p = habits.tickets_per_day * factor, 0, rng.random()
    threshold = math.exp(-mean)
    while p > threshold:
        count += 1
        p *= rng.random()
    return count


def _season_weight(problem: str, day: date) -> float:
    weight = PROBLEM_WEIGHTS[problem]
    if problem in ("heating_fault", "heating_out"):
        return weight * (
            2.0 if day.month in (10, 11) else 1.0 if deadlines.in_heating_season(day) else 0.1
        )
    if problem == "cleaning" and day.month in (12, 1, 2):
        return weight * 1.8
    return weight


@dataclass
class Row:
    """A ticket ready to insert: its columns, history and questions, and which of the
    company's made-up residents filed it (None: taken by telephone)."""

    fields: dict
    steps: list[Step]
    questions: list[Question]
    resident: int | None


def company_history(
    company: Company,
    *,
    buildings: list[int],
    staff: list[int],
    overrides: dict[str, deadlines.Override],
    now: datetime,
    days: int = DAYS,
) -> list[Row]:
    """The company's tickets of the `days` local days before `now` (and of today up to
    `now`), oldest first; `staff` are the ids of dispatchers who work them. Pure."""
    habits = HABITS[company.slug]
    tz = ZoneInfo(company.timezone)
    hours = (company.workday_start, company.workday_end)
    today = now.astimezone(tz).date()
    problems = list(PROBLEM_WEIGHTS)
    rows: list[Row] = []
    for b, building_id in enumerate(buildings):
        for back in range(days, -1, -1):
            day = today - timedelta(days=back)
            rng = random.Random(f"{company.slug}/{b}/{day.isoformat()}")
            nonworking = workdays.is_nonworking(day)
            weights = [_season_weight(p, day) for p in problems]
            for _ in range(day_count(rng, habits, day)):
                hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
                local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tz)
                filed_at = local.astimezone(now.tzinfo)
                problem = categories.PROBLEMS[rng.choices(problems, weights)[0]]
                working = company.working_hours_deadlines and not problem.emergency
                clock_of = dict(
                    tz=company.timezone,
                    overrides=overrides,
                    working_hours=hours if working else None,
                )
                due = deadlines.compute(
                    problem.key, filed_at, warn_percent=company.warn_percent, **clock_of
                )
                on_time = deadlines.compute(
                    problem.key, filed_at, warn_percent=rng.randint(25, 95), **clock_of
                )
                by_sms = rng.random() < SMS_SHARE
                story = plan(rng, habits=habits, filed_at=filed_at, due=due, on_time_at=on_time.warn_at,
                             emergency=problem.emergency, nonworking=nonworking, by_sms=by_sms,
                             category=problem.category)  # fmt: skip
                user = rng.choice(staff) if staff else None
                text = rng.choice(TEXTS[problem.key])
                resident = rng.randrange(RESIDENTS_PER_BUILDING) + b * RESIDENTS_PER_BUILDING
                clock = random.Random(rng.random())  # the same draws whatever `now` cuts off
                if filed_at > now:
                    continue
                settled = settle(story, due=due, emergency=problem.emergency, now=now, rng=clock,
                                 note=_clock_notes(company, due.due_at))  # fmt: skip
                if not by_sms:
                    settled.fields["first_reply_at"] = None  # nobody to answer by SMS
                taken = settled.fields["accepted_at"] or settled.fields["rejected_at"]
                fields = settled.fields | {
                    "company_id": company.id,
                    "building_id": building_id,
                    "text": text,
                    "problem": problem.key,
                    "category": problem.category,
                    "priority": problem.priority,
                    "emergency": problem.emergency,
                    "danger": DANGERS.get(problem.key),
                    "filed_at": filed_at,
                    "filed_day": day,
                    "filed_nonworking": nonworking,
                    "working_hours": working,
                    "deadline_at": due.due_at,
                    "repair_deadline_at": due.repair_due_at,
                    "warn_at": due.warn_at,
                    "assignee_id": user if taken else None,
                }
                rows.append(
                    Row(fields, settled.steps, settled.questions, resident if by_sms else None)
                )
    rows.sort(key=lambda r: r.fields["filed_at"])
    return rows


def _clock_notes(company: Company, due_at: datetime) -> Callable[[str], str]:
    """The clock's history note for each stage; the demo's staff have no alert phones."""
    local = due_at.astimezone(ZoneInfo(company.timezone)).strftime("%d.%m.%Y %H:%M")
    return lambda stage: deadline_clock.event_note(
        stage, language=company.language, deadline_local=local, names=[]
    )


# --- loading (the edge) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """What was loaded, for the first-start summary."""

    tickets: int
    open: int
    overdue_open: int
    companies: int
    months: int = MONTHS


def load(session: Session, *, now: datetime | None = None, days: int = DAYS) -> Loaded:
    """Add the history companies and `days` of tickets before `now` to freshly seeded demo
    data (after demo.seed, and demo.seed_staff for the dispatchers who work the tickets)."""
    now = now or utcnow()
    _add_history_companies(session)
    companies = session.exec(
        select(Company).where(Company.slug.in_(list(HABITS))).order_by(Company.id)
    ).all()
    total = open_now = overdue_now = 0
    for index, company in enumerate(companies):
        buildings = session.exec(
            select(Building.id).where(Building.company_id == company.id).order_by(Building.id)
        ).all()
        staff = session.exec(
            select(User.id)
            .where(User.company_id == company.id, User.role.in_(list(COMPANY_ROLES)))
            .order_by(User.id)
        ).all()
        rows = company_history(company, buildings=list(buildings), staff=list(staff),
                               overrides=tickets.overrides(session, company.id), now=now,
                               days=days)  # fmt: skip
        _insert(session, company, index, rows)
        total += len(rows)
        still_open = [r.fields for r in rows if r.fields["status"] in TICKET_OPEN]
        open_now += len(still_open)
        overdue_now += sum(f["overdue_at"] is not None for f in still_open)
    session.flush()
    _rebuild_stats(session, now)
    return Loaded(total, open_now, overdue_now, len(companies))


def _add_history_companies(session: Session) -> None:
    for spec in HISTORY_COMPANIES:
        company = Company(**{k: v for k, v in spec.items() if k != "buildings"})
        session.add(company)
        session.flush()
        for address in spec["buildings"]:
            session.add(Building(company_id=company.id, address=address))
    session.flush()


def _resident_phone(company_index: int, n: int) -> str:
    """A made-up number: Russian numbering has no 000 code, so it reaches nobody."""
    return f"+7000{company_index:02d}{n:05d}"


def _insert(session: Session, company: Company, index: int, rows: list[Row]) -> None:
    """Bulk insert the company's tickets, their history and questions; set its counter."""
    if not rows:
        return
    wanted = sorted({r.resident for r in rows if r.resident is not None})
    start = rows[0].fields["filed_at"]
    if wanted:
        session.execute(insert(Resident.__table__), [
            {"phone": _resident_phone(index, n), "language": "ru", "opted_out": False, "created_at": start}
            for n in wanted
        ])  # fmt: skip
    phones = {_resident_phone(index, n): n for n in wanted}
    residents = {
        phones[phone]: rid
        for rid, phone in session.execute(select(Resident.id, Resident.phone).where(Resident.phone.in_(list(phones))))
    }  # fmt: skip
    ticket_rows = []
    for number, row in enumerate(rows, start=1):
        ticket_rows.append(
            row.fields | {"number": number, "resident_id": residents.get(row.resident)}
        )
    session.execute(insert(Ticket.__table__), ticket_rows)
    ids = dict(
        session.execute(
            select(Ticket.number, Ticket.id).where(Ticket.company_id == company.id)
        ).all()
    )
    events, questions = [], []
    for number, row in enumerate(rows, start=1):
        ticket_id, status, user = ids[number], None, row.fields["assignee_id"]
        for step in row.steps:
            events.append({
                "ticket_id": ticket_id, "at": step.at, "actor": step.actor,
                "user_id": user if step.actor == ACTOR_DISPATCHER and step.to_status != TICKET_NEW else None,
                "from_status": status if step.to_status not in (None, TICKET_NEW) else None,
                "to_status": step.to_status, "note": step.note, "public": step.public,
            })  # fmt: skip
            status = step.to_status or status
        for q in row.questions:
            questions.append({
                "ticket_id": ticket_id, "resident_id": residents[row.resident], "asked_at": q.asked_at,
                "answer": q.answer, "answered_at": q.answered_at, "rating": q.rating, "rated_at": q.rated_at,
            })  # fmt: skip
    session.execute(insert(TicketEvent.__table__), events)
    if questions:
        session.execute(insert(TicketFeedback.__table__), questions)
    tickets.next_number(session, company.id)  # makes the counter row
    session.execute(
        update(TicketCounter)
        .where(TicketCounter.company_id == company.id)
        .values(last_number=len(rows))
    )


def _rebuild_stats(session: Session, now: datetime) -> None:
    """Bring the inspector's kept figures up to date, once smsbot.ticket_stats exists."""
    try:
        from smsbot import ticket_stats
    except ModuleNotFoundError as exc:  # the inspector's figures are not in this version
        if exc.name != "smsbot.ticket_stats":
            raise
        return
    if hasattr(ticket_stats, "rebuild"):
        ticket_stats.rebuild(session, now)


def summary(loaded: Loaded) -> str:
    """The first-start line about the history."""
    return (
        f"  {loaded.tickets:,} tickets of history over {loaded.months} months at {loaded.companies} "
        f"companies ({loaded.open} open now, {loaded.overdue_open} of them overdue)"
    )
