"""Checks on sensor stamps every node applies before using a message.

A message whose stamp goes backwards (a replayed bag restarted, a driver
glitch), lies too far in the future (a bad clock) or is too old to act on is
dropped and reported, never silently used.
"""

from __future__ import annotations

from enum import Enum


class StampProblem(str, Enum):
    OUT_OF_ORDER = "out_of_order_stamp"
    STALE = "stale_stamp"
    FUTURE = "future_stamp"
    ZERO = "zero_stamp"


class StampGuard:
    """Per-input stamp checks.

    `max_age_ms` 0 disables the staleness check (bag replay without sim time
    makes every stamp look old); a stamp equal to the previous one is accepted
    (several messages may describe one sensor instant).
    """

    def __init__(self, max_age_ms: float = 0.0, max_future_ms: float = 500.0) -> None:
        self.max_age_ms = max_age_ms
        self.max_future_ms = max_future_ms
        self.last_stamp_ns: int | None = None

    def check(self, stamp_ns: int, now_ns: int) -> StampProblem | None:
        """None when the message may be used (and is then remembered)."""
        if stamp_ns <= 0:
            return StampProblem.ZERO
        if self.last_stamp_ns is not None and stamp_ns < self.last_stamp_ns:
            return StampProblem.OUT_OF_ORDER
        age_ms = (now_ns - stamp_ns) / 1e6
        if self.max_age_ms > 0 and age_ms > self.max_age_ms:
            return StampProblem.STALE
        if -age_ms > self.max_future_ms:
            return StampProblem.FUTURE
        self.last_stamp_ns = stamp_ns
        return None

    def describe(self, problem: StampProblem, stamp_ns: int, now_ns: int) -> str:
        if problem is StampProblem.OUT_OF_ORDER:
            return (f"stamp {stamp_ns / 1e9:.3f} s is older than the previous message's "
                    f"{(self.last_stamp_ns or 0) / 1e9:.3f} s; dropped")
        if problem is StampProblem.ZERO:
            return "stamp is zero (the source does not stamp its data); dropped"
        age_ms = (now_ns - stamp_ns) / 1e6
        if problem is StampProblem.STALE:
            return f"stamp is {age_ms:.0f} ms old (limit {self.max_age_ms:.0f} ms); dropped"
        return f"stamp is {-age_ms:.0f} ms in the future (clock mismatch?); dropped"

    def reset(self) -> None:
        self.last_stamp_ns = None
