"""Anything that is not a command: a message for the company's dispatchers.

The text is already in the conversation (every inbound message is); here we mark it unread
for the inbox and acknowledge it once, so a resident knows a person will read it without
getting a bot reply to every line of a chat.
"""

from __future__ import annotations

from handlers.registry import Context, Reply, register


@register("chat")
def chat(ctx: Context) -> list[Reply]:
    conversation = ctx.conversation
    if conversation is None:
        return [Reply("unrouted")]
    conversation.unread += 1
    conversation.status = "open"
    if conversation.acknowledged:
        return []
    conversation.acknowledged = True
    return [Reply("chat_ack", {"company_name": ctx.company.name if ctx.company else ""})]
