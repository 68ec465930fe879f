"""The teacher: every meta-action at a few target speeds, rolled out and scored; the cheapest
wins, with a short rationale and the objects that drove it.

It is better than the rule policy because it looks at where traffic will be
(lateral motion included, plus sampled surprises) rather than at thresholds on
the current scene, and it weighs progress and comfort against risk instead of
taking the first rule that fires. It still honours the safety envelope's
forbidden manoeuvres (reasoning/envelope.py), so what it teaches is what the
vehicle is allowed to do. Deterministic for a seed; horizon, step and sample
count are parameters (the remote can afford longer ones).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from edge_llm_ros.planning.prediction import (
    Agents,
    PredictionConfig,
    agents_from_scene,
    predict,
)
from edge_llm_ros.planning.rollout import EgoModel, EgoTrajectory, ego_trajectory, simulate
from edge_llm_ros.planning.scoring import Score, ScoreWeights, score
from edge_llm_ros.reasoning.actions import (
    CHANGE_LANE_LEFT,
    CHANGE_LANE_RIGHT,
    KEEP_LANE,
    MAX_RATIONALE_CHARS,
    PULL_OVER,
    SLOW_DOWN,
    STOP,
    YIELD,
)
from edge_llm_ros.reasoning.rules import (
    VULNERABLE_CLASSES,
    OperatorIntent,
    RuleThresholds,
    envelope_of,
)
from edge_llm_ros.types import SceneSummary


@dataclass(frozen=True)
class TeacherConfig:
    horizon_s: float = 6.0
    step_s: float = 0.25
    samples: int = 16  # sampled futures besides the nominal one
    sample_horizon_s: float = 3.0  # sampled surprises count until the plan is renewed
    seed: int = 0
    respect_envelope: bool = True  # never choose a manoeuvre the envelope forbids
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    prediction: PredictionConfig = field(default_factory=PredictionConfig)
    ego: EgoModel = field(default_factory=EgoModel)
    thresholds: RuleThresholds = field(default_factory=RuleThresholds)

    def __post_init__(self) -> None:
        if not (0.0 < self.step_s <= self.horizon_s <= 60.0):
            raise ValueError(f"need 0 < step_s <= horizon_s <= 60, got {self.step_s}, "
                             f"{self.horizon_s}")
        if not 0 <= self.samples <= 4096:
            raise ValueError(f"samples must be 0..4096, got {self.samples}")

    @property
    def times_s(self) -> np.ndarray:
        steps = int(round(self.horizon_s / self.step_s))
        return np.arange(steps + 1, dtype=float) * self.step_s


@dataclass(frozen=True)
class Candidate:
    action: str
    target_speed_mps: float
    score: Score
    trajectory: EgoTrajectory


@dataclass(frozen=True)
class TeacherDecision:
    action: str
    target_speed_mps: float
    driver_object_ids: tuple[int, ...]
    rationale: str
    candidates: tuple[Candidate, ...]  # all scored, best first
    compute_ms: float

    @property
    def best(self) -> Candidate:
        return self.candidates[0]


def _finite(x: float, default: float) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else default


def candidate_speeds(scene: SceneSummary, intent: OperatorIntent, agents: Agents
                     ) -> list[tuple[str, float]]:
    """(action, target speed) pairs worth simulating, in a fixed order."""
    ego_v = max(_finite(scene.ego.speed_mps, 0.0), 0.0)
    limit = _finite(scene.ego.speed_limit_mps, 0.0)
    cap = min(limit if limit > 0.0 else math.inf, intent.speed_cap_mps)
    cruise = float(round(cap)) if math.isfinite(cap) else float(round(ego_v))
    ahead = (agents.x_m > 0.0) & (np.abs(agents.y_m) < 3.5) & (agents.vx_mps >= 0.0)
    slower = {0.0, ego_v - 3.0, 0.5 * ego_v, min(cap, ego_v), *agents.vx_mps[ahead].tolist(),
              *(agents.vx_mps[ahead] - 2.0).tolist()}
    near = (agents.x_m > -5.0) & (agents.x_m < 60.0) & (np.abs(agents.y_m) < 5.25)
    vulnerable = any(c in VULNERABLE_CLASSES and n for c, n in zip(agents.classes, near,
                                                                    strict=True))
    out: list[tuple[str, float]] = []
    if cruise >= ego_v - 0.5:
        out.append((KEEP_LANE, cruise))
    if ego_v > 1.0:
        for v in sorted({float(round(min(max(v, 0.0), ego_v - 1.0))) for v in slower},
                        reverse=True):
            out.append((SLOW_DOWN, v))
    if vulnerable:  # yielding is to pedestrians and cyclists near the path
        out.append((YIELD, float(min(round(ego_v), 3))))
    out.append((STOP, 0.0))
    for lane_change in (CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT):
        for v in sorted({cruise, float(round(min(ego_v, cruise)))}, reverse=True):
            out.append((lane_change, v))
    if intent.pull_over:  # a pull over is the operator's call, not a traffic response
        out.append((PULL_OVER, 0.0))
    return out


NO_INTENT = OperatorIntent()


def teach(scene: SceneSummary, intent: OperatorIntent = NO_INTENT,
          config: TeacherConfig | None = None) -> TeacherDecision:
    """The best (action, target speed) for the scene and the operator's intent."""
    t0 = time.perf_counter()
    config = config or TeacherConfig()
    agents = agents_from_scene(scene)
    times = config.times_s
    pred = predict(agents, times, config.samples, config.seed, config.prediction)
    ego_v = max(_finite(scene.ego.speed_mps, 0.0), 0.0)
    limit = _finite(scene.ego.speed_limit_mps, 0.0)
    cap = min(limit if limit > 0.0 else math.inf, intent.speed_cap_mps)
    cruise = cap if math.isfinite(cap) else ego_v
    env = envelope_of(scene, config.thresholds)
    forbidden = env.forbidden if config.respect_envelope else frozenset()
    scored: list[tuple[float, int, Candidate]] = []
    for order, (action, speed) in enumerate(candidate_speeds(scene, intent, agents)):
        if action in forbidden:
            continue
        traj = ego_trajectory(action, speed, ego_v, scene.ego.lane_index, times, config.ego)
        outcome = simulate(traj, agents, pred, ego_v, config.thresholds.oncoming_reach_s,
                           sample_horizon_s=config.sample_horizon_s, model=config.ego)
        s = score(traj, outcome, ego_v, cruise, limit, intent,
                  _finite(scene.ego.acceleration_mps2, 0.0), config.weights)
        scored.append((s.total, order, Candidate(action, speed, s, traj)))
    scored.sort(key=lambda c: (c[0], c[1]))
    ranked = tuple(c for _, _, c in scored)
    best = ranked[0]
    blocked, blockers = env.why(PULL_OVER), env.blockers(PULL_OVER)
    pull = next((c for c in ranked if c.action == PULL_OVER), None)
    if not blocked and pull is not None and pull.score.violations:
        k, rule = pull.score.violations[0]
        blocked, blockers = f"{rule} by {_name(agents, k)}", (int(agents.ids[k]),)
    ids, rationale = explain(best, ranked, agents, intent, blocked, blockers)
    return TeacherDecision(best.action, best.target_speed_mps, ids, rationale, ranked,
                           (time.perf_counter() - t0) * 1000.0)


