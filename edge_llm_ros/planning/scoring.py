"""Costs of one simulated candidate: safety, rules of the road, intent, progress, comfort.

Safety is scored on the nominal future and on the mean of the sampled ones
(a collision in a tenth of the samples costs a tenth of one in the nominal), per
object, so the objects that drive a decision can be named. Lower is better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_llm_ros.planning.rollout import EgoTrajectory, Outcome
from edge_llm_ros.reasoning.actions import (
    CHANGE_LANE_LEFT,
    CHANGE_LANE_RIGHT,
    PULL_OVER,
)
from edge_llm_ros.reasoning.rules import OperatorIntent


@dataclass(frozen=True)
class ScoreWeights:
    collision: float = 1000.0
    impact_full_mps: float = 15.0  # a collision at this closing speed or more costs it in full
    ttc_safe_s: float = 3.0  # TTC below this costs, growing quadratically to `ttc` at 0
    ttc: float = 200.0
    gap_safe_m: float = 3.0  # bumper gap below this (in the corridor) costs up to `gap`
    gap: float = 50.0
    rule_violation: float = 500.0
    speed_over_cap: float = 20.0  # per m/s of target above the limit or the operator's cap
    intent_pull_over: float = 30.0  # not pulling over when asked (above losing all progress)
    intent_lane_change: float = 60.0  # changing lanes when asked not to
    progress: float = 20.0  # the whole horizon lost at standstill
    comfort_decel_mps2: float = 2.0  # braking harder than this costs
    decel: float = 1.0  # per (m/s^2)^2 above comfort
    jerk: float = 0.05  # per m/s^3 of the largest jerk
    manoeuvre: float = 4.0  # a lane change is not free: only for a reason
    pull_over_unasked: float = 10.0
    sample_weight: float = 1.0  # weight of the sampled futures' mean next to the nominal


@dataclass(frozen=True)
class Score:
    total: float
    safety: float
    rules: float
    intent: float
    progress: float
    comfort: float
    per_object: np.ndarray  # (N,) safety + rules cost by object
    nominal_collision_s: float
    nominal_min_ttc_s: float
    violations: tuple[tuple[int, str], ...]


def safety_per_object(outcome: Outcome, w: ScoreWeights) -> np.ndarray:
    """(S, N) safety cost of every object in every future."""
    # Every collision is bad; a slower one is less bad (braking still counts when
    # nothing avoids contact).
    severity = 0.5 + 0.5 * np.clip(outcome.impact_mps / w.impact_full_mps, 0.0, 1.0)
    collide = np.isfinite(outcome.collision_s) * w.collision * severity
    ttc = np.clip((w.ttc_safe_s - outcome.min_ttc_s) / w.ttc_safe_s, 0.0, 1.0)
    gap = np.clip((w.gap_safe_m - outcome.min_gap_m) / w.gap_safe_m, 0.0, 1.0)
    return collide + w.ttc * ttc ** 2 + w.gap * gap


def score(ego: EgoTrajectory, outcome: Outcome, ego_speed_mps: float, cruise_mps: float,
          limit_mps: float, intent: OperatorIntent, initial_accel_mps2: float,
          w: ScoreWeights = ScoreWeights()) -> Score:
    """All costs of one candidate."""
    per = safety_per_object(outcome, w)
    n = per.shape[1]
    nominal = per[0] if n else np.zeros(0)
    sampled = per[1:].mean(axis=0) if per.shape[0] > 1 and n else np.zeros(n)
    per_object = nominal + w.sample_weight * sampled
    for i, _ in outcome.violations:
        per_object[i] += w.rule_violation
    safety = float(nominal.sum() + w.sample_weight * sampled.sum())
    rules = w.rule_violation * len(outcome.violations)

    intent_cost = 0.0
    cap = min(limit_mps if limit_mps > 0.0 else math.inf, intent.speed_cap_mps)
    if ego.target_speed_mps > cap + 0.5:
        intent_cost += w.speed_over_cap * (ego.target_speed_mps - cap)
    lateral = ego.action in (CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT)
    if intent.pull_over and ego.action != PULL_OVER:
        intent_cost += w.intent_pull_over
    if intent.pull_over and ego.action == CHANGE_LANE_LEFT:
        intent_cost += w.intent_pull_over  # away from the kerb the operator asked for
    if intent.avoid_lane_change and lateral:
        intent_cost += w.intent_lane_change

    reference_m = max(cruise_mps, 1.0) * max(float(ego.times_s[-1]), 1e-3)
    progress = w.progress * max(reference_m - float(ego.x_m[-1]), 0.0) / reference_m

    decel = max(-float(ego.a_mps2.min()), 0.0)
    accel = np.concatenate([[initial_accel_mps2], ego.a_mps2[1:]])
    dt = float(ego.times_s[1] - ego.times_s[0]) if len(ego.times_s) > 1 else 1.0
    jerk = float(np.abs(np.diff(accel)).max() / dt) if len(accel) > 1 else 0.0
    comfort = w.decel * max(decel - w.comfort_decel_mps2, 0.0) ** 2 + w.jerk * jerk
    if lateral:
        comfort += w.manoeuvre
    if ego.action == PULL_OVER and not intent.pull_over:
        comfort += w.pull_over_unasked

    total = safety + rules + intent_cost + progress + comfort
    return Score(total, safety, rules, intent_cost, progress, comfort, per_object,
                 float(outcome.collision_s[0].min()) if n else math.inf,
                 float(outcome.min_ttc_s[0].min()) if n else math.inf, outcome.violations)

