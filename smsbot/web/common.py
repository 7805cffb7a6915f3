"""What every staff page shares: the request's database session, company scoping, live
updates, and turning a refused action into a message on the page.

Scoping lives here so that no view can forget it: rows are fetched by id only through
`get_scoped`, which answers 404 (not 403) for another company's row, so ids reveal nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, flash, g, request
from flask_login import current_user
from redis.exceptions import RedisError
from sqlmodel import Session

from smsbot import conversations, db, queues, users
from smsbot.config import Settings
from smsbot.exceptions import Refused
from smsbot.models import Company
from smsbot.web import live as web_live
from smsbot.web.i18n import gettext

T = TypeVar("T")

NONCE_TTL = 600
"""Seconds a form's one-time key is remembered: a double click sends one SMS, not two."""


def settings() -> Settings:
    return current_app.config["SMSBOT_SETTINGS"]


def dbs() -> Session:
    """The request's reading session, closed when the request ends.

    Views read through it and write in short units of their own (`db.session_scope`): on
    SQLite a writer holds the one write lock from BEGIN, so a write must not wait on a
    password hash, a template or an HTTP call while workers and webhooks queue behind it.
    """
    if "db_session" not in g:
        g.db_session = Session(db.engine(), expire_on_commit=False)
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


# --- scoping ----------------------------------------------------------------------------------


def scope() -> frozenset[int] | None:
    """Companies the signed-in user may see; None means every company."""
    return users.company_scope(current_user)


def visible_companies() -> list[int] | None:
    """The companies a page lists: the user's own, or the one an all-company user picked."""
    own = scope()
    if own is not None:
        return sorted(own)
    picked = session_company_id()
    return [picked] if picked is not None else None


def session_company_id() -> int | None:
    from flask import session

    value = session.get("company_id")
    return int(value) if value is not None else None


def get_scoped(model: type[T], row_id: int) -> T:
    """The row with this id if the user's companies include its company; else 404."""
    row = dbs().get(model, row_id)
    if row is None or not users.in_scope(current_user, row.company_id):
        abort(404)
    return row


def acting_company() -> Company:
    """The company a new notice or canned reply belongs to (an all-company user must pick one)."""
    own = scope()
    company_id = next(iter(own)) if own else session_company_id()
    company = dbs().get(Company, company_id) if company_id is not None else None
    if company is None:
        from flask import redirect, url_for

        flash(gettext("Choose a company first (the menu at the top)."), "error")
        abort(redirect(url_for("auth.home")))
    return company


def require(allowed: Callable[[Any], bool]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator: 403 unless `allowed(current_user)`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not allowed(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


require_writer = require(users.can_write)
"""Inspectors read only: every changing action refuses them."""
require_admin = require(users.is_admin)
"""Company admins and superadmins: canned replies, the resident phone."""


# --- actions ------------------------------------------------------------------------------------


def refused(exc: Refused) -> None:
    """Show a refused action's reason, in the user's language."""
    flash(gettext(exc.msgid, **exc.params), "error")


def first_submit() -> bool:
    """False when this form (by its hidden `nonce`) was already submitted: a double click."""
    nonce = request.form.get("nonce", "")
    if not nonce:
        return True
    try:
        return bool(queues.connection().set(f"smsbot:nonce:{nonce[:64]}", 1, nx=True, ex=NONCE_TTL))
    except RedisError:
        return True


# --- live updates -----------------------------------------------------------------------------


def live_items(
    template: str, name: str, items: Any, key: Callable[[Any], str], **context: Any
) -> list[dict]:
    """A live list: each item rendered by `template` (as `name`) under a stable key."""
    from flask import render_template

    return [
        {"key": key(item), "html": render_template(template, **{name: item}, **context)}
        for item in items
    ]


def live(payload: dict[str, Any]) -> Any:
    """Answer a poll: 204 when the page already shows this, else the payload and its version.

    Every page's answer also carries the alerts (unread count, unanswered emergencies), so
    the tab title and the notifications follow on whatever page is open (smsbot.web.live
    answers polls cheaply when nothing changed).
    """
    counts = conversations.alerts(dbs(), visible_companies())
    payload = {
        **payload,
        "alerts": {"unread": counts.unread, "emergencies": counts.emergencies},
        "regions": {"unread": str(counts.unread or ""), **payload.get("regions", {})},
    }
    return web_live.answer(payload)


def remember_live_stamp() -> None:
    """Before a poll's view reads anything, note the change counters it answers for."""
    if request.path.endswith("/live") and current_user.is_authenticated:
        web_live.remember_stamp(visible_companies())
