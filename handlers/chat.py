"""Anything that is not a command: a message for the company's dispatchers.

The text is already in the conversation (every inbound message is); here we mark it unread
for the inbox and acknowledge it honestly (smsbot.acknowledgements): the first message and
then at most one every few hours, none while a dispatcher is answering, and at night the
hours dispatchers work and the emergency number. An empty SMS is no message for a person:
it gets the short help.
"""

from __future__ import annotations

from datetime import timedelta

from handlers.registry import Context, Reply, register
from smsbot import acknowledgements, config
from smsbot.textnorm import clean


@register("chat")
def chat(ctx: Context) -> list[Reply]:
    if not clean(ctx.message.body):
        return [Reply("help_short")]
    conversation = ctx.conversation
    if conversation is None:
        return [Reply("unrouted")]
    conversation.unread += 1
    conversation.status = "open"
    conversation.answered_by_notice_id = None
    settings = config.current()
    policy = acknowledgements.Policy(
        every=timedelta(hours=settings.chat_ack_hours),
        quiet=timedelta(minutes=settings.chat_ack_quiet_minutes),
    )
    if not acknowledgements.due(
        policy,
        now=ctx.now,
        acknowledged_at=conversation.acknowledged_at,
        staff_replied_at=conversation.staff_replied_at,
    ):
        return []
    conversation.acknowledged = True
    conversation.acknowledged_at = ctx.now
    company = ctx.company
    template, opens = acknowledgements.Hours.of(company).template(ctx.now)
    return [
        Reply(
            template,
            {
                "company_name": company.name,
                "opens": opens,
                "workday_start": company.workday_start,
                "workday_end": company.workday_end,
                "emergency_phone": company.emergency_phone or company.dispatch_phone,
                "tz": company.timezone,
            },
        )
    ]
