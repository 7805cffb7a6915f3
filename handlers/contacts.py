"""`телефоны`: the company's dispatch and emergency numbers with hours, and 112 / 104."""

from __future__ import annotations

from handlers.registry import Context, Reply, register


@register("contacts")
def contacts(ctx: Context) -> list[Reply]:
    company = ctx.company
    if company is None:
        return [Reply("contacts", {"company_name": None})]
    return [
        Reply(
            "contacts",
            {
                "company_name": company.name,
                "dispatch_phone": company.dispatch_phone,
                "dispatch_hours": company.dispatch_hours,
                "emergency_phone": company.emergency_phone,
            },
        )
    ]
