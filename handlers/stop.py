"""`стоп` / STOP and Twilio's other opt-out words, as the whole message: one confirmation,
then silence. Nothing queued to the phone is sent after this (the sender cancels it)."""

from __future__ import annotations

from handlers.registry import Context, Reply, register


@register("stop")
def stop(ctx: Context) -> list[Reply]:
    resident = ctx.resident
    if resident.opted_out:
        return []  # confirmed once already
    resident.opted_out = True
    resident.opted_out_at = ctx.now
    return [Reply("opt_out", bypass_opt_out=True)]
