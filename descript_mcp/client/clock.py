"""Descript's clock, as seen from ours: the offset read from the Date headers of its answers.

A job's `created_at` is on Descript's clock, a request's moments are on ours; telling whether a
job was created while a request was in flight needs the offset between them, not a guess.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

# How fast two clocks may drift apart, at most (100 ppm is ten times a poor quartz).
MAX_DRIFT = 1e-4
# How much later than the answer's second a Date may name, beyond its resolution. A server
# that caches its Date and refreshes it once a second off the second boundary (uvicorn does;
# so may a proxy) names the second of its last refresh: up to a second before the answer's.
# A Date cannot tell a clock that runs behind from a header that is late, so the allowance
# is in every answer's bound; a Date later still moves the window early, and the job is then
# not claimed but named to the caller.
DATE_LAG = 1.0
# How far the clocks of Descript's own servers may disagree with the one that sent the Date.
# Small on purpose: too narrow a window fails safe (unconfirmed, the job named), too wide one
# claims others'.
SERVER_MARGIN = 0.01


class ServerClock:
    """The offset of Descript's clock from ours (Descript minus us, in seconds), as an interval.

    A Date header names the second in which Descript answered, or, from a cache, one up to
    DATE_LAG earlier, at some time between the request being sent and its answer received; so
    each answer bounds the offset to [date - received, date + 1 + DATE_LAG - sent]. The bounds
    of many answers intersect to an interval DATE_LAG and a few milliseconds wide. Between
    answers it widens by the drift the clocks may have; an answer that contradicts it (our
    clock was stepped) starts it afresh.
    """

    def __init__(self) -> None:
        self._low: float | None = None
        self._high: float | None = None
        self._at = 0.0

    def observe(self, date_header: str | None, *, sent: float, received: float) -> None:
        """Narrow the offset with an answer's Date header; `sent` and `received` are our wall
        clock (seconds since the epoch) when the request left and its answer arrived."""
        if not date_header:
            return
        try:
            date = parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError):
            return
        low, high = date - received, date + 1.0 + DATE_LAG - sent
        if self._low is not None and self._high is not None:
            drift = MAX_DRIFT * max(0.0, received - self._at)
            low, high = max(low, self._low - drift), min(high, self._high + drift)
            if low > high:  # a contradiction: our clock jumped; start again from this answer
                low, high = date - received, date + 1.0 + DATE_LAG - sent
        self._low, self._high, self._at = low, high, received

    def offset(self, at: float) -> tuple[float, float] | None:
        """The interval the offset lies in at our time `at`; None before any Date was seen."""
        if self._low is None or self._high is None:
            return None
        drift = MAX_DRIFT * abs(at - self._at)
        return self._low - drift, self._high + drift

    def window(self, sent: float, ended: float) -> tuple[float, float] | None:
        """When, on Descript's clock, a request sent at `sent` and failed or answered at
        `ended` (our clock) can have made something; None before any Date was seen."""
        offset = self.offset(ended)
        if offset is None:
            return None
        low, high = offset
        return sent + low - SERVER_MARGIN, ended + high + SERVER_MARGIN


def in_window(moment: datetime, window: tuple[float, float]) -> bool:
    """Whether `moment` can lie in the window: a time given to the whole second stands for
    any instant of that second."""
    start = moment.timestamp()
    width = 1.0 if moment.microsecond == 0 else 0.001
    return start <= window[1] and start + width >= window[0]
