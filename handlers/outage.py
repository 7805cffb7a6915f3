"""`нет горячей воды`, `когда дадут воду?` while the company has announced that outage for the
resident's building: the notice's facts by return, in one SMS (what is off, until when, what
the law allows), and the thread marked as answered by the notice instead of waiting for a
dispatcher. Residents of other buildings, and other questions, go on as usual."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers.registry import Context, Reply, register_answers

ASKING_INTENTS = frozenset({"chat", "ticket"})
"""A question in words, or a ticket about the outage itself; commands keep their handlers."""


@register_answers
def outage_answer(ctx: Context) -> list[Reply] | None:
    if ctx.command.intent not in ASKING_INTENTS or ctx.conversation is None:
        return None
    outage = ctx.announced_outage
    if outage is None:
        return None
    conversation = ctx.conversation
    conversation.answered_by_notice_id = outage.notice_id
    if not conversation.unread and conversation.assignee_id is None:
        conversation.status = "closed"  # nothing in it waits for a person
    zone = ZoneInfo(ctx.timezone)
    same_day = outage.until.astimezone(zone).date() == ctx.now.astimezone(zone).date()
    return [
        Reply(
            "outage",
            {
                "outage": outage.kind,
                "until": outage.until,
                "same_day": same_day,
                "tz": ctx.timezone,
            },
        )
    ]
