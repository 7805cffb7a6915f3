"""smsbot.sla: the histogram median against the exact one, shares, tallies that add up, the
company figures, periods and the weekly trend."""

from __future__ import annotations

import json
import math
import statistics
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbot import sla
from smsbot.sla import Histogram, Shares, Split, Tally

MINUTE_VALUES = st.floats(min_value=0, max_value=sla.CEILING * 0.999, allow_nan=False)
DAY = 24 * 60


def exact_bound(true_median: float) -> float:
    """The documented error bound of Histogram.median."""
    return 1 + (sla.RATIO - 1) * true_median + 1e-9


# --- buckets -----------------------------------------------------------------------------------


def test_buckets_span_one_minute_to_sixty_days_in_steps_of_seven_per_cent():
    assert sla.bucket_bounds(1) == (1.0, pytest.approx(1.07))
    assert sla.CEILING >= 60 * DAY
    assert sla.RATIO ** (sla.BUCKETS - 1) < 60 * DAY
    for k in range(1, sla.BUCKETS + 1):
        low, high = sla.bucket_bounds(k)
        assert high / low == pytest.approx(sla.RATIO)
        assert 0.05 <= high / low - 1 <= 0.10


@pytest.mark.parametrize(
    ("minutes", "bucket"),
    [(-5, 0), (0, 0), (0.5, 0), (0.999, 0), (1, 1), (1.05, 1), (1.0701, 2), (sla.CEILING, sla.TOP),
     (10 * sla.CEILING, sla.TOP)],
)  # fmt: skip
def test_bucket_of_edges(minutes, bucket):  # noqa: ANN001
    assert sla.bucket_of(minutes) == bucket


@pytest.mark.parametrize("minutes", [1, 2, 5, 15, 30, 59, 60, 61, 90, 120, 240, 480, 1439, 1440,
                                     1441, 2880, 4320, 10080, 20160, 43200, 86400])  # fmt: skip
def test_a_duration_falls_inside_its_buckets_bounds(minutes):  # noqa: ANN001
    low, high = sla.bucket_bounds(sla.bucket_of(minutes))
    assert low <= minutes < high * (1 + 1e-12)


@given(
    st.floats(min_value=0, max_value=1e7, allow_nan=False), st.floats(min_value=0, max_value=1e7)
)
def test_buckets_grow_with_the_duration(a, b):  # noqa: ANN001
    low, high = sorted((a, b))
    assert sla.bucket_of(low) <= sla.bucket_of(high)


@given(MINUTE_VALUES)
def test_every_duration_below_the_ceiling_lies_in_its_bucket(minutes):  # noqa: ANN001
    low, high = sla.bucket_bounds(sla.bucket_of(minutes))
    assert low * (1 - 1e-12) <= minutes <= high * (1 + 1e-12)


# --- the median ------------------------------------------------------------------------------------


def test_an_empty_histogram_has_no_median():
    assert Histogram().median() is None
    assert Histogram().total == 0


@pytest.mark.parametrize("minutes", [0, 0.3, 1, 7, 30, 45, 60, 100, 600, 1440, 4320, 40000])
def test_the_median_of_one_value_is_within_the_bound(minutes):  # noqa: ANN001
    estimate = Histogram.of([minutes]).median()
    assert abs(estimate - minutes) <= exact_bound(minutes)


@pytest.mark.parametrize(
    "values",
    [
        [10, 20, 30],
        [10, 20, 30, 40],
        [5] * 10,
        [1, 1, 1, 1000],
        [60, 61, 62, 63, 64],
        [0.2, 0.4, 0.6],
        [0, 0, 50000],
        [30, 30, 30, 30, 45, 45, 45, 90],
        list(range(1, 101)),
        [DAY, 2 * DAY, 3 * DAY, 10 * DAY],
        [15] * 99 + [10000],
        [1, 2],
    ],
)
def test_known_medians(values):  # noqa: ANN001
    true = statistics.median(values)
    assert abs(Histogram.of(values).median() - true) <= exact_bound(true)


@settings(max_examples=300)
@given(st.lists(MINUTE_VALUES, min_size=1, max_size=200))
def test_the_histogram_median_is_within_its_bound_of_the_exact_median(values):  # noqa: ANN001
    true = statistics.median(values)
    assert abs(Histogram.of(values).median() - true) <= exact_bound(true)


@settings(max_examples=200)
@given(st.lists(st.floats(min_value=1, max_value=sla.CEILING * 0.999), min_size=1, max_size=99))
def test_above_a_minute_the_error_is_relative(values):  # noqa: ANN001
    if len(values) % 2 == 0:
        values = values[:-1] or values
    true = statistics.median(values)
    estimate = Histogram.of(values).median()
    assert true / sla.RATIO <= estimate * (1 + 1e-9) and estimate <= true * sla.RATIO * (1 + 1e-9)


