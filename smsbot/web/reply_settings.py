"""The company admin's replies page: what the company's SMS cost in segments over the last
30 days, and the switch to transliterated (Latin, GSM-7) bot replies that cuts that cost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, url_for

from smsbot import reply_costs, templates
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.models import Company
from smsbot.web.common import acting_company, dbs, require_admin
from smsbot.web.i18n import gettext
from smsbot.web.inbox import _signed_in

bp = Blueprint("reply_settings", __name__, url_prefix="/settings/replies")
bp.before_request(_signed_in)


def _example(translit: bool) -> templates.Rendered:
    """A balance reply both ways, so the admin sees what residents would get and its cost."""
    return templates.render(
        "balance",
        "ru",
        translit=translit,
        account={"tail": "5678", "apartment": "148"},
        balance=Decimal("3450.20"),
        as_of=date(2026, 11, 1),
    )


@bp.get("")
@require_admin
def index():  # noqa: ANN201
    company = acting_company()
    return render_template(
        "settings/replies.html",
        company=company,
        costs=reply_costs.costs(dbs(), company.id, utcnow()),
        days=reply_costs.WINDOW.days,
        cyrillic=_example(False),
        latin=_example(True),
    )


@bp.post("")
@require_admin
def save():  # noqa: ANN201
    company = acting_company()
    with session_scope() as session:
        reply_costs.set_transliterate(
            session, session.get(Company, company.id), request.form.get("transliterate") == "on"
        )
    flash(gettext("Saved. Replies from now on follow this choice."), "ok")
    return redirect(url_for("reply_settings.index"))
