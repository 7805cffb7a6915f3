"""`заявка <текст>`: file a ticket with the company; the reply gives its number and deadline.
`заявка` alone asks what is wrong."""

from __future__ import annotations

from handlers.registry import Context, Reply, register
from smsbot import accounts, tickets


def company_account(ctx: Context) -> accounts.Account | None:
    """The resident's account at this company, when there is exactly one (it names the flat)."""
    own = [
        a.account
        for a in accounts.linked(ctx.session, ctx.resident)
        if a.account.company_id == ctx.company.id
    ]
    return own[0] if len(own) == 1 else None


@register("ticket")
def ticket(ctx: Context) -> list[Reply]:
    if ctx.company is None:
        return [Reply("unrouted")]
    text = ctx.command.rest.strip()
    if not text:
        return [Reply("ticket_ask")]
    filed = tickets.file(
        ctx.session,
        company=ctx.company,
        text=text,
        now=ctx.now,
        resident=ctx.resident,
        account=company_account(ctx),
        message=ctx.message,
    )
    return [
        Reply(
            "ticket_created",
            {
                "number": filed.number,
                "category": filed.category,
                "emergency": filed.emergency,
                "deadline_at": filed.deadline_at,
                "tz": ctx.timezone,
            },
        )
    ]
