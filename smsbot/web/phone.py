"""The resident phone: an admin texts the bot as any phone number and watches the replies.

The text goes through the same signed callback the number's provider calls (posted to PUBLIC_BASE_URL with
the webhook key), then the same queue, handlers and sender, so a company can try smsbot end
to end before it connects a Twilio number.
"""

from __future__ import annotations

import logging

import requests
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import and_, or_
from sqlmodel import select

from smsbot import providers, simulate
from smsbot.models import (
    INBOUND,
    OUTBOUND,
    Account,
    AccountPhone,
    CompanyNumber,
    Conversation,
    Message,
    Resident,
)
from smsbot.phones import InvalidPhone, normalize
from smsbot.providers.base import Provider, playable
from smsbot.web.common import dbs, first_submit, live, live_items, require_admin, scope, settings
from smsbot.web.i18n import gettext
from smsbot.web.inbox import _signed_in

log = logging.getLogger(__name__)

bp = Blueprint("phone", __name__, url_prefix="/phone")
bp.before_request(_signed_in)

SHOWN = 100
"""Messages the page shows (the newest)."""


def _numbers() -> list[CompanyNumber]:
    """The SMS numbers the admin may text: their company's, or every company's."""
    query = select(CompanyNumber).order_by(CompanyNumber.company_id, CompanyNumber.id)
    companies = scope()
    if companies is not None:
        query = query.where(CompanyNumber.company_id.in_(list(companies)))
    return list(dbs().exec(query))


def _provider_of(number: str) -> Provider | None:
    """The provider to play a resident through: the number's own when it can be played over
    HTTP, else the default or the local outbox (an SMPP number has no HTTP callback)."""
    current = settings()
    own = dbs().exec(select(CompanyNumber.provider).where(CompanyNumber.phone == number)).first()
    for name in (own, current.default_provider, "outbox"):
        found = providers.find(current, name or "")
        if found is not None and found.can_receive and playable(found):
            return found
    return None


def _known_phones() -> list[str]:
    """Phones worth picking: billing phones and residents who wrote to the company."""
    companies = scope()
    billing = select(AccountPhone.phone).join(Account, Account.id == AccountPhone.account_id)
    talked = select(Resident.phone).join(Conversation, Conversation.resident_id == Resident.id)
    if companies is not None:
        billing = billing.where(Account.company_id.in_(list(companies)))
        talked = talked.where(Conversation.company_id.in_(list(companies)))
    return sorted(set(dbs().exec(billing)) | set(dbs().exec(talked)))[:200]


def _phone_arg(raw: str | None) -> str | None:
    try:
        return normalize(raw) if raw else None
    except InvalidPhone:
        return None


def _messages(phone: str | None) -> list[Message]:
    if phone is None:
        return []
    numbers = [n.phone for n in _numbers()]
    companies = scope()
    ours = Message.from_phone.in_(numbers)
    if companies is not None:
        ours = or_(ours, Message.company_id.in_(list(companies)))
    query = (
        select(Message)
        .where(
            or_(
                and_(
                    Message.direction == INBOUND,
                    Message.from_phone == phone,
                    Message.to_phone.in_(numbers),
                ),
                and_(Message.direction == OUTBOUND, Message.to_phone == phone, ours),
            )
        )
        .order_by(Message.id.desc())
        .limit(SHOWN)
    )
    return list(dbs().exec(query))[::-1]


@bp.get("")
@require_admin
def index():  # noqa: ANN201
    phone = _phone_arg(request.args.get("phone"))
    numbers = _numbers()
    to = request.args.get("to") or (numbers[0].phone if numbers else "")
    return render_template(
        "phone/index.html",
        phone=phone,
        raw_phone=request.args.get("phone", ""),
        to=to,
        numbers=numbers,
        known=_known_phones(),
        messages=_messages(phone),
    )


@bp.get("/live")
@require_admin
def index_live():  # noqa: ANN201
    phone = _phone_arg(request.args.get("phone"))
    return live(
        {
            "lists": {
                "messages": live_items(
                    "phone/_message.html",
                    "message",
                    _messages(phone),
                    lambda m: f"m{m.id}",
                    phone=phone,
                )
            }
        }
    )


@bp.post("")
@require_admin
def send():  # noqa: ANN201
    raw_phone, to, body = (
        request.form.get("phone", ""),
        request.form.get("to", ""),
        request.form.get("body", ""),
    )
    back = {"phone": raw_phone, "to": to}
    try:
        phone = normalize(raw_phone)
    except InvalidPhone as exc:
        flash(gettext("That is not a phone number ({reason}).", reason=exc.reason), "error")
        return redirect(url_for("phone.index", **back))
    back["phone"] = phone
    if to not in {n.phone for n in _numbers()}:
        flash(gettext("Choose one of the company's SMS numbers."), "error")
        return redirect(url_for("phone.index", **back))
    if not body.strip():
        flash(gettext("Write the message first."), "error")
        return redirect(url_for("phone.index", **back))
    if first_submit():
        current = settings()
        provider = _provider_of(to)
        if provider is None:
            flash(gettext("No provider of this number can be played from here."), "error")
            return redirect(url_for("phone.index", **back))
        try:
            _, response = simulate.post_inbound(
                current.public_base_url,
                provider,
                from_phone=phone,
                to_phone=to,
                body=body.replace("\r\n", "\n"),
                public_base_url=current.public_base_url,
                timeout=10,
            )
        except requests.RequestException as exc:
            log.warning("the resident phone could not reach %s: %s", current.public_base_url, exc)
            flash(gettext("The webhook at {url} did not answer; is PUBLIC_BASE_URL this service's address?",
                          url=current.public_base_url), "error")  # fmt: skip
            return redirect(url_for("phone.index", **back))
        if response.status_code != 200:
            flash(gettext("The webhook refused the message ({status}): {reason}",
                          status=response.status_code, reason=response.text.strip()[:200]), "error")  # fmt: skip
    return redirect(url_for("phone.index", **back))
