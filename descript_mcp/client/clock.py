"""Descript's clock, as seen from ours: the offset read from the Date headers of its answers,
and from the `created_at` of the jobs our own requests created.

A job's `created_at` is on Descript's clock, a request's moments are on ours; telling whether a
job was created while a request was in flight needs the offset between them, not a guess.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

# How fast two clocks may drift apart, at most (100 ppm is ten times a poor quartz).
MAX_DRIFT = 1e-4
# How much later than the answer's second a Date may name, beyond its resolution. A server
# that caches its Date and refreshes it once a second off the second boundary (uvicorn does;
# so may a proxy) names the second of its last refresh: up to a second before the answer's.
# A Date cannot tell a clock that runs behind from a header that is late, so the allowance
# is in every answer's bound, until the client's own jobs show the clock without one; a Date
# later still moves the window early, and the job is then not claimed but named to the caller.
DATE_LAG = 1.0
# How far the clocks of Descript's own servers may disagree with the one that sent the Date.
# Small on purpose: too narrow a window fails safe (unconfirmed, the job named), too wide one
# claims others'.
SERVER_MARGIN = 0.01


class _Bounds:
    """An interval the offset lies in: narrowed by each observation, widened between them by
    the drift the clocks may have, started afresh by one that contradicts it (our clock was
    stepped)."""

    def __init__(self) -> None:
        self._low: float | None = None
        self._high: float | None = None
        self._at = 0.0

    def narrow(self, low: float, high: float, at: float) -> None:
        if self._low is not None and self._high is not None:
            drift = MAX_DRIFT * max(0.0, at - self._at)
            narrowed = max(low, self._low - drift), min(high, self._high + drift)
            if narrowed[0] <= narrowed[1]:
                low, high = narrowed
        self._low, self._high, self._at = low, high, at

    def at(self, moment: float) -> tuple[float, float] | None:
        if self._low is None or self._high is None:
            return None
        drift = MAX_DRIFT * abs(moment - self._at)
        return self._low - drift, self._high + drift


class ServerClock:
    """The offset of Descript's clock from ours (Descript minus us, in seconds), as an interval.

    A Date header names the second in which Descript answered, or, from a cache, one up to
    DATE_LAG earlier, at some time between the request being sent and its answer received; so
    each answer bounds the offset to [date - received, date + 1 + DATE_LAG - sent], and many
    answers to an interval DATE_LAG and a few milliseconds wide. The client's own jobs bound
    the clock that matters with no header in between: a job's `created_at` is that clock at
    some moment between its request's sending and its answer (`observe_created`). The offset
    lies in both intervals, to SERVER_MARGIN, where both are known.
    """

    def __init__(self) -> None:
        self._dates = _Bounds()
        self._jobs = _Bounds()

    def observe(self, date_header: str | None, *, sent: float, received: float) -> None:
        """Narrow the offset with an answer's Date header; `sent` and `received` are our wall
        clock (seconds since the epoch) when the request left and its answer arrived."""
        date = _seconds_of(date_header) if date_header else None
        if date is None:
            return
        self._dates.narrow(date - received, date + 1.0 + DATE_LAG - sent, received)

    def observe_created(self, created_at: datetime, *, sent: float, received: float) -> None:
        """Narrow the offset with the `created_at` of a job a request of ours created, sent
        and answered at `sent` and `received` (our clock)."""
        created = created_at.timestamp()
        self._jobs.narrow(created - received, created + _resolution(created_at) - sent, received)

    def offset(self, at: float) -> tuple[float, float] | None:
        """The interval the offset lies in at our time `at`; None before any was seen."""
        dates, jobs = self._dates.at(at), self._jobs.at(at)
        if dates is None or jobs is None:
            return dates or jobs
        low = max(jobs[0], dates[0] - SERVER_MARGIN)
        high = min(jobs[1], dates[1] + SERVER_MARGIN)
        # Apart: a Date later than allowed for; the jobs' own clock is the one that counts.
        return (low, high) if low <= high else jobs

    def window(self, sent: float, ended: float) -> tuple[float, float] | None:
        """When, on Descript's clock, a request sent at `sent` and failed or answered at
        `ended` (our clock) can have made something; None before any Date was seen."""
        offset = self.offset(ended)
        if offset is None:
            return None
        low, high = offset
        return sent + low - SERVER_MARGIN, ended + high + SERVER_MARGIN


@lru_cache(maxsize=4)
def _seconds_of(date_header: str) -> float | None:
    """A Date header as seconds since the epoch, None if unreadable. Every answer within a
    second carries the same header: it is parsed once, not on every request."""
    try:
        return parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def in_window(moment: datetime, window: tuple[float, float]) -> bool:
    """Whether `moment` can lie in the window: a time given to the whole second stands for
    any instant of that second."""
    start = moment.timestamp()
    return start <= window[1] and start + _resolution(moment) >= window[0]


def _resolution(moment: datetime) -> float:
    """How long an instant Descript gave as `moment` stands for: to the second or the ms."""
    return 1.0 if moment.microsecond == 0 else 0.001
