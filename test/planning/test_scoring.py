"""Candidate costs: safety dominates, then rules of the road and intent, then progress."""

from __future__ import annotations

import numpy as np
import pytest

from edge_llm_ros.planning.prediction import agents_from_scene, predict
from edge_llm_ros.planning.rollout import ego_trajectory, simulate
from edge_llm_ros.planning.scoring import score
from edge_llm_ros.reasoning.rules import OperatorIntent
from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

TIMES = np.arange(0.0, 6.01, 0.25)


def _score(action: str, speed: float, ego_v: float, actors: list[Actor],
           intent: OperatorIntent | None = None, lane_index: int = 1, limit: float = 13.9):
    intent = intent or OperatorIntent()
    s = road_scene(ego_v, actors, lane_index=lane_index, limit_mps=limit)
    a = agents_from_scene(s)
    traj = ego_trajectory(action, speed, ego_v, lane_index, TIMES)
    out = simulate(traj, a, predict(a, TIMES, 8, 0), ego_v)
    return score(traj, out, ego_v, min(limit, intent.speed_cap_mps), limit, intent, 0.0)


def test_a_collision_outweighs_everything_and_is_charged_to_its_object() -> None:
    stopped = [Actor(5, "car", 25.0, 0.0, 0.0)]
    keep, stop = _score("keep_lane", 14.0, 12.0, stopped), _score("stop", 0.0, 12.0, stopped)
    assert keep.total > 500.0 > stop.total
    assert keep.per_object[0] >= 500.0 and keep.nominal_collision_s < 3.0


def test_on_a_clear_road_progress_and_comfort_favour_keeping_the_lane() -> None:
    keep, slow = _score("keep_lane", 14.0, 12.0, []), _score("slow_down", 6.0, 12.0, [])
    stop, left = _score("stop", 0.0, 12.0, []), _score("change_lane_left", 14.0, 12.0, [])
    assert keep.total < left.total < slow.total < stop.total
    assert keep.safety == 0.0 and stop.comfort > slow.comfort


def test_intent_costs_a_speed_above_the_cap_a_lane_change_and_ignoring_a_pull_over() -> None:
    capped = OperatorIntent(speed_cap_mps=8.0)
    assert _score("keep_lane", 14.0, 12.0, [], capped).intent == pytest.approx(120.0)
    no_change = OperatorIntent(avoid_lane_change=True)
    assert _score("change_lane_left", 14.0, 12.0, [], no_change).intent > 0.0
    pull = OperatorIntent(pull_over=True)
    assert _score("keep_lane", 14.0, 8.0, [], pull, lane_index=0).intent > 0.0
    assert _score("pull_over", 0.0, 8.0, [], pull, lane_index=0).intent == 0.0


def test_a_rule_violation_costs_like_a_near_collision() -> None:
    s = _score("change_lane_left", 12.0, 12.0, [Actor(1, "car", -3.0, 3.5, 12.0)])
    assert s.rules == 500.0 and s.per_object[0] >= 500.0
