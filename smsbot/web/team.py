"""Staff management in the browser: a company admin's "Staff" page, the superadmin's
companies and numbers.

A company admin adds dispatchers (and fellow admins), disables and re-enables them, resets
passwords, sets the phones deadline alerts go to, and ends a person's open sessions. Every
change is written to the audit log (`staff_change`) in the same transaction as the change.
Accounts are fetched through `users.managed_user`, which finds no one outside the admin's
company, so a forged id changes nothing. Inspectors and superadmins stay a command-line job
for the service's operator.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from smsbot import companies, providers, users
from smsbot.db import session_scope
from smsbot.exceptions import Refused
from smsbot.models import ROLE_SUPERADMIN, Company, CompanyNumber, User
from smsbot.web.common import acting_company, dbs, refused, require, require_admin, settings
from smsbot.web.i18n import gettext
from smsbot.web.inbox import _signed_in

bp = Blueprint("team", __name__)
bp.before_request(_signed_in)
require_superadmin = require(lambda user: user.role == ROLE_SUPERADMIN)


@bp.get("/staff")
@require_admin
def index():  # noqa: ANN201
    company = acting_company()
    members = list(
        dbs().exec(
            select(User)
            .where(User.company_id == company.id)
            .order_by(User.active.desc(), User.name)
        )
    )
    return render_template(
        "team/index.html",
        company=company,
        members=members,
        sessions=users.open_sessions(dbs(), [m.id for m in members]),
        changes=users.changes(dbs(), company.id),
        roles=users.MANAGED_ROLES,
        change_names=CHANGE_NAMES,
    )


@bp.post("/staff")
@require_admin
def add():  # noqa: ANN201
    company = acting_company()
    form = request.form
    password = form.get("password", "").strip()
    generated = not password
    if generated:
        password = users.temporary_password()
    role = form.get("role", "")
    try:
        if role not in users.MANAGED_ROLES:
            raise Refused("Choose a role.")
        with session_scope() as session:
            user = users.create_user(
                session,
                login=form.get("login", ""),
                name=form.get("name", ""),
                password=password,
                role=role,
                company_id=company.id,
                phone=form.get("phone"),
            )
            users.record_change(session, current_user, "added", user.login, company.id)
            login = user.login
    except Refused as exc:
        refused(exc)
        return redirect(url_for("team.index"))
    if generated:
        flash(gettext("{login} added. Their password (shown once): {password}",
                      login=login, password=password), "ok")  # fmt: skip
    else:
        flash(gettext("{login} added.", login=login), "ok")
    return redirect(url_for("team.index"))


ACTIONS = ("disable", "enable", "password", "phone", "sessions")
CHANGE_NAMES = {
    "added": "added",
    "disable": "disabled",
    "enable": "enabled again",
    "password": "new password",
    "phone": "alert phone",
    "sessions": "sessions ended",
    "company added": "company added",
    "number added": "number added",
    "number removed": "number removed",
}
"""Audit-log actions as staff read them (English ids, translated)."""


@bp.post("/staff/<int:user_id>/<action>")
@require_admin
def change(user_id: int, action: str):  # noqa: ANN201
    if action not in ACTIONS:
        abort(404)
    company = acting_company()
    password = None
    try:
        with session_scope() as session:
            user = users.managed_user(session, current_user, user_id, company.id)
            if user is None:
                abort(404)  # as for every row of another company: the id reveals nothing
            if action == "disable":
                if user.id == current_user.id:
                    raise Refused("You cannot disable yourself.")
                users.deactivate(session, user)
                message = "{login} is disabled; their sessions have ended."
            elif action == "enable":
                users.reactivate(session, user)
                message = "{login} can sign in again."
            elif action == "password":
                password = users.temporary_password()
                users.set_password(session, user, password)
                message = "New password for {login} (shown once): {password}"
            elif action == "phone":
                user.phone = users.staff_phone(request.form.get("phone"))
                session.add(user)
                message = "Alert phone of {login} saved."
            else:
                users.end_all_sessions(session, user)
                message = "Every session of {login} has ended."
            users.record_change(session, current_user, action, user.login, company.id)
            login = user.login
    except Refused as exc:
        refused(exc)
        return redirect(url_for("team.index"))
    params = {"login": login, **({"password": password} if password else {})}
    flash(gettext(message, **params), "ok")
    return redirect(url_for("team.index"))


# --- the superadmin's companies and numbers ---------------------------------------------------


@bp.get("/companies")
@require_superadmin
def companies_index():  # noqa: ANN201
    return render_template(
        "team/companies.html",
        companies=list(dbs().exec(select(Company).order_by(Company.name))),
        numbers=companies.numbers(dbs()),
        provider_names=providers.names(settings()),
        default_provider=settings().default_provider,
    )


@bp.post("/companies")
@require_superadmin
def add_company():  # noqa: ANN201
    form = request.form
    try:
        with session_scope() as session:
            company = companies.create(
                session,
                slug=form.get("slug", ""),
                name=form.get("name", ""),
                timezone=form.get("timezone", "").strip() or "Europe/Moscow",
            )
            users.record_change(session, current_user, "company added", company.slug, company.id)
        flash(gettext("Company {name} added.", name=company.name), "ok")
    except Refused as exc:
        refused(exc)
    return redirect(url_for("team.companies_index"))


@bp.post("/companies/<int:company_id>/numbers")
@require_superadmin
def add_number(company_id: int):  # noqa: ANN201
    form = request.form
    try:
        with session_scope() as session:
            if session.get(Company, company_id) is None:
                raise Refused("No such company.")
            number = companies.add_number(
                session,
                company_id,
                form.get("phone", ""),
                provider=form.get("provider") or None,
                known_providers=providers.names(settings()),
                label=form.get("label"),
            )
            users.record_change(session, current_user, "number added", number.phone, company_id)
        flash(gettext("Number {phone} added.", phone=number.phone), "ok")
    except Refused as exc:
        refused(exc)
    return redirect(url_for("team.companies_index"))


@bp.post("/numbers/<int:number_id>/delete")
@require_superadmin
def remove_number(number_id: int):  # noqa: ANN201
    with session_scope() as session:
        number = session.get(CompanyNumber, number_id)
        if number is not None:
            users.record_change(
                session, current_user, "number removed", number.phone, number.company_id
            )
            session.delete(number)
            flash(gettext("Number {phone} removed.", phone=number.phone), "ok")
    return redirect(url_for("team.companies_index"))
