"""Descript's clock read off its Date headers: an interval that narrows, and starts afresh when
our clock jumps."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import pytest

from descript_mcp.client.clock import DATE_LAG, SERVER_MARGIN, ServerClock, in_window

NOW = 1_800_000_000.0  # a whole second


def date(at: float) -> str:
    return formatdate(at, usegmt=True)


def test_nothing_is_known_before_a_date_is_seen() -> None:
    clock = ServerClock()
    clock.observe(None, sent=NOW, received=NOW)
    clock.observe("not a date", sent=NOW, received=NOW)
    assert clock.offset(NOW) is None


def test_answers_on_both_sides_of_a_second_narrow_the_offset() -> None:
    """Descript runs 90.3 s ahead. One answer bounds that to a second and the DATE_LAG a
    cached Date may add; an answer just before its second turns, and one just after, bound it
    from below to their round trips. From above, a Date that lags cannot be told from a clock
    that runs behind: the interval keeps DATE_LAG of width."""
    clock = ServerClock()
    skew = 90.3
    clock.observe(date(NOW + 0.5 + skew), sent=NOW + 0.49, received=NOW + 0.51)
    low, high = clock.offset(NOW)  # type: ignore[misc]
    assert high - low == pytest.approx(1.0 + DATE_LAG, abs=0.03)
    # Server time 1800000091.99 (sent 1.685, answered 1.69): the second has not turned yet.
    clock.observe(date(NOW + 1.69 + skew), sent=NOW + 1.685, received=NOW + 1.695)
    # Server time 1800000092.005: it has.
    clock.observe(date(NOW + 1.705 + skew), sent=NOW + 1.70, received=NOW + 1.71)
    low, high = clock.offset(NOW + 2)  # type: ignore[misc]
    assert skew - 0.05 < low <= skew <= high < skew + DATE_LAG + 0.05


@pytest.mark.parametrize("refreshed_at", [0.0, 0.3, 0.7, 0.99])
def test_a_date_cached_and_refreshed_once_a_second_never_rules_out_the_offset(
    refreshed_at: float,
) -> None:
    """As uvicorn's Date: refreshed once a second, `refreshed_at` past each second, so that it
    names a second up to one more before the answer's. Over 40 answers, some naming a second
    that had ended before the request was sent, the interval always holds the true offset."""
    clock = ServerClock()
    skew = -12.6
    rng = random.Random(refreshed_at)
    sent = NOW + 0.01
    for _ in range(40):
        received = sent + rng.uniform(0.001, 0.05)
        answered = rng.uniform(sent, received) + skew
        refreshed = math.floor(answered - refreshed_at) + refreshed_at
        clock.observe(date(refreshed), sent=sent, received=received)
        low, high = clock.offset(received)  # type: ignore[misc]
        assert low <= skew <= high
        sent = received + rng.uniform(0.0, 0.3)


def test_the_window_reaches_the_date_lag_past_the_failure_and_no_further() -> None:
    """Descript's clock known to within a few milliseconds from below: a request sent at 10.2
    and failed at 10.4 can have made its job from 10.2 (less the servers' margin) to 10.4 plus
    DATE_LAG and the margin, on Descript's clock."""
    clock = ServerClock()
    clock.observe(date(NOW + 0.995), sent=NOW + 0.99, received=NOW + 1.0)
    clock.observe(date(NOW + 1.005), sent=NOW + 1.0, received=NOW + 1.01)
    start, end = clock.window(NOW + 10.2, NOW + 10.4)  # type: ignore[misc]
    assert NOW + 10.2 - SERVER_MARGIN - 0.02 <= start <= NOW + 10.2 - SERVER_MARGIN
    assert end == pytest.approx(NOW + 10.4 + DATE_LAG + SERVER_MARGIN, abs=0.02)


def test_the_clients_own_jobs_take_back_the_allowance_for_a_late_date() -> None:
    """Dates alone leave DATE_LAG of width above the offset. A job of ours, whose `created_at`
    lies between its request's sending and its answer, bounds the clock that stamps it to that
    round trip; to the second, to a second. Dates later than allowed for, which contradict the
    jobs, give way to them."""
    skew = 4.25

    def created(at: float, whole: bool = False) -> datetime:
        moment = datetime.fromtimestamp(at + skew, UTC)
        return moment.replace(microsecond=0) if whole else moment

    clock = ServerClock()
    clock.observe(date(NOW + 0.74 + skew), sent=NOW + 0.735, received=NOW + 0.745)
    clock.observe(date(NOW + 0.76 + skew), sent=NOW + 0.755, received=NOW + 0.765)
    low, high = clock.offset(NOW + 1)  # type: ignore[misc]
    assert high - low == pytest.approx(DATE_LAG, abs=0.05)
    clock.observe_created(created(NOW + 2.004), sent=NOW + 2.0, received=NOW + 2.01)
    low, high = clock.offset(NOW + 2.01)  # type: ignore[misc]
    assert skew - 0.011 < low <= skew <= high < skew + 0.005

    whole = ServerClock()
    whole.observe_created(created(NOW + 2.3, whole=True), sent=NOW + 2.29, received=NOW + 2.31)
    low, high = whole.offset(NOW + 2.31)  # type: ignore[misc]
    assert low <= skew <= high
    assert high - low == pytest.approx(1.02, abs=0.001)

    proxied = ServerClock()  # every Date three seconds old
    proxied.observe(date(NOW + 0.5 + skew - 3), sent=NOW + 0.49, received=NOW + 0.51)
    proxied.observe_created(created(NOW + 0.604), sent=NOW + 0.6, received=NOW + 0.61)
    low, high = proxied.offset(NOW + 0.61)  # type: ignore[misc]
    assert low <= skew <= high < skew + 0.01


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
