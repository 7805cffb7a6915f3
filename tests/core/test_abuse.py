"""The pure side of abuse and cost protection: fingerprints, the cap's arithmetic, notes."""

from __future__ import annotations

import pytest

from smsbot import abuse


def test_texts_differing_in_case_spacing_yo_and_punctuation_are_the_same_text():
    assert (
        abuse.fingerprint("Помощь!")
        == abuse.fingerprint("  помощь ")
        == abuse.fingerprint("ПОМОЩЬ...")
    )
    assert abuse.fingerprint("ещё") == abuse.fingerprint("еще")
    assert abuse.fingerprint("помощь 1") != abuse.fingerprint("помощь 2")
    assert abuse.fingerprint(None) == abuse.fingerprint("")


@pytest.mark.parametrize(
    ("used_after", "segments", "cap", "expected"),
    [
        (5, 2, 5, (False, False)),  # exactly at the cap: still sent
        (7, 2, 5, (True, True)),  # this reply crosses it: held, and the admins are told
        (9, 2, 5, (True, False)),  # already past: held quietly
        (6, 3, 5, (True, True)),
        (10**6, 2, 0, (False, False)),  # 0: no cap
    ],
)
def test_a_reply_is_held_past_the_cap_and_the_first_one_tells(used_after, segments, cap, expected):
    assert abuse.over_cap(used_after, segments, cap) == expected


def test_held_replies_are_released_oldest_first_as_far_as_the_cap_allows():
    assert abuse.releasable([2, 2, 2], used=0, cap=5) == 2
    assert abuse.releasable([2, 1, 1], used=4, cap=5) == 0  # the oldest does not fit: order kept
    assert abuse.releasable([2, 2], used=9, cap=5) == 0
    assert abuse.releasable([3] * 7, used=10**6, cap=0) == 7


def test_limits_out_of_range_are_refused():
    assert abuse.validate({"rate_limit": 1, "daily_cap": 0}) == {"rate_limit": 1, "daily_cap": 0}
    for name, value in [("rate_limit", 0), ("rate_window", 1441), ("loop_repeats", 1)]:
        with pytest.raises(ValueError, match=name):
            abuse.validate({name: value})


def test_danger_and_opting_out_are_never_stopped():
    assert abuse.exempt("stop", False) and abuse.exempt("start", False)
    assert abuse.exempt("chat", True) and not abuse.exempt("help", False)


def test_the_note_says_why_in_the_companys_language():
    limits = abuse.Limits(rate_limit=7, rate_window=3)
    assert "7 сообщений за 3 мин" in abuse.note(abuse.RATE, language="ru", limits=limits)
    assert "7 messages in 3" in abuse.note(abuse.RATE, language="en", limits=limits)
    assert all(abuse.note(s, language="xx", limits=limits) for s in abuse.STOPS)
