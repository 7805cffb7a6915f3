"""`english` / `русский`: the language of every reply to this phone from now on."""

from __future__ import annotations

from handlers.registry import Context, Reply, register


@register("language")
def language(ctx: Context) -> list[Reply]:
    ctx.resident.language = ctx.command.language or "ru"
    return [Reply("language_set")]
