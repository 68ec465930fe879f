"""The remote planner's core: rollouts move the scene forward, plans cover the horizon,
and admission answers every request exactly once (plan or busy), across vehicles."""

from __future__ import annotations

import threading
import time

import pytest

from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
from edge_llm_ros.remote.planner import PlannerConfig, RemotePlanner
from edge_llm_ros.remote.rollout import roll_scene
from edge_llm_ros.remote.service import PlanService, ServiceConfig, remaining_ms
from edge_llm_ros.types import (
    ACTION_INDEX,
    LANE_EGO,
    STATUS_BUSY,
    STATUS_OK,
    EgoState,
    PlanRequest,
    RemotePlan,
    SceneSummary,
    TrackedObject,
)

NOW = 10_000_000_000


def obj(track_id: int, cls: str, distance: float, closing: float) -> TrackedObject:
    return TrackedObject(track_id, cls, 0.9, (distance + 4.0, 0.0, 0.8), (4.5, 1.8, 1.5),
                            (0.0, 0.0, 0.0), distance, closing, distance / closing, LANE_EGO)


def scene(speed: float, *objects: TrackedObject) -> SceneSummary:
    return SceneSummary(1_000_000_000, EgoState(speed_mps=speed, speed_limit_mps=13.9,
                                                      lane_index=1), list(objects))


def request(rid: str, vehicle: str = "v1", deadline_ms: float = 2000.0, sent_ns: int = NOW,
            received_ns: int = NOW, speed: float = 12.0, *objects) -> PlanRequest:
    return PlanRequest(rid, vehicle, scene(speed, *objects), "", deadline_ms, sent_ns,
                         received_ns)


def test_rollout_closes_the_gap_and_updates_time_to_collision() -> None:
    s = scene(10.0, obj(1, "car", 40.0, 5.0))
    later = roll_scene(s, 2.0, 10.0)
    o = later.objects[0]
    assert o.distance_m == pytest.approx(30.0)
    assert o.time_to_collision_s == pytest.approx(6.0)
    assert later.stamp_ns == s.stamp_ns + 2_000_000_000
    # Slowing to the lead car's speed stops the closing; passing objects drop out.
    slowed = roll_scene(s, 2.0, 5.0).objects[0]
    assert slowed.relative_speed_mps == pytest.approx(0.0)
    assert slowed.time_to_collision_s == float("inf")
    assert roll_scene(scene(20.0, obj(2, "car", 5.0, 20.0)), 2.0, 20.0).objects == []


def test_remaining_time_uses_the_send_clock_unless_the_clocks_disagree() -> None:
    r = request("a", sent_ns=NOW - 300_000_000, received_ns=NOW - 100_000_000)
    assert remaining_ms(r, NOW) == pytest.approx(1700.0)
    skewed = request("b", sent_ns=NOW - 60_000_000_000, received_ns=NOW - 100_000_000)
    assert remaining_ms(skewed, NOW) == pytest.approx(1900.0)


def test_the_tuned_model_plans_a_braking_horizon(tuned_backend: object) -> None:
    reasoner = Reasoner(tuned_backend, ReasonerConfig(deadline_ms=2000.0, max_new_tokens=48,
                                                      publish_on_action=False))
    try:
        planner = RemotePlanner(reasoner, PlannerConfig(horizon_steps=3, step_budget_ms=2000))
        out = planner.plan(request("p", "v1", 8000.0, NOW, NOW, 14.0,
                                   obj(7, "car", 25.0, 8.0)), budget_ms=8000.0)
    finally:
        reasoner.wait_idle()
        reasoner.backend = None  # the session fixture owns the backend
        reasoner.close()
    assert out.status == STATUS_OK and len(out.steps) == 3
    assert out.steps[0].action in (ACTION_INDEX["slow_down"], ACTION_INDEX["stop"])
    assert out.steps[0].target_speed_mps < 14.0
    assert out.model_id.endswith(".gguf") and out.remote_compute_ms > 0
    assert 0 < len(out.rationale) <= 200
    print(out)


class _SlowRules(RemotePlanner):
    """The rule planner made slow by real waiting, to fill the queue."""

    def plan(self, request: PlanRequest, budget_ms: float) -> RemotePlan:
        time.sleep(0.3)
        return super().plan(request, budget_ms)


def test_admission_answers_every_request_once_and_sheds_with_busy() -> None:
    answers: list[RemotePlan] = []
    lock = threading.Lock()

    def reply(out: RemotePlan) -> None:
        with lock:
            answers.append(out)

    clock = [NOW]
    planner = _SlowRules(Reasoner(None, ReasonerConfig()), PlannerConfig(horizon_steps=2))
    service = PlanService(planner, reply, clock_ns=lambda: clock[0],
                          config=ServiceConfig(max_queue=2, compute_guess_ms=300.0))
    service.submit(request("v5-late", "v5", 200.0))
    ids = ["v5-late"]
    # Four vehicles at once, one of them twice (the newer supersedes), one with no time.
    for i, vehicle in enumerate(["v1", "v2", "v3", "v4", "v1"]):
        ids.append(f"{vehicle}-{i}")
        service.submit(request(ids[-1], vehicle, 5000.0))
    deadline = time.monotonic() + 10.0
    while len(answers) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    service.close()
    by_id = {a.request_id: a for a in answers}
    assert sorted(by_id) == sorted(ids) and len(answers) == len(ids)  # exactly once each
    assert by_id["v5-late"].status == STATUS_BUSY and "in time" in by_id["v5-late"].rationale
    assert by_id["v1-0"].status == STATUS_BUSY and "superseded" in by_id["v1-0"].rationale
    busy = [a for a in answers if a.status == STATUS_BUSY]
    planned = [a for a in answers if a.status == STATUS_OK]
    assert any("queue full" in a.rationale for a in busy)
    assert len(planned) >= 2 and all(len(a.steps) == 2 for a in planned)
    assert service.counters.received == len(ids)
