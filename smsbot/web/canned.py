"""Canned replies: a company admin keeps the answers dispatchers insert with one click."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import delete as sa_delete

from smsbot import canned
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import CannedReply
from smsbot.web.common import acting_company, dbs, get_scoped, refused, require_admin
from smsbot.web.i18n import gettext
from smsbot.web.inbox import _signed_in

bp = Blueprint("canned", __name__, url_prefix="/canned")
bp.before_request(_signed_in)


@bp.get("")
@require_admin
def index():  # noqa: ANN201
    company = acting_company()
    return render_template(
        "canned/index.html", company=company, replies=canned.for_company(dbs(), company.id)
    )


@bp.post("")
@require_admin
def add():  # noqa: ANN201
    company = acting_company()
    title, body = request.form.get("title", ""), request.form.get("body", "")
    try:
        with session_scope() as session:
            canned.add(session, company_id=company.id, title=title, body=body)
        flash(gettext("Canned reply saved."), "ok")
    except Refused as exc:
        refused(exc)
    return redirect(url_for("canned.index"))


@bp.post("/<int:canned_id>/delete")
@require_admin
def delete(canned_id: int):  # noqa: ANN201
    get_scoped(CannedReply, canned_id)
    with session_scope() as session:
        session.execute(sa_delete(CannedReply).where(CannedReply.id == canned_id))
    flash(gettext("Canned reply deleted."), "ok")
    return redirect(url_for("canned.index"))
