"""Tables and the message state machine.

Datetimes are aware UTC (see smsbot.clock); money is Decimal in NUMERIC(12, 2). Every
schema change goes through an Alembic migration in smsbot/migrations.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, Numeric, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from smsbot.clock import utcnow

# --- Directions -----------------------------------------------------------------------------

INBOUND = "in"
"""A resident's SMS that reached us through the inbound webhook."""
OUTBOUND = "out"
"""An SMS we send: bot replies, dispatcher replies, notices."""

# --- Inbound states ----------------------------------------------------------------------------
#
#   received ──worker──▶ handled
#       └──(handler crashed)──▶ failed  (left in the company inbox for a human)
#
# A received message is on the RQ queue or about to be put back there by the sweep; the
# state lives in the database, never only in Redis, so nothing is lost if Redis is down.

IN_RECEIVED = "received"
"""Stored by the webhook; a worker has not finished handling it yet."""
IN_HANDLED = "handled"
"""A worker ran its handler and stored the replies, in one transaction."""
IN_FAILED = "failed"
"""The handler kept failing; the text sits in the company inbox for a dispatcher."""

INBOUND_STATES = (IN_RECEIVED, IN_HANDLED, IN_FAILED)

# --- Outbound states ---------------------------------------------------------------------------
#
#   queued ──claim──▶ sending ──provider took it──▶ accepted ──▶ sent ──▶ delivered
#     ▲                  │                                          ├──▶ undelivered
#     └──transient error─┘──permanent error──▶ failed               └──▶ failed
#   queued ──resident opted out──▶ canceled
#   held ──next day, or the daily cap raised──▶ queued   (bot replies past the cap)
#
# Status callbacks only ever move a message forward (see OUT_RANK); Twilio may deliver
# them out of order.

OUT_QUEUED = "queued"
"""Stored with its send job queued; the provider has not been called."""
OUT_SENDING = "sending"
"""A sender claimed it and is calling the provider right now."""
OUT_ACCEPTED = "accepted"
"""The provider took it (Twilio's queued / accepted / sending)."""
OUT_SENT = "sent"
"""The provider handed it to the carrier."""
OUT_DELIVERED = "delivered"
"""The carrier confirmed delivery to the handset."""
OUT_UNDELIVERED = "undelivered"
"""The carrier could not deliver it (error code recorded)."""
OUT_FAILED = "failed"
"""The provider refused it or gave up (error code recorded)."""
OUT_CANCELED = "canceled"
"""Never sent: the resident opted out before its turn came."""
OUT_HELD = "held"
"""A bot reply past the company's daily cap: queued again next day or when the cap is raised."""

OUT_RANK = {
    OUT_QUEUED: 0,
    OUT_HELD: 0,
    OUT_SENDING: 1,
    OUT_ACCEPTED: 2,
    OUT_SENT: 3,
    OUT_DELIVERED: 4,
    OUT_UNDELIVERED: 4,
    OUT_FAILED: 4,
    OUT_CANCELED: 4,
}
"""Order of outbound states: a message never moves to a lower rank."""

OUT_FINAL = frozenset(s for s, rank in OUT_RANK.items() if rank == 4)

# --- Message kinds -----------------------------------------------------------------------------

KIND_RESIDENT = "resident"
"""Inbound text from a resident."""
KIND_REPLY = "reply"
"""The bot's answer to an inbound message."""
KIND_DISPATCHER = "dispatcher"
"""Written by a dispatcher in the inbox."""
KIND_NOTICE = "notice"
"""A company notice to a building."""
KIND_OPT_OUT = "opt_out"
"""The one confirmation sent after STOP; the only SMS that goes to an opted-out phone."""
KIND_ALERT = "alert"
"""A deadline alert to a staff member's phone (near deadline, overdue, escalation)."""


def _now_field() -> datetime:
    return Field(default_factory=utcnow, nullable=False)


