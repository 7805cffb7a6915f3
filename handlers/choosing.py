"""Which of the resident's accounts a command is about; shared by balance, debt, meter
readings and unlink. Not a command itself."""

from __future__ import annotations

from handlers.registry import Context, Reply
from smsbot import accounts

LISTED_MAX = 3
"""Accounts a reply lists at most; the rest are counted ("and 2 more")."""


def account_for(ctx: Context, *, command: str) -> tuple[accounts.Linked | None, list[Reply]]:
    """The account the message names (or the only one in question), else the replies that
    say why not: how to link one, or the resident's own accounts to pick from."""
    company_id = accounts.texted_company_id(ctx.session, ctx.message, ctx.company)
    pick = accounts.pick(ctx.session, ctx.resident, ctx.command.account, company_id=company_id)
    if pick.chosen is not None:
        return pick.chosen, []
    if pick.reason == "none":
        return None, [Reply("link_howto", {"command": command})]
    listed = [a.view() for a in pick.candidates[:LISTED_MAX]]
    params = {
        "command": command,
        "accounts": listed,
        "more": max(0, len(pick.candidates) - LISTED_MAX),
    }
    if pick.reason == "unknown":
        return None, [Reply("account_unknown", params)]
    return None, [Reply("accounts_choose", params)]


def bill(chosen: accounts.Linked) -> dict:
    """What every reply about an account's bill starts from: the flat, the sum, its date."""
    return {
        "account": chosen.view(),
        "balance": chosen.account.balance,
        "as_of": chosen.account.balance_as_of,
    }
