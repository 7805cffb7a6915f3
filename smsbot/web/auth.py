"""Signing in and out, session lifetime, and the per-user language and company choices.

Sessions live in Flask's signed cookie. Each holds the user's id and session token (so a new
password or "end all sessions" ends it), a random key of this one sign-in, the time of
sign-in and of last use; `check_session` ends it after SMSBOT_SESSION_IDLE_MINUTES unused or
SMSBOT_SESSION_MAX_HOURS after sign-in, checked on the server from those times, not trusted
to the cookie's own expiry. A signed cookie cannot be taken back, so the key's row in
`staff_session` is what signing out ends: a copied cookie dies with it. The user and their
session row come back in one query, so this costs no extra round trip per request.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import update
from sqlmodel import select
from wtforms import PasswordField, StringField

from smsbot import queues, users
from smsbot.db import session_scope
from smsbot.models import ROLE_INSPECTOR, Company, StaffSession, User
from smsbot.web.common import dbs, settings
from smsbot.web.i18n import LANGUAGES, gettext

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "basic"

ANONYMOUS_BLUEPRINTS = frozenset({"webhooks", "health", "ui"})
"""Twilio and load balancers: no staff session to look up (a stray cookie is ignored)."""
SEEN_RESOLUTION = 60
"""Seconds between rewrites of the last-use time (every request would churn the cookie)."""


class SignInForm(FlaskForm):
    login = StringField()
    password = PasswordField()


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, token, key = (session_id.split(":") + ["", ""])[:3]
    if not user_id.isdigit() or not token or not key:
        return None
    return (
        dbs()
        .exec(
            select(User)
            .join(StaffSession, StaffSession.user_id == User.id)
            .where(
                User.id == int(user_id),
                User.active.is_(True),
                User.session_token == token,
                StaffSession.id == users.session_key_hash(key),
                StaffSession.ended_at.is_(None),
            )
        )
        .first()
    )


def _cookie_key() -> str:
    """This browser's session key (the third part of the cookie's user id), or ''."""
    return (str(session.get("_user_id", "")).split(":") + ["", ""])[2]


@login_manager.unauthorized_handler
def unauthorized():  # noqa: ANN201
    if wants_json():
        return jsonify({"error": "signed out"}), 401
    flash(gettext("Sign in to continue."), "info")
    return redirect(
        url_for("auth.login", next=request.full_path if request.query_string else request.path)
    )


def wants_json() -> bool:
    return request.path.endswith("/live") or request.accept_mimetypes.best == "application/json"


def check_session() -> None:
    """End a session that sat unused too long or outlived a shift (runs before each request)."""
    if request.blueprint in ANONYMOUS_BLUEPRINTS or not current_user.is_authenticated:
        return
    now = time.time()
    current = settings()
    started = session.get("signed_in_at", 0)
    seen = session.get("seen_at", 0)
    if (
        now - started > current.session_max_hours * 3600
        or now - seen > current.session_idle_minutes * 60
    ):
        logout_user()
        session.clear()
        return
    if now - seen > SEEN_RESOLUTION:
        session["seen_at"] = int(now)


def _safe_next(target: str | None) -> str:
    """Only paths on this site: an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("auth.home")


def client_address() -> str:
    return request.remote_addr or "-"


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    form = SignInForm()
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    status = 200
    if form.validate_on_submit():
        throttle = users.SignInThrottle(queues.connection())
        login_name, address = form.login.data or "", client_address()
        wait = throttle.retry_after(login_name, address)
        if wait:
            flash(
                gettext(
                    "Too many failed sign-ins. Try again in {minutes} min.",
                    minutes=(wait + 59) // 60,
                ),
                "error",
            )
            status = 429
        else:
            user = users.authenticate(dbs(), login_name, form.password.data or "")
            if user is None:
                throttle.failed(login_name, address)
                flash(gettext("Wrong login or password."), "error")
                status = 401
            else:
                with session_scope() as db_session:
                    users.record_sign_in(db_session, user.id)
                    key = users.open_session(db_session, user.id)
                throttle.succeeded(login_name, address)
                language = session.get("lang")
                session.clear()  # a fresh session: nothing from before sign-in carries over
                login_user(user)
                session["_user_id"] = f"{user.get_id()}:{key}"
                session.permanent = True
                session["signed_in_at"] = session["seen_at"] = int(time.time())
                if language in LANGUAGES and language != user.language:
                    session["lang"] = language
                return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():  # noqa: ANN201
    language = session.get("lang")
    key = _cookie_key()
    if key:
        with session_scope() as db_session:
            users.end_session(db_session, key)
    logout_user()
    session.clear()
    if language:
        session["lang"] = language
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():  # noqa: ANN201
    chosen = request.form.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        if current_user.is_authenticated:
            with session_scope() as db_session:
                db_session.execute(
                    update(User).where(User.id == current_user.id).values(language=chosen)
                )
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/company")
@login_required
def choose_company():  # noqa: ANN201
    """Inspectors and superadmins look at one company or all of them."""
    if users.company_scope(current_user) is None:
        value = request.form.get("company_id", "")
        if value.isdigit() and dbs().get(Company, int(value)) is not None:
            session["company_id"] = int(value)
        else:
            session.pop("company_id", None)
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/")
@login_required
def home():  # noqa: ANN201
    if current_user.role == ROLE_INSPECTOR:
        return redirect(url_for("inspector.index"))  # the inspectorate reads figures first
    return redirect(url_for("inbox.index"))


def all_companies() -> list[Company]:
    return list(dbs().exec(select(Company).order_by(Company.name)))
