"""Notices: a company's text to its buildings, previewed (recipients, segments, total)
before it is sent, then followed copy by copy as the deliveries come in. A notice may say
what is off and until when; an outage longer than the law allows is flagged before sending,
on the notice's page, and by SMS to the company admins."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from smsbot import interruptions, notices, outage_notices
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import Building, Company, Notice, User
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


OUTAGE_NAMES = {
    interruptions.HOT_WATER: "Hot water",
    interruptions.COLD_WATER: "Cold water",
    interruptions.WATER: "Hot and cold water",
    interruptions.HEATING: "Heating",
    interruptions.POWER: "Power",
    interruptions.GAS: "Gas",
    interruptions.LIFT: "Lift",
}
"""What the notice form offers as "what is off"."""


def _outage(company: Company) -> tuple[str | None, datetime | None]:
    """What is off and until when (the form's local time, in the company's zone, as UTC)."""
    kind = request.form.get("outage", "").strip() or None
    raw = request.form.get("outage_until", "").strip()
    if not raw:
        return kind, None
    try:
        local = datetime.fromisoformat(raw)
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZoneInfo(company.timezone))
        return kind, local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Refused("Write when the outage ends as a date and a time.") from None


def _outage_view(
    company: Company, chosen: list[int] | None, kind: str | None, until: datetime | None
) -> dict:
    """What the form and the confirmation show about the outage."""
    local = until.astimezone(ZoneInfo(company.timezone)) if until else None
    return {
        "outage": kind,
        "outage_until": until,
        "outage_until_local": local.strftime("%Y-%m-%dT%H:%M") if local else "",
        "outage_names": OUTAGE_NAMES,
        "overrun": outage_notices.overrun(
            dbs(), company=company, building_ids=chosen, kind=kind, starts=utcnow(), until=until
        ),
    }


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
        outage_names=OUTAGE_NAMES,
    )


@bp.route("/new", methods=["GET", "POST"])
@require_writer
def new():  # noqa: ANN201
    """Write, then confirm: the second step shows what sending costs before anything goes."""
    company = acting_company()
    buildings = notices.buildings(dbs(), company.id)
    body = request.form.get("body", "")
    chosen = _chosen_buildings() if request.method == "POST" else []
    kind, until = None, None
    if request.method == "POST" and request.form.get("step") == "edit":
        # "Change" on the confirmation: back to the form, filled in as it was sent.
        with suppress(Refused):  # checked before the confirmation; a tampered copy starts blank
            kind, until = _outage(company)
        return render_template(
            "notices/new.html",
            company=company,
            buildings=buildings,
            chosen=chosen,
            body=body,
            **_outage_view(company, chosen, kind, until),
        )
    if request.method == "POST":
        try:
            kind, until = _outage(company)
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
                        outage=kind,
                        outage_until=until,
                    )
                flash(gettext("The notice is being sent."), "ok")
                if outage_notices.overrun_of(dbs(), notice) is not None:
                    flash(gettext("The outage is longer than the law allows; the company admins were told by SMS."), "error")  # fmt: skip
                return redirect(url_for("notices.show", notice_id=notice.id))
            outage_notices.check(kind, until, utcnow())
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
                **_outage_view(company, chosen, kind, until),
            )
        except Refused as exc:
            refused(exc)
    return render_template(
        "notices/new.html",
        company=company,
        buildings=buildings,
        chosen=chosen,
        body=body,
        **_outage_view(company, chosen, kind, until),
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
        "outage_names": OUTAGE_NAMES,
        "overrun": outage_notices.overrun_of(session, notice),
        "outage_active": bool(notice.outage_until and notice.outage_until > utcnow()),
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


@bp.post("/<int:notice_id>/outage-over")
@require_writer
def outage_over(notice_id: int):  # noqa: ANN201
    """The service is back before the announced time: stop answering that it is off."""
    get_scoped(Notice, notice_id)
    try:
        with session_scope() as session:
            outage_notices.end_outage(session, session.get(Notice, notice_id), utcnow())
        flash(gettext("The outage is over: residents who ask now go to the dispatcher."), "ok")
    except Refused as exc:
        refused(exc)
    return redirect(url_for("notices.show", notice_id=notice_id))
