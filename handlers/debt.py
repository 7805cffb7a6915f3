"""`долг [<л/с или №>]`: the amount due broken down by bill line (service)."""

from __future__ import annotations

from handlers.choosing import account_for, bill
from handlers.registry import Context, Reply, register
from smsbot import accounts


@register("debt")
def debt(ctx: Context) -> list[Reply]:
    chosen, replies = account_for(ctx, command="debt")
    if chosen is None:
        return replies
    lines = [{"service": s, "amount": a} for s, a in accounts.charges(ctx.session, chosen.account)]
    return [Reply("debt", {**bill(chosen), "lines": lines})]
