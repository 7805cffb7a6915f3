"""Bulk work: close or assign many conversations or tickets at once from their lists.

One transaction per action: every row named must be of the user's companies (else 404 and
nothing changes, as for a single row), and a refusal (an assignee of another company, say)
changes nothing either, so a bulk action is never half done.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request
from flask_login import current_user
from sqlmodel import Session, select

from smsbot import conversations, ticket_desk, users
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import TICKET_DONE, TICKET_TRANSITIONS, Conversation, Ticket
from smsbot.web.auth import _safe_next
from smsbot.web.common import refused, require_writer
from smsbot.web.i18n import gettext, ngettext
from smsbot.web.inbox import _signed_in

bp = Blueprint("bulk", __name__)
bp.before_request(_signed_in)


def _asked(actions: tuple[str, ...]) -> tuple[list[int], str, int | None]:
    """The rows ticked, the action (one of `actions`, else 400) and, to assign, to whom."""
    raw, action = request.form.getlist("ids"), request.form.get("action")
    if action not in actions or len(raw) > conversations.BULK_LIMIT:
        abort(400)
    if not all(v.isdigit() for v in raw):
        abort(400)
    value = request.form.get("assignee_id", "")
    if action != "assign" or value == "":
        assignee_id = None
    elif value == "me":
        assignee_id = current_user.id
    elif value.isdigit():
        assignee_id = int(value)
    else:
        abort(400)
    return sorted({int(v) for v in raw}), action, assignee_id


def _scoped(session: Session, model: type, ids: list[int]) -> list:
    """The rows, locked for this transaction; 404 unless every one is the user's to see."""
    rows = list(session.exec(select(model).where(model.id.in_(ids)).with_for_update()))
    if len(rows) != len(ids) or not all(users.in_scope(current_user, r.company_id) for r in rows):
        abort(404)
    return rows


def _back():  # noqa: ANN202
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/inbox/bulk")
@require_writer
def inbox():  # noqa: ANN201
    ids, action, assignee_id = _asked(("close", "assign"))
    if not ids:
        flash(gettext("Tick the conversations first."), "error")
        return _back()
    try:
        with session_scope() as session:
            for conversation in _scoped(session, Conversation, ids):
                if action == "close":
                    conversations.set_status(session, conversation, conversations.CLOSED)
                else:
                    conversations.assign(session, conversation, assignee_id)
    except Refused as exc:
        refused(exc)
        return _back()
    done = "{n} conversation closed." if action == "close" else "{n} conversation assigned."
    plural = "{n} conversations closed." if action == "close" else "{n} conversations assigned."
    flash(ngettext(len(ids), done, plural), "ok")
    return _back()


@bp.post("/tickets/bulk")
@require_writer
def tickets():  # noqa: ANN201
    ids, action, assignee_id = _asked(("done", "assign"))
    if not ids:
        flash(gettext("Tick the tickets first."), "error")
        return _back()
    now, skipped = utcnow(), 0
    try:
        with session_scope() as session:
            for ticket in _scoped(session, Ticket, ids):
                if action == "assign":
                    ticket_desk.assign(session, ticket, assignee_id)
                elif TICKET_DONE in TICKET_TRANSITIONS.get(ticket.status, ()):
                    ticket_desk.change_status(
                        session, ticket, TICKET_DONE, user=current_user, note=None, now=now
                    )
                else:
                    skipped += 1
    except Refused as exc:
        refused(exc)
        return _back()
    changed = len(ids) - skipped
    if action == "assign":
        flash(ngettext(changed, "{n} ticket assigned.", "{n} tickets assigned."), "ok")
    else:
        flash(ngettext(changed, "{n} ticket completed; residents are told by SMS.",
                       "{n} tickets completed; residents are told by SMS."), "ok")  # fmt: skip
    if skipped:
        flash(ngettext(skipped, "{n} ticket was left as it is: a new or finished ticket cannot be completed.",
                       "{n} tickets were left as they are: a new or finished ticket cannot be completed."),
              "info")  # fmt: skip
    return _back()
