"""The inbox: conversations, a thread with delivery states, replies, notes, assignment.

Views are thin: they scope, call smsbot.conversations and render. A reply is stored as a
queued Message in the request's transaction and its send job is queued after the commit,
so the same sender and retry rules as the bot's own replies apply.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlmodel import Session

from smsbot import canned, conversations, resident_side, search, users, waiting
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import Company, Conversation, Resident, User
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
from smsbot.web.i18n import gettext

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every inbox page needs a signed-in user."""


def _view() -> str:
    """The tab; a search looks through every conversation unless a tab was chosen."""
    view = request.args.get("view", "all" if request.args.get("q") else "open")
    return view if view in conversations.INBOX_FILTERS else "open"


def _query() -> search.Query | None:
    return search.parse(request.args.get("q"))


def _label_id() -> int | None:
    raw = request.args.get("label", "")
    return int(raw) if raw.isdigit() else None


def _rows():  # noqa: ANN202
    return conversations.inbox(
        dbs(),
        company_ids=visible_companies(),
        view=_view(),
        user_id=current_user.id,
        search=_query(),
        label_id=_label_id(),
    )


def _labels() -> list:
    """The labels the filter offers: the company's (an all-company view offers none)."""
    companies = visible_companies()
    if not companies or len(companies) != 1:
        return []
    return conversations.labels_for(dbs(), companies[0])


@bp.get("")
def index():  # noqa: ANN201
    query = _query()
    if query is not None and query.explicit_ticket:  # `№548` in the search box opens it
        return redirect(url_for("tickets.index", q=query.raw))
    return render_template(
        "inbox/index.html",
        rows=_rows(),
        view=_view(),
        views=conversations.INBOX_FILTERS,
        q=request.args.get("q", ""),
        labels=_labels(),
        label_id=_label_id(),
        colleagues=[u for c in visible_companies() or [] for u in users.colleagues(dbs(), c)],
        now=utcnow(),
    )


@bp.get("/live")
def index_live():  # noqa: ANN201
    rows = _rows()
    return live(
        {
            "lists": {
                "conversations": live_items(
                    "inbox/_row.html",
                    "row",
                    rows,
                    lambda row: f"c{row.conversation.id}",
                    now=utcnow(),
                )
            },
        }
    )


@bp.get("/alerts/live")
def alerts_live():  # noqa: ANN201
    """The unread count and emergencies alone, for pages that poll nothing else."""
    return live({})


def _thread_context(conversation: Conversation) -> dict:
    session = dbs()
    resident = session.get(Resident, conversation.resident_id)
    thread = conversations.thread(session, conversation)
    return {
        "conversation": conversation,
        "resident": resident,
        "thread": thread,
        "accounts": [
            a
            for a in conversations.accounts_of(session, [resident.id])[resident.id]
            if a.company_id == conversation.company_id
        ],
        "assignee": session.get(User, conversation.assignee_id)
        if conversation.assignee_id
        else None,
        "colleagues": users.colleagues(session, conversation.company_id),
        "canned": canned.for_company(session, conversation.company_id),
        "side": resident_side.of(session, conversation, thread.messages),
        "company": session.get(Company, conversation.company_id),
        "labels": conversations.labels_for(session, conversation.company_id),
        "labelled": {
            label.id
            for label in conversations.labels_of(session, [conversation.id])[conversation.id]
        },
        "now": utcnow(),
        "company_timezone": session.get(Company, conversation.company_id).timezone,
    }


@bp.get("/<int:conversation_id>")
def thread(conversation_id: int):  # noqa: ANN201
    conversation = get_scoped(Conversation, conversation_id)
    if users.can_write(current_user) and conversation.unread:
        with session_scope() as session:  # its own short write; this page's session only reads
            conversations.mark_read(session, conversation.id)
    return render_template("inbox/thread.html", **_thread_context(conversation))


@bp.get("/<int:conversation_id>/live")
def thread_live(conversation_id: int):  # noqa: ANN201
    conversation = get_scoped(Conversation, conversation_id)
    context = _thread_context(conversation)
    return live(
        {
            "lists": {
                "timeline": live_items(
                    "inbox/_item.html", "item", context["thread"].timeline(), _key, **context
                )
            },
            "regions": {"header": render_template("inbox/_header.html", **context)},
            "unread": conversation.unread,
        }
    )


