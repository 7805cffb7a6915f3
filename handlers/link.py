"""`привязать <л/с> <код с квитанции>`: link this phone to an account by its bill code.

A wrong code and an unknown account get the same answer; five failures in 24 hours lock the
phone out, five on one account (from any phones) lock the account, and the reply says until
when (see smsbot.accounts)."""

from __future__ import annotations

from handlers.registry import Context, Reply, register
from smsbot import accounts


@register("link")
def link(ctx: Context) -> list[Reply]:
    command = ctx.command
    if not command.account or not command.code:
        return [Reply("link_format")]
    result = accounts.link_with_code(
        ctx.session, ctx.resident, command.account, command.code, ctx.now
    )
    if result.status == accounts.LINKED:
        return [Reply("link_ok", {"account": result.account.view()})]
    if result.status == accounts.ALREADY:
        return [Reply("link_already", {"account": result.account.view()})]
    if result.status == accounts.LOCKED:
        return [Reply("link_locked", {"until": result.until, "tz": ctx.timezone})]
    return [Reply("link_failed", {"attempts_left": result.attempts_left})]
