"""The ticket desk: filtered, searchable, paged list with deadline countdowns, a ticket's
page with its full history, status changes that tell the resident, assignment and notes.

A ticket's address is the number the resident knows (`/tickets/548`, as in `статус 548`).
Numbers are per company, so a user who sees several companies gets `?company=` on the links
(`ticket_url`). Links from before numbers, `/tickets/<internal id>`, still open their ticket
when no ticket of the user's companies has that number: they redirect to the number. (Both
share one path, so an old id that is also a current number opens the numbered ticket: the
number is what people type and say.)
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from smsbot import categories, resident_side, search, ticket_desk, tickets, users
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import (
    KIND_RESIDENT,
    TICKET_STATES,
    TICKET_TRANSITIONS,
    Building,
    Conversation,
    Message,
    Ticket,
)
from smsbot.web.common import (
    dbs,
    first_submit,
    get_scoped,
    live,
    live_items,
    refused,
    require_writer,
    visible_companies,
)
from smsbot.web.deadline_settings import PROBLEM_NAMES
from smsbot.web.i18n import gettext
from smsbot.web.inbox import _signed_in

bp = Blueprint("tickets", __name__, url_prefix="/tickets")
bp.before_request(_signed_in)


def _filters() -> ticket_desk.Filters:
    args = request.args
    status = args.get("status", "open")
    building = args.get("building", "")
    return ticket_desk.Filters(
        status=status if status in ticket_desk.DESK_STATUSES else "open",
        category=args.get("category") if args.get("category") in categories.CATEGORIES else None,
        building_id=int(building) if building.isdigit() else None,
        assignee=args.get("assignee") or None,
    )


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 10**6 else 1


def _rows(filters: ticket_desk.Filters) -> ticket_desk.DeskPage:
    return ticket_desk.desk(
        dbs(),
        company_ids=visible_companies(),
        filters=filters,
        user_id=current_user.id,
        now=utcnow(),
        query=search.parse(request.args.get("q")),
        page=_page_number(),
    )


def _choices() -> dict:
    """What the filters offer: the visible companies' buildings and staff."""
    companies = visible_companies()
    buildings = select(Building).order_by(Building.address)
    if companies is not None:
        buildings = buildings.where(Building.company_id.in_(companies))
    people = [u for c in (companies or []) for u in users.colleagues(dbs(), c)]
    return {
        "buildings": list(dbs().exec(buildings)),
        "people": people,
        "categories": categories.CATEGORIES,
    }


def _numbered(number: int) -> list[Ticket]:
    """Tickets with this number among the user's companies (one, unless they see several)."""
    query = select(Ticket).where(Ticket.number == number)
    companies = visible_companies()
    company = request.args.get("company", "")
    if company.isdigit() and (companies is None or int(company) in companies):
        companies = [int(company)]
    if companies is not None:
        query = query.where(Ticket.company_id.in_(companies))
    return list(dbs().exec(query.limit(20)))


def ticket_url(ticket: Ticket, endpoint: str = "tickets.show", **more: object) -> str:
    """A ticket's address by its number, naming the company only for a user who sees several."""
    companies = visible_companies()
    if companies is None or len(companies) > 1:
        more["company"] = ticket.company_id
    return url_for(endpoint, number=ticket.number, **more)


bp.add_app_template_global(ticket_url)


@bp.get("")
def index():  # noqa: ANN201
    query = search.parse(request.args.get("q"))
    if query is not None and query.ticket_number is not None and not request.args.get("page"):
        found = _numbered(query.ticket_number)
        if len(found) == 1 and (query.explicit_ticket or not query.digits or len(query.digits) < 5):
            return redirect(ticket_url(found[0]))  # the search box jumps straight to a number
    filters = _filters()
    desk = _rows(filters)
    return render_template(
        "tickets/index.html",
        desk=desk,
        rows=desk.rows,
        filters=filters,
        q=request.args.get("q", ""),
        statuses=ticket_desk.DESK_STATUSES,
        counts=ticket_desk.status_counts(dbs(), visible_companies(), utcnow()),
        overdue=ticket_desk.overdue_count(dbs(), visible_companies(), utcnow()),
        **_choices(),
    )


@bp.get("/live")
def index_live():  # noqa: ANN201
    desk = _rows(_filters())
    return live(
        {
            "lists": {
                "tickets": live_items(
                    "tickets/_row.html", "row", desk.rows, lambda row: f"t{row.ticket.id}"
                )
            },
            "regions": {
                "overdue": str(ticket_desk.overdue_count(dbs(), visible_companies(), utcnow())),
                "pager": render_template("tickets/_pages.html", desk=desk),
            },
        }
    )


def _context(ticket: Ticket) -> dict:
    view = ticket_desk.page(dbs(), ticket)
    return {
        "view": view,
        "ticket": ticket,
        "overdue": tickets.is_overdue(ticket, utcnow()),
        "next_states": sorted(TICKET_TRANSITIONS.get(ticket.status, ()), key=TICKET_STATES.index),
        "people": users.colleagues(dbs(), ticket.company_id),
    }