@settings(max_examples=200)
@given(st.lists(MINUTE_VALUES, max_size=60), st.lists(MINUTE_VALUES, max_size=60))
def test_merged_days_give_the_median_of_all_their_tickets(a, b):  # noqa: ANN001
    merged = Histogram.of(a).merge(Histogram.of(b))
    assert merged == Histogram.of(a + b)
    if a or b:
        true = statistics.median(a + b)
        assert abs(merged.median() - true) <= exact_bound(true)


@given(st.lists(MINUTE_VALUES, max_size=50))
def test_histograms_survive_json(values):  # noqa: ANN001
    histogram = Histogram.of(values)
    assert Histogram.from_json(histogram.to_json()) == histogram
    assert all(int(k) >= 0 for k in json.loads(histogram.to_json()))


def test_beyond_sixty_days_the_median_is_reported_at_the_ceiling():
    assert Histogram.of([100 * DAY, 200 * DAY, 300 * DAY]).median() == sla.CEILING


def test_from_json_of_nothing_is_empty():
    assert Histogram.from_json(None) == Histogram()
    assert Histogram.from_json("") == Histogram()
    assert Histogram.from_json("{}") == Histogram()


def test_the_median_moves_with_the_middle_value():
    fast = Histogram.of([10, 20, 30, 40, 50])
    slow = Histogram.of([10, 20, 300, 400, 500])
    assert fast.median() < slow.median()
    assert abs(slow.median() - 300) <= exact_bound(300)


# --- shares and means ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(0, 0, None), (5, 0, None), (0, 4, 0.0), (1, 4, 0.25), (3, 3, 1.0), (2, 3, 2 / 3)],
)
def test_share(part, whole, expected):  # noqa: ANN001
    assert sla.share(part, whole) == expected


@pytest.mark.parametrize(
    ("total", "count", "expected"), [(0, 0, None), (9, 2, 4.5), (5, 1, 5.0), (0, 3, 0.0)]
)
def test_mean(total, count, expected):  # noqa: ANN001
    assert sla.mean(total, count) == expected


# --- tallies and figures -----------------------------------------------------------------------


def tally(**counts: int) -> Tally:
    values = {"accept": [], "first_reply": [], "finish": []}
    for name in list(counts):
        if name in values:
            values[name] = counts.pop(name)  # type: ignore[assignment]
    return Tally(
        **counts,
        accept_hist=Histogram.of(values["accept"]),
        first_reply_hist=Histogram.of(values["first_reply"]),
        finish_hist=Histogram.of(values["finish"]),
    )


def test_tallies_add_up_field_by_field():
    a = tally(filed=3, decided=2, overdue=1, rated=1, rating_sum=4, accept=[10, 20])
    b = tally(filed=2, decided=2, overdue=2, rated=2, rating_sum=7, accept=[30])
    total = Tally.total([a, b])
    assert (total.filed, total.decided, total.overdue, total.rated, total.rating_sum) == (
        5, 4, 3, 3, 11)  # fmt: skip
    assert total.accept_hist == Histogram.of([10, 20, 30])
    assert Tally.total([]) == Tally()


def test_a_tally_from_a_rollup_row():
    row = {name: 2 for name in sla.COUNT_FIELDS}
    row |= {"accept_hist": Histogram.of([5]).to_json(), "first_reply_hist": None,
            "finish_hist": "{}"}  # fmt: skip
    result = Tally.from_row(row)
    assert result.filed == 2 and result.rating_sum == 2
    assert result.accept_hist.total == 1 and result.first_reply_hist.total == 0


def test_count_and_histogram_fields_cover_the_tally():
    assert "filed" in sla.COUNT_FIELDS and "overdue" in sla.COUNT_FIELDS
    assert set(sla.HIST_FIELDS) == {"accept_hist", "first_reply_hist", "finish_hist"}


def test_the_figures_of_a_set_of_tickets():
    split = Split.of(
        tally(
            filed=10,
            emergency=1,
            decided=8,
            overdue=2,
            accepted=9,
            done=6,
            reopened=3,
            rated=4,
            rating_sum=18,
            accept=[30] * 9,
            finish=[DAY] * 6,
        )  # fmt: skip
    )
    assert split.overdue_share == 0.25
    assert split.reopened_share == 0.5
    assert split.average_rating == 4.5
    assert split.rated == 4
    assert abs(split.median_accept - 30) <= exact_bound(30)
    assert abs(split.median_finish - DAY) <= exact_bound(DAY)
    assert split.median_first_reply is None


def test_nothing_decided_means_no_share_not_zero():
    split = Split.of(tally(filed=3))
    assert split.overdue_share is None
    assert split.reopened_share is None
    assert split.average_rating is None


def test_shares_of_working_and_non_working_days():
    shares = Shares.of(tally(decided=4, overdue=1), tally(decided=2, overdue=2))
    assert shares == Shares(total=0.5, working=0.25, nonworking=1.0)
    assert Shares.of(Tally(), Tally()) == Shares(None, None, None)


