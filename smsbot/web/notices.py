"""Notices: a company's text to its buildings, previewed (recipients, segments, total)
before it is sent, then followed copy by copy as the deliveries come in."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from smsbot import notices
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import Building, Notice, User
from smsbot.web.common import (
    acting_company,
    dbs,
    first_submit,
    get_scoped,
    live,
    refused,
    require_writer,
    visible_companies,
)
from smsbot.web.i18n import gettext
from smsbot.web.inbox import _signed_in

bp = Blueprint("notices", __name__, url_prefix="/notices")
bp.before_request(_signed_in)


def _chosen_buildings() -> list[int] | None:
    """None for the whole company, else the ticked buildings."""
    if request.values.get("audience", "buildings") == "company":
        return None
    return [int(v) for v in request.values.getlist("building") if v.isdigit()]


@bp.get("")
def index():  # noqa: ANN201
    found = notices.recent(dbs(), visible_companies())
    return render_template(
        "notices/index.html",
        notices=found,
        progress={n.id: notices.progress(dbs(), n.id) for n in found},
    )


@bp.route("/new", methods=["GET", "POST"])
@require_writer
def new():  # noqa: ANN201
    """Write, then confirm: the second step shows what sending costs before anything goes."""
    company = acting_company()
    buildings = notices.buildings(dbs(), company.id)
    body = request.form.get("body", "")
    chosen = _chosen_buildings() if request.method == "POST" else []
    if request.method == "POST" and request.form.get("step") == "edit":
        # "Change" on the confirmation: back to the form, filled in as it was sent.
        return render_template(
            "notices/new.html", company=company, buildings=buildings, chosen=chosen, body=body
        )
    if request.method == "POST":
        try:
            if request.form.get("step") == "send":
                if not first_submit():
                    return redirect(url_for("notices.index"))
                with session_scope() as session:
                    notice = notices.create(
                        session,
                        company_id=company.id,
                        author_id=current_user.id,
                        building_ids=chosen,
                        body=body,
                    )
                flash(gettext("The notice is being sent."), "ok")
                return redirect(url_for("notices.show", notice_id=notice.id))
            preview = notices.preview(dbs(), company.id, chosen, body)
            if not preview.characters:
                raise Refused("Write the notice first.")
            if not preview.recipients:
                raise Refused("Nobody to send to: no phones are known for these buildings.")
            return render_template(
                "notices/confirm.html",
                company=company,
                buildings=buildings,
                chosen=chosen,
                body=body,
                preview=preview,
            )
        except Refused as exc:
            refused(exc)
    return render_template(
        "notices/new.html", company=company, buildings=buildings, chosen=chosen, body=body
    ), (422 if request.method == "POST" else 200)


@bp.get("/audience")
@require_writer
def audience():  # noqa: ANN201
    """How many phones the ticked buildings reach (the form asks as boxes are ticked)."""
    company = acting_company()
    try:
        who = notices.audience(dbs(), company.id, _chosen_buildings())
    except Refused:
        return jsonify({"recipients": 0, "opted_out": 0})
    return jsonify({"recipients": len(who.phones), "opted_out": who.opted_out})


def _notice_context(notice: Notice) -> dict:
    session = dbs()
    ids = notices.building_ids_of(notice)
    addresses = None
    if ids is not None:
        addresses = list(
            session.exec(
                select(Building.address).where(Building.id.in_(ids)).order_by(Building.address)
            )
        )
    return {
        "notice": notice,
        "addresses": addresses,
        "progress": notices.progress(session, notice.id),
        "author": session.get(User, notice.author_id) if notice.author_id else None,
    }


@bp.get("/<int:notice_id>")
def show(notice_id: int):  # noqa: ANN201
    return render_template("notices/show.html", **_notice_context(get_scoped(Notice, notice_id)))


@bp.get("/<int:notice_id>/live")
def show_live(notice_id: int):  # noqa: ANN201
    context = _notice_context(get_scoped(Notice, notice_id))
    return live({"regions": {"progress": render_template("notices/_progress.html", **context)}})
