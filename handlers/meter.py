"""`показания [<л/с>] хвс 123,4 гвс 45`: meter readings for one of the resident's accounts."""

from __future__ import annotations

from handlers.choosing import account_for
from handlers.registry import Context, Reply, register
from smsbot import meters
from smsbot.models import Company


@register("meter")
def meter(ctx: Context) -> list[Reply]:
    command = ctx.command
    if not command.readings or command.unread:
        return [Reply("meter_format")]
    chosen, replies = account_for(ctx, command="meter")
    if chosen is None:
        return replies
    company = ctx.session.get(Company, chosen.account.company_id)  # its window counts
    result = meters.submit(
        ctx.session,
        company=company,
        account=chosen.account,
        readings=command.readings,
        now=ctx.now,
        resident=ctx.resident,
        message=ctx.message,
    )
    if result.window is not None:
        opens, closes = result.window
        window = {"start": company.meter_window_start, "end": company.meter_window_end}
        return [Reply("meter_window", {"opens": opens, "closes": closes, **window})]
    if not result.kinds:
        return [Reply("meter_none", {"account": chosen.view()})]
    outcomes = [o.params() for o in result.outcomes]
    return [
        Reply(
            "meter_result", {"account": chosen.view(), "outcomes": outcomes, "kinds": result.kinds}
        )
    ]
