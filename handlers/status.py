"""`статус <номер>` (or `статус` for the latest): a ticket's state from its history. Only the
resident's own tickets are found; another's number reads as unknown."""

from __future__ import annotations

from handlers.registry import Context, Reply, register
from smsbot import tickets


@register("status")
def status(ctx: Context) -> list[Reply]:
    number = ctx.command.ticket
    found = tickets.find_for_resident(
        ctx.session, ctx.resident, number=number, company_id=ctx.company.id if ctx.company else None
    )
    if found is None:
        if number is None:
            return [Reply("ticket_none")]
        return [Reply("ticket_not_found", {"number": number})]
    view = tickets.status_view(ctx.session, found, ctx.now)
    return [Reply("ticket_status", view.params(ctx.timezone))]