def _ticket(number: int) -> Ticket:
    """The ticket with this number; 404 when the user's companies have none, and the list
    of them when they see several companies that each have one."""
    found = _numbered(number)
    if len(found) > 1:
        abort(redirect(url_for("tickets.index", q=f"№{number}", status="all")))
    if not found:
        abort(404)
    return found[0]


@bp.get("/<int:number>")
def show(number: int):  # noqa: ANN201
    found = _numbered(number)
    if not found:  # a link from before numbers: /tickets/<internal id>
        old = dbs().get(Ticket, number)
        if old is not None and users.in_scope(current_user, old.company_id):
            return redirect(ticket_url(old), 301)
    return render_template("tickets/show.html", **_context(_ticket(number)))


@bp.get("/<int:number>/live")
def show_live(number: int):  # noqa: ANN201
    context = _context(_ticket(number))
    return live(
        {
            "regions": {
                "summary": render_template("tickets/_summary.html", **context),
                "actions": render_template("tickets/_actions.html", **context),
            },
            "lists": {
                "history": live_items(
                    "tickets/_event.html",
                    "event",
                    context["view"].history,
                    lambda e: f"e{e.id}",
                    **context,
                )
            },
        }
    )


def _back(ticket: Ticket):  # noqa: ANN202
    return redirect(ticket_url(ticket))


@bp.post("/<int:number>/status")
@require_writer
def change_status(number: int):  # noqa: ANN201
    ticket = _ticket(number)
    to_status = request.form.get("to", "")
    if to_status not in ticket_desk.STATUS_TEMPLATES:
        abort(400)
    try:
        with session_scope() as session:
            sms = ticket_desk.change_status(
                session,
                session.get(Ticket, ticket.id),
                to_status,
                user=current_user,
                note=request.form.get("note"),
                now=utcnow(),
            )
    except Refused as exc:
        refused(exc)
        return _back(ticket)
    if sms is not None:
        flash(gettext("Status changed; the resident is told by SMS."), "ok")
    else:
        flash(
            gettext(
                "Status changed. The resident was not told: no phone, or they opted out of SMS."
            ),
            "info",
        )
    return _back(ticket)


@bp.post("/<int:number>/assign")
@require_writer
def assign(number: int):  # noqa: ANN201
    ticket = _ticket(number)
    value = request.form.get("assignee_id", "")
    assignee_id = current_user.id if value == "me" else int(value) if value.isdigit() else None
    try:
        with session_scope() as session:
            ticket_desk.assign(session, session.get(Ticket, ticket.id), assignee_id)
    except Refused as exc:
        refused(exc)
    return _back(ticket)


@bp.post("/<int:number>/note")
@require_writer
def note(number: int):  # noqa: ANN201
    ticket = _ticket(number)
    try:
        with session_scope() as session:
            ticket_desk.add_note(
                session,
                session.get(Ticket, ticket.id),
                user=current_user,
                note=request.form.get("note", ""),
                now=utcnow(),
            )
    except Refused as exc:
        refused(exc)
    return _back(ticket)


def _resident_message(value: str) -> Message:
    """A resident's SMS of the user's companies, which a ticket can be made from; else 404."""
    if not value.isdigit():
        abort(404)
    message = get_scoped(Message, int(value))
    if message.kind != KIND_RESIDENT or message.conversation_id is None:
        abort(404)
    return message


@bp.get("/new")
@require_writer
def new():  # noqa: ANN201
    """The form for a ticket from a resident's SMS, its problem pre-filled by the guess."""
    if not request.args.get("message"):  # tickets are made from a message in the inbox
        return redirect(url_for("inbox.index"))
    message = _resident_message(request.args.get("message", ""))
    filed = ticket_desk.ticket_of_message(dbs(), message.id)
    if filed is not None:
        return redirect(ticket_url(filed))
    conversation = dbs().get(Conversation, message.conversation_id)
    side = resident_side.of(dbs(), conversation, [message])
    return render_template(
        "tickets/new.html",
        message=message,
        conversation=conversation,
        accounts=side.accounts,
        guess=side.guesses[message.id],
        problems=categories.PROBLEMS,
        problem_names=PROBLEM_NAMES,
    )


@bp.post("/new")
@require_writer
def create():  # noqa: ANN201
    message = _resident_message(request.form.get("message_id", ""))
    account = request.form.get("account_id", "")
    if not first_submit():  # a double click: the first one filed it
        filed = ticket_desk.ticket_of_message(dbs(), message.id)
        return redirect(ticket_url(filed) if filed else url_for("tickets.new", message=message.id))
    try:
        with session_scope() as session:
            ticket, told = ticket_desk.file_from_message(
                session,
                session.get(Message, message.id),
                user=current_user,
                problem_key=request.form.get("problem", ""),
                text=request.form.get("text", ""),
                account_id=int(account) if account.isdigit() else None,
                now=utcnow(),
            )
    except Refused as exc:
        refused(exc)
        return redirect(url_for("tickets.new", message=message.id))
    if told is not None:
        flash(
            gettext("Ticket №{number} filed; the resident is told by SMS.", number=ticket.number),
            "ok",
        )
    else:
        flash(gettext("Ticket №{number} filed.", number=ticket.number), "ok")
    return redirect(ticket_url(ticket))
