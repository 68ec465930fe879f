"""The teacher: the best (action, speed) by rollout, with its reasons, deterministic per seed."""

from __future__ import annotations

import pytest

from edge_llm_ros.planning.prediction import agents_from_scene
from edge_llm_ros.planning.teacher import TeacherConfig, candidate_speeds, teach
from edge_llm_ros.reasoning.rules import OperatorIntent, parse_instruction
from edge_llm_ros.tools.training.hard_cases import Actor, road_scene


def test_a_clear_road_is_driven_at_the_limit() -> None:
    d = teach(road_scene(12.0, [], limit_mps=13.9))
    assert (d.action, d.target_speed_mps, d.driver_object_ids) == ("keep_lane", 14.0, ())
    assert "clear" in d.rationale and d.compute_ms > 0.0


def test_a_slower_lead_is_overtaken_when_the_lane_is_free_else_followed_and_named() -> None:
    lead = Actor(3, "car", 25.0, 0.0, 8.0)
    assert teach(road_scene(14.0, [lead])).action == "change_lane_left"
    # Right-most lane, the left lane busy alongside: follow it.
    d = teach(road_scene(14.0, [lead, Actor(9, "car", -2.0, 3.5, 14.0)], lane_index=0))
    assert d.action == "slow_down" and d.target_speed_mps <= 8.0
    assert d.driver_object_ids[0] == 3 and "car 3" in d.rationale


def test_a_stopped_car_is_passed_when_the_next_lane_is_free_and_not_when_asked_to_stay() -> None:
    s = road_scene(10.0, [Actor(2, "car", 35.0, 0.0, 0.0)])
    assert teach(s).action in ("change_lane_left", "change_lane_right")
    d = teach(s, OperatorIntent(avoid_lane_change=True))
    assert d.action in ("slow_down", "stop") and d.target_speed_mps == 0.0


def test_the_operator_speed_cap_and_pull_over_are_honoured_when_safe() -> None:
    d = teach(road_scene(12.0, []), parse_instruction("school zone, keep it slow"))
    assert (d.action, d.target_speed_mps) == ("slow_down", 8.0)
    d = teach(road_scene(8.0, [], lane_index=0), parse_instruction("please pull over"))
    assert d.action == "pull_over"


def test_pull_over_and_yield_are_offered_only_when_they_make_sense() -> None:
    s = road_scene(10.0, [Actor(3, "car", 25.0, 0.0, 8.0)])
    offered = {a for a, _ in candidate_speeds(s, OperatorIntent(), agents_from_scene(s))}
    assert "pull_over" not in offered and "yield" not in offered
    s = road_scene(10.0, [Actor(3, "pedestrian", 25.0, -3.0, 0.0)])
    offered = {a for a, _ in candidate_speeds(s, OperatorIntent(pull_over=True),
                                              agents_from_scene(s))}
    assert {"pull_over", "yield"} <= offered


def test_forbidden_manoeuvres_are_never_chosen() -> None:
    # Stopped car ahead, left lane taken alongside, no lane right: a lane change is out.
    s = road_scene(12.0, [Actor(2, "car", 40.0, 0.0, 0.0), Actor(9, "car", -1.0, 3.5, 12.0)],
                   lane_index=0)
    d = teach(s)
    assert d.action in ("slow_down", "stop")
    assert all(c.action not in ("change_lane_left", "change_lane_right") for c in d.candidates)


def test_deterministic_for_a_seed_and_configurable_horizon_and_samples() -> None:
    s = road_scene(14.0, [Actor(3, "car", 12.0, 3.5, 10.0, -0.5), Actor(4, "car", 30.0, 0.0,
                                                                        12.0)])
    a, b = teach(s, config=TeacherConfig(seed=3)), teach(s, config=TeacherConfig(seed=3))
    assert [(c.action, c.target_speed_mps, c.score.total) for c in a.candidates] == \
        [(c.action, c.target_speed_mps, c.score.total) for c in b.candidates]
    long = teach(s, config=TeacherConfig(horizon_s=10.0, step_s=0.2, samples=64))
    assert len(long.best.trajectory.x_m) == 51
    with pytest.raises(ValueError, match="samples"):
        TeacherConfig(samples=-1)
    with pytest.raises(ValueError, match="step_s"):
        TeacherConfig(step_s=0.0)
