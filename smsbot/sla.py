"""The inspector's arithmetic: how long a company takes and how often it misses deadlines.

Pure: no database, no clock. smsbot.ticket_stats keeps one row of counts and duration
histograms per company, filing day and kind of day (working or not), and adds rows up here.
A median cannot be added up from daily medians, so durations are kept as histograms with
fixed log-spaced buckets that merge by adding counts; the median read back from a histogram
is interpolated within its bucket (see `Histogram.median` for the error bound).

A ticket counts as *decided* once we know whether it kept its deadline: it missed it (marked
overdue, or still open past it), or it was closed (done or rejected) in time. The overdue
share is missed / decided, so tickets still running inside their deadline weigh nothing yet.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

RATIO = 1.07
"""Each histogram bucket is 7% wider than the one before: [RATIO**(k-1), RATIO**k) minutes."""
BUCKETS = math.ceil(math.log(60 * 24 * 60) / math.log(RATIO))
"""Buckets 1..BUCKETS cover 1 minute to RATIO**BUCKETS minutes (just over 60 days)."""
TOP = BUCKETS + 1
"""The bucket for everything longer; bucket 0 holds durations under a minute."""
CEILING = RATIO**BUCKETS
"""Minutes where the top bucket starts; a median up there is reported as this."""
LOG_RATIO = math.log(RATIO)


def bucket_of(minutes: float) -> int:
    """The bucket a duration falls in (negative durations, a clock skew, count as zero)."""
    if minutes < 1:
        return 0
    if minutes >= CEILING:
        return TOP
    return min(int(math.floor(math.log(minutes) / LOG_RATIO)) + 1, BUCKETS)


def bucket_bounds(k: int) -> tuple[float, float]:
    """[low, high) minutes of bucket k (the top bucket is reported at its low edge)."""
    if k <= 0:
        return 0.0, 1.0
    if k >= TOP:
        return CEILING, CEILING
    return RATIO ** (k - 1), RATIO**k


@dataclass
class Histogram:
    """Counts of durations per bucket; two histograms merge by adding counts.

    The median is exact to within one bucket: for durations under CEILING,
    |median() − true median| ≤ 1 minute + (RATIO − 1) × true median, that is within 7% (or a
    minute for sub-minute times). Why: each of the middle one or two values is estimated
    inside its own bucket, whose width is 7% of its low edge (1 minute for bucket 0).
    """

    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, minutes: Iterable[float]) -> Histogram:
        histogram = cls()
        for value in minutes:
            histogram.add(value)
        return histogram

    def add(self, minutes: float, count: int = 1) -> None:
        k = bucket_of(minutes)
        self.counts[k] = self.counts.get(k, 0) + count

    def merge(self, other: Histogram) -> Histogram:
        """Add the other histogram's counts into this one (and return it)."""
        for k, count in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + count
        return self

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _value_at(self, rank: int) -> float:
        """An estimate of the rank-th smallest duration (1-based), inside its bucket."""
        seen = 0
        for k in sorted(self.counts):
            count = self.counts[k]
            if count <= 0:
                continue
            if seen + count >= rank:
                low, high = bucket_bounds(k)
                return low + (high - low) * (rank - seen - 0.5) / count
            seen += count
        raise ValueError("rank beyond the histogram")  # pragma: no cover

    def median(self) -> float | None:
        """The median in minutes (mean of the two middle values for an even count), or None."""
        n = self.total
        if n <= 0:
            return None
        if n % 2:
            return self._value_at((n + 1) // 2)
        return (self._value_at(n // 2) + self._value_at(n // 2 + 1)) / 2

    def to_json(self) -> str:
        return json.dumps({str(k): v for k, v in sorted(self.counts.items()) if v})

    @classmethod
    def from_json(cls, text: str | None) -> Histogram:
        if not text:
            return cls()
        return cls({int(k): int(v) for k, v in json.loads(text).items()})


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (no decided tickets yet)."""
    return part / whole if whole else None


def mean(total: float, count: int) -> float | None:
    return total / count if count else None


# --- counts of one set of tickets ---------------------------------------------------------------


@dataclass
class Tally:
    """Counts and histograms of a set of tickets; tallies add up (days into periods).

    The fields mirror the rollup's columns (smsbot.models.TicketDay), so a row maps onto a
    Tally by name.
    """

    filed: int = 0
    emergency: int = 0
    decided: int = 0
    """Missed the deadline, or closed (done or rejected) within it."""
    overdue: int = 0
    """Missed the deadline: marked overdue (also when done late) or still open past it."""
    accepted: int = 0
    first_reply: int = 0
    done: int = 0
    """Marked done at least once."""
    reopened: int = 0
    """Of those, reopened by the resident at least once."""
    rated: int = 0
    rating_sum: int = 0
    accept_hist: Histogram = field(default_factory=Histogram)
    """Minutes from filing to acceptance."""
    first_reply_hist: Histogram = field(default_factory=Histogram)
    """Minutes from filing to the company's first answer to the resident."""
    finish_hist: Histogram = field(default_factory=Histogram)
    """Minutes from filing to done (the last done, for a ticket reopened and fixed again)."""

    def add(self, other: Tally) -> Tally:
        """Add the other tally into this one (and return it)."""
        for f in fields(self):
            mine = getattr(self, f.name)
            if isinstance(mine, Histogram):
                mine.merge(getattr(other, f.name))
            else:
                setattr(self, f.name, mine + getattr(other, f.name))
        return self

    @classmethod
    def total(cls, tallies: Iterable[Tally]) -> Tally:
        result = cls()
        for tally in tallies:
            result.add(tally)
        return result

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> Tally:
        """A tally from a rollup row (counts as numbers, histograms as JSON text)."""
        values = {}
        for f in fields(cls):
            value = row.get(f.name)
            if f.name.endswith("_hist"):
                values[f.name] = Histogram.from_json(value)  # type: ignore[arg-type]
            else:
                values[f.name] = int(value or 0)  # type: ignore[arg-type]
        return cls(**values)


COUNT_FIELDS = tuple(f.name for f in fields(Tally) if not f.name.endswith("_hist"))
HIST_FIELDS = tuple(f.name for f in fields(Tally) if f.name.endswith("_hist"))


@dataclass(frozen=True)
class Split:
    """The figures of one set of tickets: all of a period's, or its working or non-working days'."""

    filed: int
    emergency: int
    decided: int
    overdue: int
    overdue_share: float | None
    median_accept: float | None
    """Minutes."""
    median_first_reply: float | None
    median_finish: float | None
    reopened_share: float | None
    """Reopened by the resident among tickets done at least once."""
    average_rating: float | None
    rated: int

    @classmethod
    def of(cls, tally: Tally) -> Split:
        return cls(
            filed=tally.filed,
            emergency=tally.emergency,
            decided=tally.decided,
            overdue=tally.overdue,
            overdue_share=share(tally.overdue, tally.decided),
            median_accept=tally.accept_hist.median(),
            median_first_reply=tally.first_reply_hist.median(),
            median_finish=tally.finish_hist.median(),
            reopened_share=share(tally.reopened, tally.done),
            average_rating=mean(tally.rating_sum, tally.rated),
            rated=tally.rated,
        )


@dataclass(frozen=True)
class Shares:
    """Overdue shares of a window: all tickets, working days', non-working days'."""

    total: float | None
    working: float | None
    nonworking: float | None

    @classmethod
    def of(cls, working: Tally, nonworking: Tally) -> Shares:
        return cls(
            share(working.overdue + nonworking.overdue, working.decided + nonworking.decided),
            share(working.overdue, working.decided),
            share(nonworking.overdue, nonworking.decided),
        )


@dataclass(frozen=True)
class CompanyFigures:
    """One line of the inspector's table: a company over the chosen period, and right now."""

    company_id: int
    company_name: str
    open_now: int
    overdue_now: int
    period: Split
    working: Split
    """Tickets filed on working days."""
    nonworking: Split
    """Tickets filed on weekends and Russian public holidays."""
    last_7: Shares
    last_30: Shares

    @property
    def filed(self) -> int:
        return self.period.filed

    @property
    def overdue_share(self) -> float | None:
        return self.period.overdue_share


def company_figures(
    company_id: int,
    company_name: str,
    *,
    open_now: int,
    overdue_now: int,
    working: Tally,
    nonworking: Tally,
    last_7: Shares,
    last_30: Shares,
) -> CompanyFigures:
    """A company's line from its period's tallies (working and non-working days apart)."""
    return CompanyFigures(
        company_id=company_id,
        company_name=company_name,
        open_now=open_now,
        overdue_now=overdue_now,
        period=Split.of(Tally.total([working, nonworking])),
        working=Split.of(working),
        nonworking=Split.of(nonworking),
        last_7=last_7,
        last_30=last_30,
    )


def worst_first(figures: Iterable[CompanyFigures]) -> list[CompanyFigures]:
    """Highest overdue share first; companies with nothing decided yet go last, by name."""
    return sorted(
        figures,
        key=lambda f: (
            f.overdue_share is None,
            -(f.overdue_share or 0.0),
            -f.overdue_now,
            f.company_name,
        ),
    )


# --- periods and weeks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Filing days from start to end, both included."""

    start: date
    end: date

    @classmethod
    def last(cls, days: int, today: date) -> Period:
        return cls(today - timedelta(days=days - 1), today)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


def week_start(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class TrendWeek:
    """One point of the weekly trend chart (tickets filed that week)."""

    start: date
    filed_working: int
    filed_nonworking: int
    share_working: float | None
    share_nonworking: float | None
    share_total: float | None

    @property
    def filed(self) -> int:
        return self.filed_working + self.filed_nonworking


def weekly(days: Iterable[tuple[date, bool, Tally]], *, weeks: int, today: date) -> list[TrendWeek]:
    """The last `weeks` weeks (Monday to Sunday, this week last) from daily tallies."""
    first = week_start(today) - timedelta(weeks=weeks - 1)
    sums: dict[tuple[date, bool], Tally] = {}
    for day, nonworking, tally in days:
        if day < first or day > today:
            continue
        sums.setdefault((week_start(day), nonworking), Tally()).add(tally)
    series = []
    for i in range(weeks):
        start = first + timedelta(weeks=i)
        working, off = sums.get((start, False), Tally()), sums.get((start, True), Tally())
        shares = Shares.of(working, off)
        series.append(
            TrendWeek(
                start=start,
                filed_working=working.filed,
                filed_nonworking=off.filed,
                share_working=shares.working,
                share_nonworking=shares.nonworking,
                share_total=shares.total,
            )
        )
    return series
