"""Durations as company admins type them on the deadlines page (pure)."""

from __future__ import annotations

import pytest

from smsbot.deadline_settings import parse_duration
from smsbot.exceptions import Refused


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("30", 30),
        (" 45 мин", 45),
        ("2 ч", 120),
        ("1,5ч", 90),
        ("3 д", 4320),
        ("3дн", 4320),
        ("1 дн.", 1440),  # as the page writes it
        ("2,5 ч.", 150),
        ("90m", 90),
        ("2h", 120),
        ("1d", 1440),
        ("", None),
        ("   ", None),
    ],
)
def test_durations(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["скоро", "2 недели", "ч"])
def test_unreadable_durations_are_refused_with_an_example(text):
    with pytest.raises(Refused, match="like 30, 2 h or 3 d"):
        parse_duration(text)
