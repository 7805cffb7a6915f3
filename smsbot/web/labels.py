"""Labels: a company's own tags for conversations, made, put on and taken off by its staff.

Each label belongs to one company; a conversation carries only its own company's labels,
and the inbox filters by one (smsbot.conversations).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from smsbot import conversations
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import Conversation, Label
from smsbot.web.common import acting_company, dbs, get_scoped, refused, require_writer
from smsbot.web.i18n import gettext
from smsbot.web.inbox import _signed_in

bp = Blueprint("labels", __name__, url_prefix="/inbox/labels")
bp.before_request(_signed_in)


@bp.get("")
def index():  # noqa: ANN201
    company = acting_company()
    return render_template(
        "inbox/labels.html", company=company, labels=conversations.labels_for(dbs(), company.id)
    )


@bp.post("")
@require_writer
def create():  # noqa: ANN201
    company = acting_company()
    try:
        with session_scope() as session:
            conversations.create_label(session, company.id, request.form.get("name", ""))
    except Refused as exc:
        refused(exc)
    else:
        flash(gettext("Label added."), "ok")
    return redirect(url_for("labels.index"))


@bp.post("/<int:label_id>/delete")
@require_writer
def delete(label_id: int):  # noqa: ANN201
    get_scoped(Label, label_id)
    with session_scope() as session:
        conversations.delete_label(session, session.get(Label, label_id))
    flash(gettext("Label deleted."), "ok")
    return redirect(url_for("labels.index"))


@bp.post("/on/<int:conversation_id>")
@require_writer
def put_on(conversation_id: int):  # noqa: ANN201
    """The conversation carries exactly the labels ticked on its page."""
    get_scoped(Conversation, conversation_id)
    raw = request.form.getlist("label_id")
    try:
        if not all(v.isdigit() for v in raw):
            raise Refused("Only the company's own labels can be used.")
        with session_scope() as session:
            conversations.set_labels(
                session, session.get(Conversation, conversation_id), [int(v) for v in raw]
            )
    except Refused as exc:
        refused(exc)
    return redirect(url_for("inbox.thread", conversation_id=conversation_id))
