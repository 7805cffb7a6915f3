"""The staff web interface: sign-in, inbox, tickets, notices, the resident phone.

`init_app` wires it into the app create_app builds: CSRF on every form (providers' webhooks
are not served by this app: see smsbot.web.webhooks), Flask-Login, security headers, the
templates' helpers and the blueprints.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from smsbot import conversations, danger, ticket_desk, users
from smsbot.models import ConversationNote
from smsbot.web import auth, common, live, security
from smsbot.web.i18n import LANGUAGES, current_language, decimal, gettext, ngettext

HERE = Path(__file__).resolve().parent
ui = Blueprint(
    "ui",
    __name__,
    static_folder="static",
    static_url_path="/ui/static",
    template_folder="templates",
)
csrf = CSRFProtect()

DEFAULT_TIMEZONE = "Europe/Moscow"

ROLE_NAMES = {
    "dispatcher": "dispatcher",
    "company_admin": "company admin",
    "inspector": "inspector",
    "superadmin": "superadmin",
}
STATUS_NAMES = {
    "queued": "queued",
    "sending": "sending",
    "accepted": "accepted by the provider",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "not delivered",
    "failed": "failed",
    "canceled": "canceled",
    "held": "held",
    "received": "received",
    "handled": "handled",
}
"""Outbound (and inbound) message states as staff read them (English ids, translated)."""
TICKET_STATUS_NAMES = {
    "new": "new",
    "accepted": "accepted",
    "in_progress": "in progress",
    "done": "completed",
    "rejected": "rejected",
}
DESK_STATUS_NAMES = {
    **TICKET_STATUS_NAMES,
    "open": "Open tickets",
    "overdue": "Overdue",
    "all": "All tickets",
}
TRANSITION_NAMES = {
    "accepted": "Accept",
    "in_progress": "Start work",
    "done": "Done",
    "rejected": "Reject",
}
CATEGORY_NAMES = {
    "plumbing": "Plumbing",
    "electrical": "Electrical",
    "heating": "Heating",
    "lift": "Lift",
    "cleaning": "Cleaning",
    "waste": "Rubbish",
    "roof": "Roof and facade",
    "intercom": "Intercom",
    "gas": "Gas",
    "other": "Other",
}
PRIORITY_NAMES = {"emergency": "emergency", "urgent": "urgent", "normal": "normal", "low": "low"}
ACTOR_NAMES = {"resident": "Resident", "bot": "Bot", "dispatcher": "Dispatcher", "system": "System"}
VIEW_NAMES = {
    "open": "Open",
    "mine": "Mine",
    "unassigned": "Unassigned",
    "closed": "Closed",
    "waiting": "Waiting",
    "all": "All",
}


def _static_versions() -> dict[str, str]:
    """A content hash per static file, so a new release is never served from a stale cache."""
    return {
        p.name: hashlib.sha1(p.read_bytes()).hexdigest()[:10]
        for p in (HERE / "static").iterdir()
        if p.is_file()
    }


def local_time(value, fmt: str = "%d.%m.%Y %H:%M", tz: str | None = None) -> str:  # noqa: ANN001
    """A UTC time as the company's clock shows it."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz or DEFAULT_TIMEZONE)).strftime(fmt)


def init_app(app: Flask) -> None:
    from smsbot.web import (
        bulk,
        canned,
        deadline_settings,
        inbox,
        inspector,
        labels,
        notices,
        phone,
        reply_settings,
        team,
        tickets,
    )

    security.configure(app)
    csrf.init_app(app)
    auth.login_manager.init_app(app)
    app.before_request(live.quiet)  # first: a poll with nothing new loads no user
    app.before_request(auth.check_session)
    app.before_request(common.remember_live_stamp)
    app.teardown_appcontext(common.close_session)
    versions = _static_versions()

    def static(filename: str) -> str:
        return url_for("ui.static", filename=filename, v=versions.get(filename, ""))

    @app.context_processor
    def helpers() -> dict:
        signed_in = current_user.is_authenticated
        return {
            "_": gettext,
            "ngettext": ngettext,
            "lang": current_language(),
            "languages": LANGUAGES,
            "static": static,
            "nonce": lambda: secrets.token_urlsafe(16),
            "can_write": signed_in and users.can_write(current_user),
            "is_admin": signed_in and users.is_admin(current_user),
            "all_companies_user": signed_in and users.company_scope(current_user) is None,
            "companies_menu": auth.all_companies,
            "chosen_company_id": common.session_company_id(),
            "has_tickets": "tickets" in app.blueprints,
            "unread_badge": lambda: (
                conversations.unread_total(common.dbs(), common.visible_companies()) or ""
            ),
            "role_names": ROLE_NAMES,
            "status_names": STATUS_NAMES,
            "view_names": VIEW_NAMES,
            "ticket_status_names": TICKET_STATUS_NAMES,
            "desk_status_names": DESK_STATUS_NAMES,
            "transition_names": TRANSITION_NAMES,
            "category_names": CATEGORY_NAMES,
            "priority_names": PRIORITY_NAMES,
            "actor_names": ACTOR_NAMES,
            "danger_names": danger.NAMES,
        }

    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["decimal"] = decimal
    app.jinja_env.globals["stages"] = ticket_desk.stages
    app.jinja_env.tests["note"] = lambda item: isinstance(item, ConversationNote)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # noqa: ANN202
        return render_template("error.html", code=400, message=gettext(
            "The form expired or was sent from elsewhere. Reload the page and try again."
        )), 400  # fmt: skip

    for code in (400, 403, 404, 405, 429):
        app.register_error_handler(code, _error_page(code))

    app.register_blueprint(ui)
    for module in (
        auth,
        inbox,
        tickets,
        notices,
        phone,
        canned,
        deadline_settings,
        reply_settings,
        inspector,
        team,
        bulk,
        labels,
    ):
        app.register_blueprint(module.bp)


ERROR_MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have access to this.",
    404: "Not found.",
    405: "This address does not take that kind of request.",
    429: "Too many requests. Wait a little and try again.",
}


def _error_page(code: int):  # noqa: ANN202
    def handler(exc):  # noqa: ANN001, ANN202
        if request.path.startswith("/sms/"):
            return exc  # Twilio's webhooks keep their plain-text answers
        if auth.wants_json():
            return {"error": ERROR_MESSAGES[code]}, code
        return render_template("error.html", code=code, message=gettext(ERROR_MESSAGES[code])), code

    return handler
