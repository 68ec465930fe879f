"""Stage health: what a node reports on /diagnostics, kept free of rclpy.

A node feeds it timings, input arrivals and errors; it answers with a level
(OK / WARN / ERROR), a one-line message and key/value figures. It also decides
which errors to log: the first of each kind, so a flood of bad input logs once
but is counted in full.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class Level(IntEnum):
    """Same values as diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass
class HealthReport:
    level: Level
    message: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class _InputWatch:
    timeout_s: float
    last_arrival_s: float | None = None
    count: int = 0
    stale_reported: bool = False


class StageHealth:
    """Rolling health of one pipeline stage.

    `late_streak` consecutive late results make the stage ERROR (results stay
    late); a single slow frame only makes it WARN.
    """

    def __init__(
        self,
        stage: str,
        slow_processing_ms: float,
        late_latency_ms: float,
        window: int = 100,
        late_streak: int = 5,
        budget_ms: float | None = None,
    ) -> None:
        self.stage = stage
        # The end-to-end budget's share of this stage: its output is due this long
        # after the sensor stamp (None: the stage has no budget of its own).
        self.budget_ms = budget_ms
        self.slow_processing_ms = slow_processing_ms
        self.late_latency_ms = late_latency_ms
        self.late_streak = late_streak
        self._processing_ms: deque[float] = deque(maxlen=window)
        self._latency_ms: deque[float] = deque(maxlen=window)
        self._consecutive_late = 0
        self.frames = 0
        self.error_counts: dict[str, int] = {}
        self.last_error: str = ""
        self._errors_at_last_report = 0
        self._inputs: dict[str, _InputWatch] = {}
        self._conditions: dict[str, tuple[Level, str]] = {}
        self.counters: dict[str, int] = {}
        self.started_s: float | None = None

    # -- feeding -----------------------------------------------------------
    def record_timing(self, processing_ms: float, pipeline_latency_ms: float | None) -> None:
        self.frames += 1
        self._processing_ms.append(processing_ms)
        if pipeline_latency_ms is not None:
            self._latency_ms.append(pipeline_latency_ms)
            if pipeline_latency_ms > self.late_latency_ms:
                self._consecutive_late += 1
            else:
                self._consecutive_late = 0

    def record_error(self, kind: str, message: str) -> bool:
        """Count an error; True the first time this kind is seen (log it then)."""
        count = self.error_counts.get(kind, 0) + 1
        self.error_counts[kind] = count
        self.last_error = f"{kind}: {message}"
        return count == 1

    def watch_input(self, topic: str, timeout_s: float) -> None:
        self._inputs[topic] = _InputWatch(timeout_s)

    def record_input(self, topic: str, now_s: float) -> None:
        watch = self._inputs.setdefault(topic, _InputWatch(float("inf")))
        watch.last_arrival_s = now_s
        watch.count += 1
        watch.stale_reported = False

    def add_count(self, name: str, amount: int = 1) -> None:
        """A figure worth showing that is not an error (e.g. NaN points dropped
        from organised clouds, which is how such sensors mark no-returns)."""
        self.counters[name] = self.counters.get(name, 0) + amount

    def set_condition(self, name: str, level: Level, message: str) -> None:
        """A standing condition (e.g. incompatible QoS) until cleared."""
        self._conditions[name] = (level, message)

    def clear_condition(self, name: str) -> None:
        self._conditions.pop(name, None)

    def start(self, now_s: float) -> None:
        self.started_s = now_s

    # -- reading -------------------------------------------------------------
    def stale_inputs(self, now_s: float) -> list[str]:
        """Inputs silent for longer than their timeout (counted from start)."""
        stale = []
        for topic, watch in self._inputs.items():
            since = watch.last_arrival_s if watch.last_arrival_s is not None else self.started_s
            if since is not None and now_s - since > watch.timeout_s:
                stale.append(topic)
        return stale

    def newly_stale_inputs(self, now_s: float) -> list[str]:
        """Stale inputs not reported yet in this silent spell (warn once each)."""
        newly = []
        for topic in self.stale_inputs(now_s):
            watch = self._inputs[topic]
            if not watch.stale_reported:
                watch.stale_reported = True
                newly.append(topic)
        return newly

    def report(self, now_s: float) -> HealthReport:
        level = Level.OK
        reasons: list[str] = []
        values: dict[str, str] = {"frames": str(self.frames)}
        if self._processing_ms:
            proc = np.asarray(self._processing_ms)
            values["processing_time_ms_median"] = f"{np.median(proc):.2f}"
            values["processing_time_ms_max"] = f"{proc.max():.2f}"
            if proc[-1] > self.slow_processing_ms:
                level = max(level, Level.WARN)
                reasons.append(f"slow: {proc[-1]:.1f} ms > {self.slow_processing_ms:.0f} ms")
        if self._latency_ms:
            lat = np.asarray(self._latency_ms)
            values["pipeline_latency_ms_median"] = f"{np.median(lat):.2f}"
            values["pipeline_latency_ms_max"] = f"{lat.max():.2f}"
            if self.budget_ms:
                values["budget_ms"] = f"{self.budget_ms:.0f}"
                values["budget_used_median"] = f"{np.median(lat) / self.budget_ms:.2f}"
                values["within_budget_share"] = f"{np.mean(lat <= self.budget_ms):.3f}"
        if self._consecutive_late >= self.late_streak:
            level = Level.ERROR
            reasons.append(
                f"results late: {self._consecutive_late} in a row over "
                f"{self.late_latency_ms:.0f} ms"
            )
        for topic, watch in self._inputs.items():
            values[f"input {topic} messages"] = str(watch.count)
        for name, count in sorted(self.counters.items()):
            values[name] = str(count)
        stale = self.stale_inputs(now_s)
        if stale:
            level = max(level, Level.WARN)
            reasons.append(f"no input for a while on {', '.join(stale)}")
        total_errors = sum(self.error_counts.values())
        for kind, count in sorted(self.error_counts.items()):
            values[f"errors {kind}"] = str(count)
        if total_errors > self._errors_at_last_report:
            level = max(level, Level.WARN)
            reasons.append(
                f"{total_errors - self._errors_at_last_report} bad input(s) since last report; "
                f"last: {self.last_error}"
            )
        self._errors_at_last_report = total_errors
        for cond_level, cond_message in self._conditions.values():
            level = max(level, cond_level)
            reasons.append(cond_message)
        message = "; ".join(reasons) if reasons else "ok"
        return HealthReport(Level(level), message, values)
