"""`баланс [<л/с или №>]`: the amount due, or the overpayment, as of the billing date."""

from __future__ import annotations

from handlers.choosing import account_for, bill
from handlers.registry import Context, Reply, register


@register("balance")
def balance(ctx: Context) -> list[Reply]:
    chosen, replies = account_for(ctx, command="balance")
    return [Reply("balance", bill(chosen))] if chosen else replies
