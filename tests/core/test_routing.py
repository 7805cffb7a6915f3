"""Choosing the account a command is about, among the resident's own only."""

from __future__ import annotations

from smsbot.routing import AccountOption, choose_account

ZARECHYE, SOLNECHNY = 1, 2
MINE = [
    AccountOption(1, 10, "5012345678", ZARECHYE),
    AccountOption(2, 20, "7020001001", SOLNECHNY),
    AccountOption(3, 30, "5012349999", ZARECHYE),
]


def test_no_accounts():
    assert choose_account([], None).reason == "none"
    assert choose_account([], "5012345678").reason == "none"


def test_a_single_account_needs_no_selector():
    choice = choose_account(MINE[:1], None)
    assert (choice.reason, choice.account) == ("chosen", MINE[0])


def test_the_company_texted_narrows_the_choice():
    assert choose_account(MINE, None, company_id=SOLNECHNY).account == MINE[1]
    ambiguous = choose_account(MINE, None, company_id=ZARECHYE)
    assert ambiguous.reason == "ambiguous" and ambiguous.candidates == (MINE[0], MINE[2])


def test_a_shared_number_lists_everything():
    choice = choose_account(MINE, None)
    assert choice.reason == "ambiguous" and choice.candidates == tuple(MINE)


def test_short_index_full_number_and_unique_last_digits():
    assert choose_account(MINE, "2").account == MINE[1]
    assert choose_account(MINE, "5012349999", company_id=SOLNECHNY).account == MINE[2]
    assert choose_account(MINE, "1001").account == MINE[1]
    assert choose_account(MINE, "№ 3").account == MINE[2]


def test_a_selector_matching_none_of_the_residents_accounts_is_unknown():
    for selector in ("4", "99", "5012345679", "5678999", "12345678901234567890"):
        choice = choose_account(MINE, selector)
        assert (
            choice.reason == "unknown"
            and choice.account is None
            and choice.candidates == tuple(MINE)
        )


def test_ambiguous_last_digits_are_unknown():
    twins = [AccountOption(1, 1, "1111115678", 1), AccountOption(2, 2, "2222225678", 1)]
    assert choose_account(twins, "5678").reason == "unknown"