class Company(SQLModel, table=True):
    """A managing company (УК): its numbers, dispatch phones and time zone."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="Europe/Moscow", max_length=64)
    dispatch_phone: str | None = Field(default=None, max_length=32)
    dispatch_hours: str | None = Field(default=None, max_length=100)
    emergency_phone: str | None = Field(default=None, max_length=32)
    language: str = Field(default="ru", max_length=2)
    transliterate: bool = False
    """Bot replies in Latin letters (GSM-7: 160 characters an SMS, not 70), to cut cost; the
    company admin sets it on the replies page."""
    created_at: datetime = _now_field()
    meter_window_start: int = 15
    """First day of the month meter readings are accepted (company time zone)."""
    meter_window_end: int = 25
    """Last day of the month meter readings are accepted."""
    working_hours_deadlines: bool = False
    """Count routine deadlines in working hours (workday_start–workday_end on working days,
    Russian public holidays and weekends excluded); emergencies always run on the clock."""
    workday_start: int = 9
    """Local hour the working day starts (for working-hours deadlines)."""
    workday_end: int = 18
    """Local hour the working day ends."""
    warn_percent: int = 80
    provider: str | None = Field(default=None, max_length=32)
    """The provider notices and alerts leave through (None: the service's default)."""
    """How far into a ticket's time (in per cent) the company is warned its deadline is near."""
    rate_limit: int = 10
    """The bot answers at most this many texts from one phone per `rate_window` minutes."""
    rate_window: int = 10
    """Minutes of the per-phone rate limit's sliding window."""
    loop_repeats: int = 5
    """The same text this many times in a row, or this many replies each within seconds of
    our answer (an auto-responder), and the bot stops answering that phone (smsbot.abuse)."""
    daily_cap: int = 2000
    """SMS segments of bot replies a day (company time); past it replies are held, 0: no cap."""


class CompanyNumber(SQLModel, table=True):
    """An SMS number residents text; a company's own number routes to that company."""

    __tablename__ = "company_number"
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    phone: str = Field(max_length=16, unique=True)
    label: str | None = Field(default=None, max_length=100)
    provider: str | None = Field(default=None, max_length=32)
    """The provider account this number is rented from (None: the service's default)."""


class Building(SQLModel, table=True):
    """An apartment building (МКД) served by one company."""

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    address: str = Field(max_length=300)


class Account(SQLModel, table=True):
    """A personal account (л/с): one flat's bill, from the company's billing export."""

    __table_args__ = (UniqueConstraint("company_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    number: str = Field(max_length=32, index=True)
    apartment: str | None = Field(default=None, max_length=16)
    balance: Decimal = Field(
        default=Decimal("0.00"), sa_column=Column(Numeric(12, 2), nullable=False)
    )
    balance_as_of: date | None = None
    bill_code: str | None = Field(default=None, max_length=16)


class AccountPhone(SQLModel, table=True):
    """A phone number the billing export lists for an account; it links on first contact."""

    __tablename__ = "account_phone"
    __table_args__ = (UniqueConstraint("account_id", "phone"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    phone: str = Field(max_length=16, index=True)


class Resident(SQLModel, table=True):
    """A phone that has texted us; one row per E.164 number."""

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=16, unique=True)
    language: str = Field(default="ru", max_length=2)
    opted_out: bool = False
    opted_out_at: datetime | None = None
    created_at: datetime = _now_field()
    language_chosen_at: datetime | None = None
    """When the resident sent `english` / `русский`: from then on every reply is in
    `language`; until then a command is answered in the language it is written in."""


class AccountLink(SQLModel, table=True):
    """A resident's phone linked to an account: by billing phones or by the bill code."""

    __tablename__ = "account_link"
    __table_args__ = (UniqueConstraint("resident_id", "account_id"),)
    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    source: str = Field(default="billing", max_length=16)
    created_at: datetime = _now_field()


class Conversation(SQLModel, table=True):
    """The thread between one resident and one company, as the inbox shows it."""

    __table_args__ = (UniqueConstraint("company_id", "resident_id"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    status: str = Field(default="open", max_length=16)
    unread: int = 0
    acknowledged: bool = False
    created_at: datetime = _now_field()
    last_message_at: datetime = _now_field()
    assignee_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    """The dispatcher who answers this thread, if one took it."""
    acknowledged_at: datetime | None = None
    """When the bot last told the resident their message was passed on (handlers.chat)."""
    staff_replied_at: datetime | None = None
    """When a dispatcher last sent the resident an SMS: while one is answering, the bot keeps
    quiet."""
    answered_by_notice_id: int | None = None
    """The outage notice (Notice.id) whose facts answered the resident's last question
    (smsbot.interruptions), so the thread waits for nobody. No foreign key: SQLite adds one by
    copying the table (migration 0015), and notices are never deleted."""
    emergency_at: datetime | None = None
    """When the resident's newest unanswered emergency came (smsbot.danger); a reply or
    closing clears it. The inbox pins such threads on top."""
    emergency_kind: str | None = Field(default=None, max_length=16)
    """The danger it spoke of (smsbot.danger.KINDS)."""
    waiting_until: datetime | None = None
    """For a thread "waiting for the resident": the time it comes back by itself, if any."""


FILLED_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_message_resident_id": ("resident_id",),
    "ix_message_company_id": ("company_id",),
    "ix_message_conversation": ("conversation_id", "id"),
    "ix_message_reply_to_id": ("reply_to_id",),
    "ix_message_notice_id": ("notice_id",),
    "ix_message_company_costs": ("company_id", "created_at", "kind", "status", "num_segments"),
}
"""The message table's indexes of the rows whose first column is filled in (migration 0019):
an inbound message is stored without its resident, company and thread, which the worker
adds, and never has a message it replies to or a notice. Every lookup on these columns asks
for a value, which both databases know implies IS NOT NULL, so the index serves it; and the
webhook's INSERT, inside SQLite's one write lock, writes half the pages it did."""


def _filled_index(name: str, *columns: str) -> Index:
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


class Message(SQLModel, table=True):
    """One SMS, inbound or outbound, with its place in the state machine above."""

    __table_args__ = (
        UniqueConstraint("reply_to_id", "reply_key"),
        Index("ix_message_sweep", "direction", "status", "created_at"),
        Index("ix_message_provider_external", "provider", "external_id", unique=True),
        *(_filled_index(name, *columns) for name, columns in FILLED_INDEXES.items()),
    )
    id: int | None = Field(default=None, primary_key=True)
    direction: str = Field(max_length=3)
    status: str = Field(max_length=16)
    kind: str = Field(default=KIND_RESIDENT, max_length=16)
    provider: str | None = Field(default=None, max_length=32)
    """The provider account it came in or goes out through (smsbot.providers)."""
    external_id: str | None = Field(default=None, max_length=64)
    """The provider's id of it (Twilio's SID, SMPP's message_id …): unique per provider."""
    from_phone: str = Field(max_length=16)
    to_phone: str = Field(max_length=16)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    encoding: str | None = Field(default=None, max_length=8)
    num_segments: int | None = None
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    company_id: int | None = Field(default=None, foreign_key="company.id")
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    reply_to_id: int | None = Field(default=None, foreign_key="message.id")
    reply_key: str | None = Field(default=None, max_length=64)
    template: str | None = Field(default=None, max_length=64)
    error_code: int | None = None
    error_message: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_at: datetime | None = None
    params: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _now_field()
    updated_at: datetime = _now_field()
    handled_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    author_id: int | None = Field(default=None, foreign_key="staff_user.id")
    """The staff member who wrote a dispatcher reply or a notice."""
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    """The notice this SMS is one copy of."""


# --- Staff: who signs in to the web inbox --------------------------------------------------------

ROLE_DISPATCHER = "dispatcher"
"""Answers conversations, works tickets and sends notices for one company."""
ROLE_COMPANY_ADMIN = "company_admin"
"""A dispatcher who also manages canned replies and tries the bot as a resident."""
ROLE_INSPECTOR = "inspector"
"""Reads every company's tickets and conversations; changes nothing."""
ROLE_SUPERADMIN = "superadmin"
"""Runs the service: everything, for every company."""

ROLES = (ROLE_DISPATCHER, ROLE_COMPANY_ADMIN, ROLE_INSPECTOR, ROLE_SUPERADMIN)
COMPANY_ROLES = frozenset({ROLE_DISPATCHER, ROLE_COMPANY_ADMIN})
"""Roles bound to exactly one company; the others see all companies."""


class MessageRef(SQLModel, table=True):
    """A further provider id of one message: SMPP gives each part of a long text its own,
    and a delivery receipt may name any of them."""

    __tablename__ = "message_ref"
    __table_args__ = (UniqueConstraint("provider", "ref"),)
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    ref: str = Field(max_length=64)
    message_id: int = Field(foreign_key="message.id", index=True)


class User(SQLModel, table=True):
    """A person who signs in to the web interface (residents never do)."""

    __tablename__ = "staff_user"  # "user" is a reserved word in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    """Lower case; what the person types to sign in."""
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=16)
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    language: str = Field(default="ru", max_length=2)
    active: bool = True
    session_token: str = Field(max_length=32)
    """Part of every session cookie; changing it (new password, deactivation) ends them all."""
    created_at: datetime = _now_field()
    last_sign_in_at: datetime | None = None
    phone: str | None = Field(default=None, max_length=16)
    """E.164 mobile for deadline alerts (dispatchers) and escalations (company admins)."""

    # What Flask-Login asks of a user object (without importing Flask here).
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Id and session token: the session ends when the token changes."""
        return f"{self.id}:{self.session_token}"


class StaffSession(SQLModel, table=True):
    """One signed-in browser: signing out ends this row, so a copied cookie stops working.

    Flask's signed cookie alone cannot be taken back once issued. The cookie carries a
    random session key; only its SHA-256 is stored, so a leaked database row signs nobody in.
    """

    __tablename__ = "staff_session"
    id: str = Field(primary_key=True, max_length=64)
    """SHA-256 (hex) of the key in the cookie."""
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    created_at: datetime = _now_field()
    ended_at: datetime | None = None


class StaffChange(SQLModel, table=True):
    """Who changed which staff account, company or number, and when (the staff audit log)."""

    __tablename__ = "staff_change"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _now_field()
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    action: str = Field(max_length=32)
    target: str = Field(max_length=200)
    """What was changed, as staff read it: a login, a company's slug, a phone number."""


class ConversationNote(SQLModel, table=True):
    """An internal note on a conversation: staff see it, the resident never does."""

    __tablename__ = "conversation_note"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    author_id: int | None = Field(default=None, foreign_key="staff_user.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _now_field()


class CannedReply(SQLModel, table=True):
    """A ready answer a company's dispatchers insert into the reply box."""

    __tablename__ = "canned_reply"
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    title: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _now_field()


class Notice(SQLModel, table=True):
    """One text a company sent to its buildings; each copy is a Message with notice_id."""

    __table_args__ = (Index("ix_notice_outage", "company_id", "outage_until"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    author_id: int | None = Field(default=None, foreign_key="staff_user.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    building_ids: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """JSON list of the buildings it went to; NULL means the whole company."""
    recipients: int = 0
    skipped_opted_out: int = 0
    encoding: str = Field(default="UCS-2", max_length=8)
    segments: int = 1
    """Segments per copy; the notice costs recipients × segments."""
    created_at: datetime = _now_field()
    outage: str | None = Field(default=None, max_length=16)
    """What is off (smsbot.interruptions.KINDS), when the notice announces an outage."""
    outage_until: datetime | None = None
    """Until when it is off: while it lasts, residents who ask get the facts by return."""


# --- Accounts: bill lines and linking attempts -------------------------------------------------


class AccountCharge(SQLModel, table=True):
    """One line of an account's bill: what is owed for one service (smsbot.services) as of
    the account's balance date; negative when overpaid. The lines add up to the balance."""

    __tablename__ = "account_charge"
    __table_args__ = (UniqueConstraint("account_id", "service"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    service: str = Field(max_length=32)
    amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))


class LinkAttempt(SQLModel, table=True):
    """One `привязать` try, kept to lock out a phone (or an account number) that guesses."""

    __tablename__ = "link_attempt"
    __table_args__ = (
        Index("ix_link_attempt_phone", "phone", "created_at"),
        Index("ix_link_attempt_account", "account_number", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=16)
    account_number: str = Field(max_length=32)
    """As typed (digits only), whether or not such an account exists."""
    succeeded: bool = False
    created_at: datetime = _now_field()
    cleared_at: datetime | None = None
    """When a company admin lifted the lock-out this failure was part of; it counts no more."""
    cleared_by_id: int | None = None
    """The staff user who lifted it (a plain id: staff users are never deleted, only barred)."""


class AccountUnlink(SQLModel, table=True):
    """A resident's `отвязать` of an account their phone is on file for: the billing phones
    must not link it again on the next message (a `привязать` with the code does)."""

    __tablename__ = "account_unlink"
    __table_args__ = (UniqueConstraint("resident_id", "account_id"),)
    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = _now_field()


# --- Tickets -------------------------------------------------------------------------------------
#
#   new ──▶ accepted ──▶ in_progress ──▶ done
#    │         │  └──────────────────────▶ done      (fixed on the spot)
#    ├─────────┼──────────▶ in_progress               (started at once: accepted too)
#    └─────────┴──────────▶ rejected     ◀── in_progress
#                                  done ──▶ in_progress (the resident says it is not fixed)
#
# Every change is a TicketEvent (who, when, note). A ticket past its deadline and neither done
# nor rejected is overdue; overdue counts are what the inspectorate judges companies by.

TICKET_NEW = "new"
"""Filed by a resident (or a dispatcher); nobody has taken it yet."""
TICKET_ACCEPTED = "accepted"
"""The dispatch took it into work (ЕДС МО: within 24 hours, emergencies at once)."""
TICKET_IN_PROGRESS = "in_progress"
"""Someone is on it."""
TICKET_DONE = "done"
"""Fixed; the resident may say otherwise and reopen it."""
TICKET_REJECTED = "rejected"
"""Not the company's to fix (inside the flat, a duplicate…); the note says why."""

TICKET_STATES = (TICKET_NEW, TICKET_ACCEPTED, TICKET_IN_PROGRESS, TICKET_DONE, TICKET_REJECTED)
TICKET_OPEN = frozenset({TICKET_NEW, TICKET_ACCEPTED, TICKET_IN_PROGRESS})
"""States that still count towards overdue."""
TICKET_TRANSITIONS = {
    TICKET_NEW: frozenset({TICKET_ACCEPTED, TICKET_IN_PROGRESS, TICKET_REJECTED}),
    TICKET_ACCEPTED: frozenset({TICKET_IN_PROGRESS, TICKET_DONE, TICKET_REJECTED}),
    TICKET_IN_PROGRESS: frozenset({TICKET_DONE, TICKET_REJECTED}),
    TICKET_DONE: frozenset({TICKET_IN_PROGRESS}),
    TICKET_REJECTED: frozenset(),
}
"""The diagram above: the states each state may move to."""

ACTOR_RESIDENT = "resident"
ACTOR_BOT = "bot"
ACTOR_DISPATCHER = "dispatcher"
ACTOR_SYSTEM = "system"
"""Who made a ticket change (TicketEvent.actor)."""


class TicketCounter(SQLModel, table=True):
    """The last ticket number a company gave out; incremented in the filing transaction, so
    concurrent filings queue on this row and numbers never repeat."""

    __tablename__ = "ticket_counter"
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", unique=True)
    last_number: int = 0


class Ticket(SQLModel, table=True):
    """A resident's request (заявка): short per-company number, problem, deadline, state."""

    __table_args__ = (
        UniqueConstraint("company_id", "number"),
        Index("ix_ticket_company_status_deadline", "company_id", "status", "deadline_at"),
        Index("ix_ticket_resident", "resident_id", "id"),
        Index("ix_ticket_clock_deadline", "status", "deadline_at"),
        Index("ix_ticket_clock_warn", "status", "warn_at"),
        Index("ix_ticket_company_filed_day", "company_id", "filed_day"),
        Index("ix_ticket_company_overdue", "company_id", "overdue_at"),
        Index("ix_ticket_updated", "updated_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id")
    number: int
    """What the resident types in `статус 12`; unique within the company."""
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    building_id: int | None = Field(default=None, foreign_key="building.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    """The SMS that filed it."""
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    problem: str = Field(max_length=32)
    """A key of smsbot.categories.PROBLEMS; decides the deadline."""
    category: str = Field(max_length=16, index=True)
    priority: str = Field(max_length=16)
    emergency: bool = False
    danger: str | None = Field(default=None, max_length=16)
    """The danger the resident reported (smsbot.danger.KINDS), when there was one."""
    status: str = Field(default=TICKET_NEW, max_length=16)
    filed_at: datetime = _now_field()
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    done_at: datetime | None = None
    rejected_at: datetime | None = None
    deadline_at: datetime
    """Contain the danger or finish the work by then (smsbot.deadlines)."""
    repair_deadline_at: datetime | None = None
    """After containment, repair by then (floods: 3 days)."""
    updated_at: datetime = _now_field()
    assignee_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    """The dispatcher working the ticket, if one took it (the desk filters by it)."""

    # --- deadlines and the inspector's figures (see smsbot.deadline_clock, smsbot.ticket_stats)
    filed_day: date | None = None
    """The local date (company time zone) it was filed: the day the reports count it on."""
    filed_nonworking: bool = False
    """Filed on a weekend or a Russian public holiday (company time zone)."""
    working_hours: bool = False
    """Its deadline counts working hours only (the company's option; never for emergencies)."""
    warn_at: datetime | None = None
    """When the company is warned the deadline is near (by default 80% of the way)."""
    warned_at: datetime | None = None
    """When that warning went out (None: not yet, or the ticket was closed first)."""
    overdue_at: datetime | None = None
    """The deadline it missed, set once and never cleared: late work stays counted as late."""
    overdue_alerted_at: datetime | None = None
    """When the company was told it is overdue."""
    escalated_at: datetime | None = None
    """When an overdue emergency was escalated to the company admins' phones."""
    first_reply_at: datetime | None = None
    """The first time a person at the company answered the resident (an SMS, not the bot)."""
    first_done_at: datetime | None = None
    """The first time it was marked done (done_at is cleared when the resident reopens it)."""
    confirmed_at: datetime | None = None
    """The resident said ДА: it is fixed."""
    reopened_at: datetime | None = None
    """The last time the resident said НЕТ and it went back into work."""
    reopen_count: int = 0
    rating: int | None = None
    """The resident's last mark, 1–5."""


class TicketEvent(SQLModel, table=True):
    """One entry of a ticket's history: a change of state or a note, by whom and when."""

    __tablename__ = "ticket_event"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = _now_field()
    actor: str = Field(max_length=16)
    """ACTOR_RESIDENT, ACTOR_BOT, ACTOR_DISPATCHER or ACTOR_SYSTEM."""
    user_id: int | None = None
    """The staff member, for dispatcher changes."""
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    """None for a note that changes nothing."""
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    public: bool = True
    """Shown to the resident in `статус` replies."""


class DeadlineOverride(SQLModel, table=True):
    """A company's own deadline for one problem (smsbot.deadlines.DEFAULT_RULES otherwise)."""

    __tablename__ = "deadline_override"
    __table_args__ = (UniqueConstraint("company_id", "problem"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    problem: str = Field(max_length=32)
    minutes: int
    repair_minutes: int | None = None


# --- Meters ----------------------------------------------------------------------------------


class Meter(SQLModel, table=True):
    """A meter of an account, one per kind (smsbot.meter_rules.KINDS)."""

    __table_args__ = (UniqueConstraint("account_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    kind: str = Field(max_length=24)
    serial: str | None = Field(default=None, max_length=32)
    created_at: datetime = _now_field()


class MeterReading(SQLModel, table=True):
    """The reading of a meter for one month; a later reading that month replaces it."""

    __tablename__ = "meter_reading"
    __table_args__ = (UniqueConstraint("meter_id", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id", index=True)
    period: date
    """The first day of the month it counts for."""
    value: Decimal = Field(sa_column=Column(Numeric(14, 3), nullable=False))
    source: str = Field(default="sms", max_length=16)
    """sms, import or demo."""
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    message_id: int | None = Field(default=None, foreign_key="message.id")
    received_at: datetime = _now_field()


# --- Ticket desk: the resident's answer after "done" ---------------------------------------------

KIND_TICKET = "ticket"
"""An SMS telling a resident that a dispatcher moved their ticket on (an outbound kind)."""


class TicketFeedback(SQLModel, table=True):
    """The question sent when a ticket was done, and the resident's answer: solved (ДА) or
    not (НЕТ, which reopens the ticket), then a mark from 1 to 5."""

    __tablename__ = "ticket_feedback"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    asked_at: datetime = _now_field()
    answer: str | None = Field(default=None, max_length=3)
    """yes or no; None while the resident has not answered."""
    answered_at: datetime | None = None
    rating: int | None = None
    """1 to 5, asked for after a yes."""
    rated_at: datetime | None = None


# --- The inspector's rollup (smsbot.ticket_stats) ------------------------------------------------


class TicketTally(SQLModel):
    """What the rollup tables hold for a set of tickets (smsbot.sla.Tally as columns): counts
    and mergeable duration histograms, one company, one kind of day."""

    company_id: int = Field(foreign_key="company.id")
    nonworking: bool = False
    """Ticket.filed_nonworking: a weekend or a Russian public holiday."""
    filed: int = 0
    emergency: int = 0
    decided: int = 0
    """Missed the deadline, or closed within it (smsbot.sla.Tally)."""
    overdue: int = 0
    """Missed the deadline: marked overdue, also when done late, or open past it."""
    accepted: int = 0
    first_reply: int = 0
    done: int = 0
    """Marked done at least once."""
    reopened: int = 0
    """Done at least once and reopened by the resident."""
    rated: int = 0
    rating_sum: int = 0
    accept_hist: str = Field(default="{}", sa_type=Text, nullable=False)
    """smsbot.sla.Histogram as JSON: minutes from filing to acceptance."""
    first_reply_hist: str = Field(default="{}", sa_type=Text, nullable=False)
    finish_hist: str = Field(default="{}", sa_type=Text, nullable=False)
    refreshed_at: datetime = _now_field()


class TicketDay(TicketTally, table=True):
    """One company's tickets filed on one local day, working days and non-working days apart:
    the inspector's pages add these rows up instead of scanning the tickets.
    smsbot.ticket_stats keeps them current as tickets change."""

    __tablename__ = "ticket_day"
    __table_args__ = (UniqueConstraint("company_id", "day", "nonworking"),)
    id: int | None = Field(default=None, primary_key=True)
    day: date
    """Ticket.filed_day."""


class TicketStatsMark(SQLModel, table=True):
    """How far the rollup has read ticket changes (one row): the next refresh looks at tickets
    updated since then, less a few minutes for transactions that committed late."""

    __tablename__ = "ticket_stats_mark"
    id: int | None = Field(default=None, primary_key=True)
    refreshed_to: datetime
    """Ticket changes up to this time are in ticket_day."""


class TicketMonth(TicketTally, table=True):
    """The sums of one company's ticket_day rows of one calendar month and kind of day: a long
    period is read as its whole months from here and only the days at its edges from
    ticket_day (a year is 12 rows per company and kind of day instead of 365).
    smsbot.ticket_stats rewrites a month whenever it rewrites one of its days."""

    __tablename__ = "ticket_month"
    __table_args__ = (UniqueConstraint("company_id", "month", "nonworking"),)
    id: int | None = Field(default=None, primary_key=True)
    month: date
    """The first day of the month (of TicketDay.day)."""


class TicketMonthTotal(TicketTally, table=True):
    """Running totals of ticket_month: one company's sums of every month from its first up to
    and including `month`, per kind of day. A run of months is then two rows however long it
    is: the total at its last month less the total before its first (smsbot.ticket_stats
    rewrites a company's totals from the first month it rewrites)."""

    __tablename__ = "ticket_month_total"
    __table_args__ = (UniqueConstraint("company_id", "month", "nonworking"),)
    id: int | None = Field(default=None, primary_key=True)
    month: date
    """The first day of the last month summed."""


class Label(SQLModel, table=True):
    """A company's own tag for conversations ("счётчики", "ждём мастера")."""

    __table_args__ = (UniqueConstraint("company_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    name: str = Field(max_length=40)
    created_at: datetime = _now_field()


class ConversationLabel(SQLModel, table=True):
    """A label on a conversation (of the same company)."""

    __tablename__ = "conversation_label"
    conversation_id: int = Field(foreign_key="conversation.id", primary_key=True)
    label_id: int = Field(foreign_key="label.id", primary_key=True, index=True)
    company_id: int = Field(foreign_key="company.id")
    """Copied from both sides: so every change tells that company's open pages."""
