"""A message that speaks of danger (gas, fire, flooding, sparking, a person stuck in a lift,
no heating in winter), whatever its first word: the emergency numbers at once, and an
emergency ticket for the company's emergency dispatch.

A second alarm about the same danger within the hour joins the open ticket (its text goes
into the history) rather than filing another one. Only an alarm reaches this handler: a
complaint about something else that mentions cold radiators in passing is routed as that
complaint (handlers.registry, smsbot.alarms), so it never joins the heating emergency.
"""

from __future__ import annotations

from handlers.registry import EMERGENCY, Context, Reply, register
from handlers.ticket import company_account
from smsbot import tickets
from smsbot.models import ACTOR_RESIDENT


@register(EMERGENCY)
def emergency(ctx: Context) -> list[Reply]:
    command = ctx.command
    company = ctx.company
    params = dict.fromkeys(("company_name", "emergency_phone", "number", "deadline_at"))
    params.update(danger=command.danger, follow_up=False, tz=ctx.timezone)
    if company is None:
        return [Reply("emergency", params)]  # the numbers; no company to file a ticket with
    if ctx.conversation is not None:  # pinned on top of the inbox until a person answers
        ctx.conversation.unread += 1
        ctx.conversation.status = "open"
        ctx.conversation.emergency_at = ctx.now
        ctx.conversation.emergency_kind = command.danger
    text = command.rest if command.intent == "ticket" and command.rest else command.text
    ticket = tickets.recent_emergency(
        ctx.session, company=company, resident=ctx.resident, danger_kind=command.danger, now=ctx.now
    )
    follow_up = ticket is not None
    if follow_up:
        tickets.add_note(
            ctx.session, ticket, text.strip()[: tickets.TEXT_MAX], actor=ACTOR_RESIDENT, now=ctx.now
        )
    else:
        ticket = tickets.file(
            ctx.session,
            company=company,
            text=text,
            now=ctx.now,
            resident=ctx.resident,
            account=company_account(ctx),
            message=ctx.message,
            danger_kind=command.danger,
        )
    params.update(
        company_name=company.name,
        emergency_phone=company.emergency_phone or company.dispatch_phone,
        number=ticket.number,
        follow_up=follow_up,
        deadline_at=ticket.deadline_at,
    )
    return [Reply("emergency", params)]
