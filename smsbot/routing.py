"""Which company a message belongs to: a pure decision over facts the caller looked up.

A company's own number routes to it; a regional shared number routes by the resident's
linked account; a resident linked to several companies stays with the one they talked to
last. Nothing known means unrouted: the reply asks the resident to link an account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    company_id: int | None
    reason: str


def decide(
    *,
    number_company_id: int | None,
    linked_company_ids: Sequence[int],
    last_company_id: int | None = None,
) -> Route:
    """Pick the company for an inbound message.

    number_company_id: the company owning the number the resident texted, if any.
    linked_company_ids: companies of the accounts linked to the resident's phone.
    last_company_id: the company of the resident's most recent conversation.
    """
    if number_company_id is not None:
        return Route(number_company_id, "company number")
    companies = list(dict.fromkeys(linked_company_ids))
    if len(companies) == 1:
        return Route(companies[0], "linked account")
    if companies:
        if last_company_id in companies:
            return Route(last_company_id, "linked accounts, last conversation")
        return Route(companies[0], "linked accounts, first")
    if last_company_id is not None:
        return Route(last_company_id, "last conversation")
    return Route(None, "unrouted")