def _key(item) -> str:  # noqa: ANN001
    return f"{'n' if isinstance(item, conversations.ConversationNote) else 'm'}{item.id}"


def conversation_timezone(conversation: Conversation) -> str:
    return dbs().get(Company, conversation.company_id).timezone


def _back(conversation_id: int):  # noqa: ANN202
    return redirect(url_for("inbox.thread", conversation_id=conversation_id))


@bp.post("/<int:conversation_id>/reply")
@require_writer
def reply(conversation_id: int):  # noqa: ANN201
    conversation = get_scoped(Conversation, conversation_id)
    body = request.form.get("body", "")
    if not first_submit():
        return _back(conversation_id)
    try:
        with session_scope() as session:
            conversations.reply(
                session,
                conversation=session.get(Conversation, conversation.id),
                author=current_user,
                body=body,
            )
    except Refused as exc:
        refused(exc)
        return render_thread_again(conversation, body)
    flash(gettext("Reply queued for sending."), "ok")
    return _back(conversation_id)


def render_thread_again(conversation: Conversation, draft: str):  # noqa: ANN201
    """Show the thread with the refused draft still in the box (nothing typed is lost)."""
    return render_template(
        "inbox/thread.html",
        **_thread_context(conversation),
        draft=draft,
    ), 422


def _change(conversation_id: int, change: Callable[[Session, Conversation], object]) -> None:
    """Apply one change to a conversation of the user's companies, in its own transaction."""
    get_scoped(Conversation, conversation_id)
    try:
        with session_scope() as session:
            change(session, session.get(Conversation, conversation_id))
    except Refused as exc:
        refused(exc)


@bp.post("/<int:conversation_id>/note")
@require_writer
def note(conversation_id: int):  # noqa: ANN201
    body = request.form.get("body", "")
    if first_submit():
        _change(
            conversation_id,
            lambda s, c: conversations.add_note(s, conversation=c, author=current_user, body=body),
        )
    return _back(conversation_id)


@bp.post("/<int:conversation_id>/assign")
@require_writer
def assign(conversation_id: int):  # noqa: ANN201
    value = request.form.get("assignee_id", "")
    if value == "me":
        assignee_id = current_user.id
    elif value.isdigit():
        assignee_id = int(value)
    elif value == "":
        assignee_id = None
    else:
        abort(400)
    _change(conversation_id, lambda s, c: conversations.assign(s, c, assignee_id))
    return _back(conversation_id)


@bp.post("/<int:conversation_id>/close")
@require_writer
def close(conversation_id: int):  # noqa: ANN201
    _change(conversation_id, lambda s, c: conversations.set_status(s, c, conversations.CLOSED))
    flash(gettext("Conversation closed."), "ok")
    return _back(conversation_id)


@bp.post("/<int:conversation_id>/reopen")
@require_writer
def reopen(conversation_id: int):  # noqa: ANN201
    _change(conversation_id, lambda s, c: conversations.set_status(s, c, conversations.OPEN))
    flash(gettext("Conversation reopened."), "ok")
    return _back(conversation_id)


@bp.post("/<int:conversation_id>/wait")
@require_writer
def wait(conversation_id: int):  # noqa: ANN201
    """Waiting for the resident: until they write, or until the date chosen passes."""
    conversation = get_scoped(Conversation, conversation_id)
    raw = request.form.get("until", "")
    try:
        until = waiting.until(raw, conversation_timezone(conversation)) if raw else None
    except ValueError:
        abort(400)
    _change(
        conversation_id,
        lambda s, c: conversations.wait_for_resident(s, c, until, utcnow()),
    )
    if until is None:
        flash(gettext("Waiting for the resident: back in the open list when they write."), "ok")
    else:
        flash(gettext("Waiting for the resident: back in the open list when they write, or on {date}.",
                      date=raw), "ok")  # fmt: skip
    return _back(conversation_id)


@bp.post("/<int:conversation_id>/read")
@require_writer
def read(conversation_id: int):  # noqa: ANN201
    """The open page saw new messages arrive: they are read."""
    _change(conversation_id, lambda s, c: conversations.mark_read(s, c.id))
    return "", 204
