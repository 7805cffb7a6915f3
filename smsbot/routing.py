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


# --- which of a resident's accounts a command is about -------------------------------------------

INDEX_MAX_DIGITS = 2
"""`баланс 2` names the second account in the resident's list; longer numbers are accounts."""
SUFFIX_MIN_DIGITS = 4
"""`баланс 5678`: the last digits of an account number pick it when no other account ends so."""


@dataclass(frozen=True)
class AccountOption:
    """One of the resident's linked accounts, as the chooser sees it."""

    index: int
    """1-based, in the order the accounts were linked: the short index a resident types."""
    id: int
    number: str
    company_id: int


@dataclass(frozen=True)
class AccountChoice:
    """The account a command is about, or why there is none.

    reason: `chosen`; `ambiguous` (several fit and nothing picked one: list `candidates`);
    `unknown` (the selector matches none of the resident's accounts); `none` (no accounts).
    """

    reason: str
    account: AccountOption | None = None
    candidates: tuple[AccountOption, ...] = ()


def choose_account(
    accounts: Sequence[AccountOption], selector: str | None, *, company_id: int | None = None
) -> AccountChoice:
    """Pick the account for a command among the resident's own (never anyone else's).

    selector: what the resident typed after the keyword (short index or account number).
    company_id: the company whose own number the resident texted; without a selector, only
    its accounts are in question. On a shared number all of them are.
    """
    if not accounts:
        return AccountChoice("none")
    if selector:
        digits = "".join(ch for ch in selector if ch.isdigit())
        if digits and len(digits) <= INDEX_MAX_DIGITS:
            found = [a for a in accounts if a.index == int(digits)]
        else:
            found = [a for a in accounts if a.number == digits]
            if not found and len(digits) >= SUFFIX_MIN_DIGITS:
                found = [a for a in accounts if a.number.endswith(digits)]
        if len(found) == 1:
            return AccountChoice("chosen", found[0])
        return AccountChoice("unknown", candidates=tuple(accounts))
    in_scope = [a for a in accounts if a.company_id == company_id] if company_id is not None else []
    in_scope = in_scope or list(accounts)
    if len(in_scope) == 1:
        return AccountChoice("chosen", in_scope[0])
    return AccountChoice("ambiguous", candidates=tuple(in_scope))