def figures(company_id: int, name: str, working: Tally, nonworking: Tally | None = None,
            overdue_now: int = 0) -> sla.CompanyFigures:  # fmt: skip
    none = Shares(None, None, None)
    return sla.company_figures(company_id, name, open_now=0, overdue_now=overdue_now,
                               working=working, nonworking=nonworking or Tally(), last_7=none,
                               last_30=none)  # fmt: skip


def test_a_companys_line_adds_working_and_non_working_days():
    line = figures(
        1, "A", tally(filed=4, decided=4, overdue=1), tally(filed=2, decided=2, overdue=2)
    )
    assert line.filed == 6
    assert line.overdue_share == 0.5
    assert line.working.overdue_share == 0.25 and line.nonworking.overdue_share == 1.0


def test_worst_first():
    a = figures(1, "Альфа", tally(decided=10, overdue=1))
    b = figures(2, "Бета", tally(decided=10, overdue=5))
    c = figures(3, "Вега", tally(filed=3))  # nothing decided yet
    d = figures(4, "Гамма", tally(decided=10, overdue=5), overdue_now=3)
    e = figures(5, "Дельта", tally(decided=10, overdue=0))
    assert [f.company_id for f in sla.worst_first([a, b, c, d, e])] == [4, 2, 1, 5, 3]


# --- periods and weeks -------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 7, 30, 90, 365])
def test_the_last_n_days_end_today(days):  # noqa: ANN001
    period = sla.Period.last(days, date(2026, 3, 1))
    assert period.end == date(2026, 3, 1)
    assert period.days == days
    assert period.start in period and period.end in period
    assert period.start - timedelta(days=1) not in period


def test_a_period_across_the_change_of_month_and_a_leap_day():
    period = sla.Period.last(7, date(2028, 3, 3))
    assert period.start == date(2028, 2, 26)
    assert date(2028, 2, 29) in period


@pytest.mark.parametrize(
    ("day", "monday"),
    [(date(2026, 11, 16), date(2026, 11, 16)), (date(2026, 11, 22), date(2026, 11, 16)),
     (date(2026, 11, 1), date(2026, 10, 26)), (date(2027, 1, 1), date(2026, 12, 28))],
)  # fmt: skip
def test_week_start(day, monday):  # noqa: ANN001
    assert sla.week_start(day) == monday


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_a_week_starts_on_the_monday_before(day):  # noqa: ANN001
    start = sla.week_start(day)
    assert start.weekday() == 0 and 0 <= (day - start).days < 7


def test_the_weekly_trend():
    today = date(2026, 11, 20)  # a Friday
    days = [
        (date(2026, 11, 16), False, tally(filed=4, decided=4, overdue=1)),
        (date(2026, 11, 17), False, tally(filed=2, decided=0)),
        (date(2026, 11, 15), True, tally(filed=3, decided=3, overdue=3)),  # last week's Sunday
        (date(2026, 11, 4), True, tally(filed=1, decided=1, overdue=0)),
        (date(2026, 9, 1), False, tally(filed=99, decided=99, overdue=99)),  # too old
        (date(2026, 11, 21), False, tally(filed=99)),  # the future
    ]
    series = sla.weekly(days, weeks=4, today=today)
    assert [w.start for w in series] == [date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9),
                                         date(2026, 11, 16)]  # fmt: skip
    assert [w.filed for w in series] == [0, 1, 3, 6]
    this_week = series[-1]
    assert this_week.share_working == 0.25 and this_week.share_nonworking is None
    assert series[2].share_nonworking == 1.0 and series[2].share_total == 1.0
    assert series[1].share_nonworking == 0.0
    assert series[0].share_total is None


@given(st.integers(min_value=1, max_value=60), st.dates(min_value=date(2020, 1, 1),
                                                       max_value=date(2030, 1, 1)))  # fmt: skip
def test_the_trend_has_one_point_per_week_ending_this_week(weeks, today):  # noqa: ANN001
    series = sla.weekly([], weeks=weeks, today=today)
    assert len(series) == weeks
    assert series[-1].start == sla.week_start(today)
    assert all((b.start - a.start).days == 7 for a, b in zip(series, series[1:], strict=False))


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=27),
            st.booleans(),
            st.integers(min_value=0, max_value=20),
            st.integers(min_value=0, max_value=20),
        ),
        max_size=40,
    )
)
def test_the_trend_counts_every_ticket_of_its_weeks_once(rows):  # noqa: ANN001
    today = date(2026, 11, 22)  # a Sunday: four whole weeks
    days = [
        (today - timedelta(days=back), off, tally(filed=n, decided=n, overdue=min(late, n)))
        for back, off, n, late in rows
    ]
    series = sla.weekly(days, weeks=4, today=today)
    assert sum(w.filed for w in series) == sum(t.filed for _, _, t in days)
    for week in series:
        for value in (week.share_working, week.share_nonworking, week.share_total):
            assert value is None or 0 <= value <= 1
            assert value is None or not math.isnan(value)
