"""One plan: the model decides on the scene now and on the scene rolled forward step by
step (each step driving at the previous step's target speed), so the plan is a short
horizon of meta-actions, not one action repeated."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_llm_ros.params.specs import default_of
from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
from edge_llm_ros.reasoning.rules import RuleThresholds
from edge_llm_ros.remote.rollout import roll_scene
from edge_llm_ros.types import (
    ACTION_INDEX,
    SOURCE_FALLBACK_RULE,
    STATUS_OK,
    PlannedStep,
    PlanRequest,
    RemotePlan,
)

MAX_RATIONALE_CHARS = 200


def refusal(request: PlanRequest, status: int, reason: str, model_id: str = "") -> RemotePlan:
    return RemotePlan(request.request_id, request.vehicle_id, status, request.scene.stamp_ns,
                   request.sent_at_ns, rationale=reason[:MAX_RATIONALE_CHARS],
                   model_id=model_id)


@dataclass(frozen=True)
class PlannerConfig:
    """Defaults: the remote_planner node's parameters (declared once, in its spec)."""

    horizon_steps: int = default_of("remote_planner", "horizon_steps")
    step_s: float = default_of("remote_planner", "step_s")  # each planned step lasts this long
    time_to_live_s: float = default_of("remote_planner", "time_to_live_s")  # stale after
    step_budget_ms: float = default_of("remote_planner", "step_budget_ms")  # model time per step

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PlannerConfig:
        """From a remote_planner node's parameters."""
        return cls(horizon_steps=int(params["horizon_steps"]), step_s=float(params["step_s"]),
                   time_to_live_s=float(params["time_to_live_s"]),
                   step_budget_ms=float(params["step_budget_ms"]))

    @staticmethod
    def reasoner_config(params: Mapping[str, Any]) -> ReasonerConfig:
        """The per-step reasoner of a remote_planner node: its budget, tokens and fallback."""
        return ReasonerConfig(deadline_ms=float(params["step_budget_ms"]),
                              max_new_tokens=int(params["max_new_tokens"]),
                              publish_on_action=False,
                              thresholds=RuleThresholds.from_params(params))

    def __post_init__(self) -> None:
        if not 1 <= self.horizon_steps <= 16:
            raise ValueError(f"horizon_steps must be 1..16, got {self.horizon_steps}")
        if self.step_s <= 0 or self.time_to_live_s <= 0 or self.step_budget_ms <= 0:
            raise ValueError("step_s, time_to_live_s and step_budget_ms must be positive")


class RemotePlanner:
    """Plans one request at a time (the model is one shared resource)."""

    def __init__(self, reasoner: Reasoner, config: PlannerConfig = PlannerConfig()) -> None:
        self.reasoner = reasoner
        self.config = config

    @property
    def model_id(self) -> str:
        backend = self.reasoner.backend
        return "rules" if backend is None else backend.model_id

    def plan(self, request: PlanRequest, budget_ms: float) -> RemotePlan:
        """A plan within budget_ms; steps the model could not settle in time are the rule
        policy's (said in the rationale), so a plan always has its full horizon."""
        c = self.config
        started = time.perf_counter()
        scene = request.scene
        steps: list[PlannedStep] = []
        reasons: list[str] = []
        from_rules = 0
        previous = ""
        for k in range(c.horizon_steps):
            left_ms = budget_ms - (time.perf_counter() - started) * 1e3
            per_step = min(c.step_budget_ms, left_ms / (c.horizon_steps - k))
            decision = self.reasoner.decide(scene, request.instruction, budget_ms=per_step)
            from_rules += decision.source == SOURCE_FALLBACK_RULE
            steps.append(PlannedStep(ACTION_INDEX[decision.action],
                                        float(decision.target_speed_mps), c.step_s))
            if decision.action != previous:  # say why each time the plan changes action
                reasons.append(f"+{k * c.step_s:.0f}s {decision.action}: {decision.rationale}")
            previous = decision.action
            if k + 1 < c.horizon_steps:
                scene = roll_scene(scene, c.step_s, float(decision.target_speed_mps))
        rationale = "; ".join(reasons)
        if from_rules:
            rationale = f"[{from_rules}/{c.horizon_steps} steps by rules] " + rationale
        if request.keyframe_note:
            rationale = f"[{request.keyframe_note}] " + rationale
        return RemotePlan(request.request_id, request.vehicle_id, STATUS_OK,
                       request.scene.stamp_ns, request.sent_at_ns, steps,
                       rationale[:MAX_RATIONALE_CHARS], c.time_to_live_s,
                       (time.perf_counter() - started) * 1e3, self.model_id)
