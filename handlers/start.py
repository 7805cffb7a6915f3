"""`старт` / START, UNSTOP, YES as the whole message: replies resume."""

from __future__ import annotations

from handlers.registry import Context, Reply, register


@register("start")
def start(ctx: Context) -> list[Reply]:
    ctx.resident.opted_out = False
    ctx.resident.opted_out_at = None
    return [Reply("opt_in")]
