"""The ticket desk: filtered list with deadline countdowns, a ticket's page with its full
history, status changes that tell the resident, assignment and notes."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from smsbot import categories, ticket_desk, tickets, users
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import TICKET_STATES, TICKET_TRANSITIONS, Building, Ticket
from smsbot.web.common import (
    dbs,
    get_scoped,
    live,
    live_items,
    refused,
    require_writer,
    visible_companies,
)
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


def _rows(filters: ticket_desk.Filters):  # noqa: ANN202
    return ticket_desk.desk(
        dbs(),
        company_ids=visible_companies(),
        filters=filters,
        user_id=current_user.id,
        now=utcnow(),
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


@bp.get("")
def index():  # noqa: ANN201
    filters = _filters()
    return render_template(
        "tickets/index.html",
        rows=_rows(filters),
        filters=filters,
        statuses=ticket_desk.DESK_STATUSES,
        overdue=ticket_desk.overdue_count(dbs(), visible_companies(), utcnow()),
        **_choices(),
    )


@bp.get("/live")
def index_live():  # noqa: ANN201
    rows = _rows(_filters())
    return live(
        {
            "lists": {
                "tickets": live_items(
                    "tickets/_row.html", "row", rows, lambda row: f"t{row.ticket.id}"
                )
            },
            "regions": {
                "overdue": str(ticket_desk.overdue_count(dbs(), visible_companies(), utcnow()))
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


@bp.get("/<int:ticket_id>")
def show(ticket_id: int):  # noqa: ANN201
    return render_template("tickets/show.html", **_context(get_scoped(Ticket, ticket_id)))


@bp.get("/<int:ticket_id>/live")
def show_live(ticket_id: int):  # noqa: ANN201
    context = _context(get_scoped(Ticket, ticket_id))
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


def _back(ticket_id: int):  # noqa: ANN202
    return redirect(url_for("tickets.show", ticket_id=ticket_id))


@bp.post("/<int:ticket_id>/status")
@require_writer
def change_status(ticket_id: int):  # noqa: ANN201
    get_scoped(Ticket, ticket_id)
    to_status = request.form.get("to", "")
    if to_status not in ticket_desk.STATUS_TEMPLATES:
        abort(400)
    try:
        with session_scope() as session:
            sms = ticket_desk.change_status(
                session,
                session.get(Ticket, ticket_id),
                to_status,
                user=current_user,
                note=request.form.get("note"),
                now=utcnow(),
            )
    except Refused as exc:
        refused(exc)
        return _back(ticket_id)
    if sms is not None:
        flash(gettext("Status changed; the resident is told by SMS."), "ok")
    else:
        flash(
            gettext(
                "Status changed. The resident was not told: no phone, or they opted out of SMS."
            ),
            "info",
        )
    return _back(ticket_id)


@bp.post("/<int:ticket_id>/assign")
@require_writer
def assign(ticket_id: int):  # noqa: ANN201
    get_scoped(Ticket, ticket_id)
    value = request.form.get("assignee_id", "")
    assignee_id = current_user.id if value == "me" else int(value) if value.isdigit() else None
    try:
        with session_scope() as session:
            ticket_desk.assign(session, session.get(Ticket, ticket_id), assignee_id)
    except Refused as exc:
        refused(exc)
    return _back(ticket_id)


@bp.post("/<int:ticket_id>/note")
@require_writer
def note(ticket_id: int):  # noqa: ANN201
    get_scoped(Ticket, ticket_id)
    try:
        with session_scope() as session:
            ticket_desk.add_note(
                session,
                session.get(Ticket, ticket_id),
                user=current_user,
                note=request.form.get("note", ""),
                now=utcnow(),
            )
    except Refused as exc:
        refused(exc)
    return _back(ticket_id)
