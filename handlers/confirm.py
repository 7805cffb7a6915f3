"""ДА / НЕТ / 1–5 after a ticket was done: the resident answers the question the ticket desk
sent. НЕТ reopens the ticket and puts the thread back in front of the dispatchers; ДА closes
the question and asks for a mark. Anything else, or no open question, goes on as usual."""

from __future__ import annotations

from handlers.registry import Context, Reply, register_answers
from smsbot import ticket_desk

REPLIES = {"confirmed": "ticket_confirmed", "reopened": "ticket_reopened", "rated": "ticket_rated"}


@register_answers
def ticket_answer(ctx: Context) -> list[Reply] | None:
    if ctx.company is None:
        return None
    answered = ticket_desk.answer(
        ctx.session,
        resident=ctx.resident,
        company_id=ctx.company.id,
        text=ctx.message.body,
        now=ctx.now,
        conversation=ctx.conversation,
    )
    if answered is None:
        return None
    return [Reply(REPLIES[answered.outcome], {"number": answered.ticket.number})]
