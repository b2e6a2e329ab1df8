"""Descript's clock read off its Date headers: an interval that narrows, and starts afresh when
our clock jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import pytest

from descript_mcp.client.clock import ServerClock
from descript_mcp.client.submission import in_window

NOW = 1_800_000_000.0  # a whole second


def date(at: float) -> str:
    return formatdate(at, usegmt=True)


def test_nothing_is_known_before_a_date_is_seen() -> None:
    clock = ServerClock()
    clock.observe(None, sent=NOW, received=NOW)
    clock.observe("not a date", sent=NOW, received=NOW)
    assert clock.offset(NOW) is None


def test_answers_on_both_sides_of_a_second_narrow_the_offset() -> None:
    """Descript runs 90.3 s ahead. One answer bounds that to a second; an answer just before
    its second turns, and one just after, bound it to their round trips."""
    clock = ServerClock()
    skew = 90.3
    clock.observe(date(NOW + 0.5 + skew), sent=NOW + 0.49, received=NOW + 0.51)
    low, high = clock.offset(NOW)  # type: ignore[misc]
    assert high - low == pytest.approx(1.0, abs=0.03)
    # Server time 1800000091.99 (sent 1.685, answered 1.69): the second has not turned yet.
    clock.observe(date(NOW + 1.69 + skew), sent=NOW + 1.685, received=NOW + 1.695)
    # Server time 1800000092.005: it has.
    clock.observe(date(NOW + 1.705 + skew), sent=NOW + 1.70, received=NOW + 1.71)
    low, high = clock.offset(NOW + 2)  # type: ignore[misc]
    assert low <= skew <= high
    assert high - low < 0.05


def test_a_jump_of_our_clock_starts_afresh() -> None:
    clock = ServerClock()
    clock.observe(date(NOW), sent=NOW, received=NOW + 0.01)
    clock.observe(date(NOW + 3600), sent=NOW + 10, received=NOW + 10.01)  # we jumped an hour
    low, high = clock.offset(NOW + 10)  # type: ignore[misc]
    assert low <= 3590 <= high


def test_the_window_reaches_back_no_further_than_the_clock_allows() -> None:
    """A second-precise `created_at` stands for its whole second."""
    moment = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    start = moment.timestamp()
    assert in_window(moment, (start + 0.5, start + 0.6))
    assert not in_window(moment, (start + 1.01, start + 2))
    precise = moment + timedelta(milliseconds=300)
    assert not in_window(precise, (start + 0.5, start + 0.6))