def explain(best: Candidate, ranked: tuple[Candidate, ...], agents: Agents,
            intent: OperatorIntent, pull_over_blocked: str = "",
            blockers: tuple[int, ...] = ()) -> tuple[tuple[int, ...], str]:
    """The objects that ruled out faster alternatives, and a one-line reason."""
    head = f"{best.action} {best.target_speed_mps:.0f} m/s"
    # The yardstick: the most progressive alternative (the first in rank among equals).
    others = [c for c in ranked[1:] if c.score.progress <= best.score.progress + 1e-6]
    ref = None
    if others:
        fastest = min(c.score.progress for c in others)
        ref = max((c for c in others if c.score.progress <= fastest + 1e-6),
                  key=lambda c: float(np.clip(c.score.per_object - best.score.per_object, 0.0,
                                              None).sum()))
    if intent.pull_over and best.action != PULL_OVER and pull_over_blocked:
        ids = tuple(int(i) for i in blockers)
        return ids, f"{head}: pull over waits, {pull_over_blocked}"[:MAX_RATIONALE_CHARS]
    if ref is not None and len(agents):
        extra = ref.score.per_object - best.score.per_object
        order = [int(i) for i in np.argsort(-extra, kind="stable") if extra[i] > 1.0][:3]
        if order:
            i = order[0]
            reason = _why(ref, i, agents)
            ids = tuple(int(agents.ids[k]) for k in order)
            return ids, f"{head}: {ref.action} {ref.target_speed_mps:.0f} would {reason}"[
                :MAX_RATIONALE_CHARS]
    if best.action == PULL_OVER and intent.pull_over:
        return (), f"{head}: operator asked to pull over, shoulder clear"
    if ref is not None and ref.score.intent > best.score.intent:
        return (), f"{head}: the operator's request"
    risky = [int(i) for i in np.argsort(-best.score.per_object, kind="stable")
             if best.score.per_object[i] > 1.0][:3]
    if risky:
        return tuple(int(agents.ids[k]) for k in risky), \
            f"{head}: least risk near {_name(agents, risky[0])}"[:MAX_RATIONALE_CHARS]
    return (), f"{head}: path clear"


def _name(agents: Agents, i: int) -> str:
    return f"{agents.classes[i]} {int(agents.ids[i])}"


def _why(c: Candidate, i: int, agents: Agents) -> str:
    s = c.score
    for k, rule in s.violations:
        if k == i:
            return f"break a rule: {rule} by {_name(agents, i)}"
    if s.nominal_collision_s < math.inf and s.per_object[i] >= 0.5 * ScoreWeights().collision:
        return f"hit {_name(agents, i)}"
    return f"come too close to {_name(agents, i)}"

