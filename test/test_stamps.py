"""Stamp checks: out-of-order, stale, future and zero stamps are refused."""

from __future__ import annotations

from edge_llm_ros.stamps import StampGuard, StampProblem

S = 1_000_000_000


def test_in_order_stamps_pass_and_equal_stamps_are_allowed() -> None:
    guard = StampGuard(max_age_ms=500)
    assert guard.check(10 * S, 10 * S + 100_000_000) is None
    assert guard.check(10 * S, 10 * S + 200_000_000) is None
    assert guard.check(11 * S, 11 * S) is None


def test_out_of_order_is_refused_without_moving_the_reference() -> None:
    guard = StampGuard()
    assert guard.check(10 * S, 10 * S) is None
    assert guard.check(9 * S, 10 * S) is StampProblem.OUT_OF_ORDER
    assert "older than the previous" in guard.describe(StampProblem.OUT_OF_ORDER, 9 * S, 10 * S)
    assert guard.check(10 * S + 1, 10 * S) is None


def test_stale_future_and_zero() -> None:
    guard = StampGuard(max_age_ms=300, max_future_ms=100)
    assert guard.check(10 * S, 10 * S + 400_000_000) is StampProblem.STALE
    assert guard.check(10 * S, 10 * S - 200_000_000) is StampProblem.FUTURE
    assert guard.check(0, 10 * S) is StampProblem.ZERO
    assert "400 ms old" in guard.describe(StampProblem.STALE, 10 * S, 10 * S + 400_000_000)
    # staleness off: a replayed old bag on wall time is still used
    assert StampGuard(max_age_ms=0).check(1 * S, 1000 * S) is None
