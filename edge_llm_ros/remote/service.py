"""Admission for the remote planner: several vehicles, one model. A request that cannot be
planned before its deadline is answered "busy" at once, never left in a silent queue; a
newer request from the same vehicle supersedes its queued older one (which is told so)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edge_llm_ros.params.specs import default_of
from edge_llm_ros.remote.planner import RemotePlanner, refusal
from edge_llm_ros.types import STATUS_BUSY, STATUS_ERROR, PlanRequest, RemotePlan

CLOCK_SKEW_LIMIT_S = 5.0  # beyond this the vehicle's sent_at is not comparable with our clock


@dataclass(frozen=True)
class ServiceConfig:
    """Defaults: the remote_planner node's parameters (declared once, in its spec)."""

    max_queue: int = default_of("remote_planner", "max_queue")  # waiting, across vehicles
    min_plan_budget_ms: float = default_of("remote_planner", "min_plan_budget_ms")  # else busy
    compute_gain: float = 0.3
    compute_guess_ms: float = 300.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ServiceConfig:
        """From a remote_planner node's parameters."""
        return cls(max_queue=int(params["max_queue"]),
                   min_plan_budget_ms=float(params["min_plan_budget_ms"]))


@dataclass
class ServiceCounters:
    received: int = 0
    planned: int = 0
    busy_queue_full: int = 0
    busy_no_time: int = 0
    superseded: int = 0
    errors: int = 0


def remaining_ms(request: PlanRequest, now_ns: int) -> float:
    """Time left to the request's planning deadline, on the vehicle's send clock when the
    two clocks agree (synchronised hosts), else from receipt."""
    age_s = (now_ns - request.sent_at_ns) / 1e9
    if request.sent_at_ns <= 0 or not -CLOCK_SKEW_LIMIT_S < age_s < CLOCK_SKEW_LIMIT_S:
        age_s = (now_ns - request.received_ns) / 1e9
    return request.planning_deadline_ms - max(age_s, 0.0) * 1e3


class PlanService:
    def __init__(self, planner: RemotePlanner, reply: Callable[[RemotePlan], None],
                 clock_ns: Callable[[], int] = time.time_ns,
                 config: ServiceConfig = ServiceConfig()) -> None:
        self.planner = planner
        self.config = config
        self.counters = ServiceCounters()
        self.compute_ms = config.compute_guess_ms  # smoothed time of one plan
        self._reply = reply
        self._clock_ns = clock_ns
        self._queue: OrderedDict[str, PlanRequest] = OrderedDict()  # vehicle id -> request
        self._cond = threading.Condition()
        self._stop = False
        self._busy = False
        self._worker = threading.Thread(target=self._run, name="remote-planner", daemon=True)
        self._worker.start()

    def _expected_wait_ms(self) -> float:
        return (len(self._queue) + (1 if self._busy else 0)) * self.compute_ms

    def submit(self, request: PlanRequest) -> None:
        """Queue a request, or answer busy now. Every request gets exactly one reply."""
        now = self._clock_ns()
        refusals: list[RemotePlan] = []
        with self._cond:
            self.counters.received += 1
            left = remaining_ms(request, now)
            older = self._queue.pop(request.vehicle_id, None)
            if older is not None:
                self.counters.superseded += 1
                refusals.append(refusal(older, STATUS_BUSY, "superseded by a newer request "
                                        "from the same vehicle", self.planner.model_id))
            wait = self._expected_wait_ms()
            if len(self._queue) >= self.config.max_queue:
                self.counters.busy_queue_full += 1
                refusals.append(refusal(request, STATUS_BUSY, f"queue full ({len(self._queue)} "
                                        "requests waiting)", self.planner.model_id))
            elif wait + self.compute_ms > left:
                self.counters.busy_no_time += 1
                refusals.append(refusal(
                    request, STATUS_BUSY, f"cannot plan in time: ~{wait + self.compute_ms:.0f} "
                    f"ms needed, {left:.0f} ms left", self.planner.model_id))
            else:
                self._queue[request.vehicle_id] = request
                self._cond.notify()
        for out in refusals:
            self._reply(out)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait(timeout=0.5)
                if self._stop:
                    return
                _, request = self._queue.popitem(last=False)
                self._busy = True
            try:
                out = self._plan_one(request)
            finally:
                with self._cond:
                    self._busy = False
            self._reply(out)

    def _plan_one(self, request: PlanRequest) -> RemotePlan:
        left = remaining_ms(request, self._clock_ns())
        if left < self.config.min_plan_budget_ms:
            self.counters.busy_no_time += 1
            return refusal(request, STATUS_BUSY, f"only {left:.0f} ms left when its turn came",
                           self.planner.model_id)
        try:
            out = self.planner.plan(request, budget_ms=left)
        except Exception as exc:  # noqa: BLE001 - the vehicle is told, the service goes on
            self.counters.errors += 1
            return refusal(request, STATUS_ERROR, f"planner failed: {type(exc).__name__}: "
                           f"{exc}", self.planner.model_id)
        self.counters.planned += 1
        if math.isfinite(out.remote_compute_ms):
            self.compute_ms += self.config.compute_gain * (out.remote_compute_ms - self.compute_ms)
        return out

    def close(self) -> None:
        """Stop; queued requests are answered busy so none is left without a reply."""
        with self._cond:
            self._stop = True
            pending = list(self._queue.values())
            self._queue.clear()
            self._cond.notify_all()
        for request in pending:
            self._reply(refusal(request, STATUS_BUSY, "planner shutting down",
                                self.planner.model_id))
        self._worker.join(timeout=5.0)
