"""`помощь` / `help`: the list of commands, in the resident's language."""

from __future__ import annotations

from handlers.registry import Context, Reply, register


@register("help")
def help_command(ctx: Context) -> list[Reply]:
    company = ctx.company
    return [Reply("help", {"company_name": company.name if company else None})]
