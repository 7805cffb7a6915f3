"""Ticket deadlines from the reference table, company overrides and working hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from smsbot.deadlines import Override, compute, in_heating_season, rule_for

MOSCOW_NOON = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


@pytest.mark.parametrize(
    ("problem", "after"),
    [
        ("gas_smell", timedelta(minutes=30)),
        ("lift_stuck", timedelta(minutes=30)),
        ("flood", timedelta(minutes=30)),
        ("power_out", timedelta(minutes=30)),
        ("sewer_blockage", timedelta(hours=2)),
        ("roof_leak", timedelta(days=1)),
        ("lift_stopped", timedelta(days=1)),
        ("door_lock", timedelta(days=1)),
        ("common_tap_leak", timedelta(days=1)),
        ("stair_lighting", timedelta(days=7)),
        ("roof_facade", timedelta(days=5)),
        ("cleaning", timedelta(hours=24)),
        ("intercom", timedelta(hours=24)),
        ("other", timedelta(hours=24)),
        ("something we never heard of", timedelta(hours=24)),
    ],
)
def test_default_deadlines_follow_the_reference_table(problem, after):
    assert compute(problem, MOSCOW_NOON).due_at == MOSCOW_NOON + after


def test_a_flood_is_contained_in_30_minutes_and_repaired_in_3_days():
    deadline = compute("flood", MOSCOW_NOON)
    assert deadline.due_at == MOSCOW_NOON + timedelta(minutes=30)
    assert deadline.repair_due_at == MOSCOW_NOON + timedelta(days=3)
    assert compute("cleaning", MOSCOW_NOON).repair_due_at is None


def test_broken_glass_takes_one_day_in_winter_and_three_in_summer():
    winter = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 10, 9, 0, tzinfo=UTC)
    assert compute("broken_glass", winter).due_at == winter + timedelta(days=1)
    assert compute("broken_glass", summer).due_at == summer + timedelta(days=3)


MSK = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("filed", "due"),
    [
        ((1, 12, 0), (1, 14, 0)),  # daytime: two hours later
        ((1, 22, 30), (2, 9, 30)),  # 30 minutes tonight, 90 minutes from 08:00
        ((1, 2, 0), (1, 10, 0)),  # at night the clock starts at 08:00
        ((1, 23, 0), (2, 10, 0)),  # closing time: tomorrow
        ((1, 7, 59), (1, 10, 0)),
    ],
)
def test_rubbish_chute_clock_runs_from_8_to_23_local_time(filed, due):
    filed_at = datetime(2026, 11, *filed, tzinfo=MSK)
    assert compute("chute_blockage", filed_at).due_at == datetime(2026, 11, *due, tzinfo=MSK)


def test_working_hours_follow_the_company_time_zone():
    filed = datetime(
        2026, 11, 1, 20, 0, tzinfo=UTC
    )  # 23:00 in Moscow, 01:00 next day in Yekaterinburg
    assert compute("chute_blockage", filed, tz="Asia/Yekaterinburg").due_at == datetime(
        2026, 11, 2, 5, 0, tzinfo=UTC
    )


def test_a_company_override_replaces_the_rule():
    overrides = {
        "cleaning": Override(minutes=48 * 60),
        "flood": Override(minutes=20, repair_minutes=24 * 60),
    }
    assert compute("cleaning", MOSCOW_NOON, overrides=overrides).due_at == MOSCOW_NOON + timedelta(
        hours=48
    )
    flood = compute("flood", MOSCOW_NOON, overrides=overrides)
    assert (flood.due_at, flood.repair_due_at) == (
        MOSCOW_NOON + timedelta(minutes=20),
        MOSCOW_NOON + timedelta(days=1),
    )
    assert rule_for("gas_smell", overrides).contain == timedelta(minutes=30)


def test_deadlines_are_utc():
    assert compute("cleaning", MOSCOW_NOON).due_at.tzinfo == UTC


def test_heating_season():
    assert in_heating_season(date(2026, 1, 15)) and in_heating_season(date(2026, 10, 1))
    assert not in_heating_season(date(2026, 6, 1)) and not in_heating_season(date(2026, 9, 30))
