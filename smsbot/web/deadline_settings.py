"""The company admin's deadline page: count routine deadlines in working hours or not, when
to be warned, and the company's own deadline for each problem."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from smsbot import abuse, daily_cap, deadline_settings
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import Company
from smsbot.web.common import acting_company, dbs, refused, require_admin
from smsbot.web.i18n import gettext
from smsbot.web.inbox import _signed_in

bp = Blueprint("deadline_settings", __name__, url_prefix="/settings/deadlines")
bp.before_request(_signed_in)

PROBLEM_NAMES = {
    "gas_smell": "Gas smell",
    "fire": "Fire, smoke",
    "lift_stuck": "Person stuck in a lift",
    "flood": "Burst pipe, flooding",
    "sparking": "Sparking wires",
    "power_out": "No power in the building or a riser",
    "heating_out": "No heating in winter",
    "sewer_blockage": "Sewer blockage",
    "chute_blockage": "Rubbish-chute blockage",
    "roof_leak": "Roof leak",
    "lift_stopped": "Lift stopped, nobody inside",
    "door_lock": "Entrance door, locks",
    "broken_glass": "Broken stairwell glass",
    "common_tap_leak": "Leaking tap in common areas",
    "stair_lighting": "Stairwell lighting",
    "roof_facade": "Gutters, falling plaster",
    "no_water": "No water",
    "heating_fault": "Heating fault",
    "plumbing": "Plumbing, other",
    "electrical": "Electrical, other",
    "intercom": "Intercom",
    "waste": "Rubbish removal",
    "cleaning": "Cleaning",
    "other": "Other",
}
"""Problems (smsbot.categories.PROBLEMS) as staff read them (English ids, translated)."""


def _int(name: str, default: int) -> int:
    value = request.form.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise Refused("Whole numbers only.")
    return int(value)


@bp.get("")
@require_admin
def index():  # noqa: ANN201
    company = acting_company()
    return render_template(
        "settings/deadlines.html",
        company=company,
        rules=deadline_settings.rules(dbs(), company),
        problem_names=PROBLEM_NAMES,
        used=daily_cap.used_today(company, utcnow()),
        held=daily_cap.held_counts(dbs(), company.id).get(company.id, 0),
    )


@bp.post("/limits")
@require_admin
def limits():  # noqa: ANN201
    """The company's limits on the bot (smsbot.abuse); a raised cap releases held replies at
    the next sweep."""
    company = acting_company()
    try:
        values = abuse.validate(
            {name: _int(name, getattr(company, name)) for name in abuse.LIMIT_RANGES}
        )
    except ValueError:
        refused(Refused("A limit is out of range."))
    except Refused as exc:
        refused(exc)
    else:
        with session_scope() as session:
            own = session.get(Company, company.id)
            for name, value in values.items():
                setattr(own, name, value)
            session.add(own)
        flash(gettext("Saved."), "ok")
    return redirect(url_for("deadline_settings.index"))


@bp.post("/options")
@require_admin
def options():  # noqa: ANN201
    company = acting_company()
    try:
        with session_scope() as session:
            deadline_settings.set_options(
                session,
                session.get(Company, company.id),
                working_hours=request.form.get("working_hours") == "on",
                workday_start=_int("workday_start", company.workday_start),
                workday_end=_int("workday_end", company.workday_end),
                warn_percent=_int("warn_percent", company.warn_percent),
            )
        flash(gettext("Saved. New tickets get these deadlines; filed ones keep theirs."), "ok")
    except Refused as exc:
        refused(exc)
    return redirect(url_for("deadline_settings.index"))


@bp.post("/override")
@require_admin
def override():  # noqa: ANN201
    """The company's own deadline for one problem (the form names it: no ids in the path,
    it always acts on the admin's own company)."""
    company = acting_company()
    problem = request.form.get("problem", "")
    try:
        minutes = (
            None
            if "reset" in request.form
            else deadline_settings.parse_duration(request.form.get("duration", ""))
        )
        with session_scope() as session:
            deadline_settings.set_override(
                session, session.get(Company, company.id), problem, minutes
            )
        flash(gettext("Saved. New tickets get these deadlines; filed ones keep theirs."), "ok")
    except Refused as exc:
        refused(exc)
    return redirect(url_for("deadline_settings.index"))
