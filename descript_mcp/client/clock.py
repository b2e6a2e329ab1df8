"""Descript's clock, as seen from ours: the offset read from the Date headers of its answers.

A job's `created_at` is on Descript's clock, a request's moments are on ours; telling whether a
job was created while a request was in flight needs the offset between them, not a guess.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

# How fast two clocks may drift apart, at most (100 ppm is ten times a poor quartz).
MAX_DRIFT = 1e-4


class ServerClock:
    """The offset of Descript's clock from ours (Descript minus us, in seconds), as an interval.

    A Date header names the second in which Descript answered, some time between the request
    being sent and its answer received; so each answer bounds the offset to
    [date - received, date + 1 - sent]. The bounds of many answers intersect to a narrow
    interval. Between answers it widens by the drift the clocks may have; an answer that
    contradicts it (our clock was stepped) starts it afresh.
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
        low, high = date - received, date + 1.0 - sent
        if self._low is not None and self._high is not None:
            drift = MAX_DRIFT * max(0.0, received - self._at)
            low, high = max(low, self._low - drift), min(high, self._high + drift)
            if low > high:  # a contradiction: our clock jumped; start again from this answer
                low, high = date - received, date + 1.0 - sent
        self._low, self._high, self._at = low, high, received

    def offset(self, at: float) -> tuple[float, float] | None:
        """The interval the offset lies in at our time `at`; None before any Date was seen."""
        if self._low is None or self._high is None:
            return None
        drift = MAX_DRIFT * abs(at - self._at)
        return self._low - drift, self._high + drift
