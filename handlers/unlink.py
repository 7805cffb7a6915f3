"""`отвязать <л/с или №>`: this phone stops seeing the account (billing phones included)."""

from __future__ import annotations

from handlers.choosing import account_for
from handlers.registry import Context, Reply, register
from smsbot import accounts


@register("unlink")
def unlink(ctx: Context) -> list[Reply]:
    if not ctx.command.account:
        _, replies = account_for(ctx, command="unlink")
        return replies or [Reply("unlink_format")]
    chosen, replies = account_for(ctx, command="unlink")
    if chosen is None:
        return replies
    accounts.unlink(ctx.session, ctx.resident, chosen, ctx.now)
    return [Reply("unlink_ok", {"account": chosen.view()})]
