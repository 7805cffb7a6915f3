"""`english` / `русский`: the language of every reply to this phone from now on, whatever
language later commands are written in."""

from __future__ import annotations

from handlers.registry import Context, Reply, register


@register("language")
def language(ctx: Context) -> list[Reply]:
    ctx.resident.language = ctx.command.language or "ru"
    ctx.resident.language_chosen_at = ctx.now
    return [Reply("language_set")]
