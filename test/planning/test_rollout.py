"""Ego rollout per candidate and its collisions, gaps, TTC and road-rule checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_llm_ros.planning.prediction import agents_from_scene, predict
from edge_llm_ros.planning.rollout import ego_trajectory, simulate
from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

TIMES = np.arange(0.0, 6.01, 0.1)


def _outcome(action: str, speed: float, ego_v: float, actors: list[Actor], lane_index: int = 1):
    s = road_scene(ego_v, actors, lane_index=lane_index)
    a = agents_from_scene(s)
    traj = ego_trajectory(action, speed, ego_v, lane_index, TIMES)
    return a, simulate(traj, a, predict(a, TIMES, 0, 0), ego_v)


def test_speed_profiles_follow_the_action_limits() -> None:
    stop = ego_trajectory("stop", 0.0, 12.0, 1, TIMES)
    assert stop.v_mps[-1] == 0.0 and stop.a_mps2.min() == pytest.approx(-6.0)
    slow = ego_trajectory("slow_down", 6.0, 12.0, 1, TIMES)
    assert slow.v_mps[-1] == pytest.approx(6.0) and slow.a_mps2.min() == pytest.approx(-2.5)
    keep = ego_trajectory("keep_lane", 14.0, 12.0, 1, TIMES)
    assert keep.v_mps[-1] == pytest.approx(14.0) and keep.x_m[-1] > 12.0 * 6.0


def test_lateral_manoeuvres_move_sideways_and_a_standing_ego_does_not() -> None:
    left = ego_trajectory("change_lane_left", 12.0, 12.0, 1, TIMES)
    assert left.y_m[-1] == pytest.approx(3.5) and 0.0 < left.manoeuvre_end_s <= 6.0
    pull = ego_trajectory("pull_over", 0.0, 8.0, 0, TIMES)
    assert pull.y_m[-1] < -2.0 and pull.target_band_m[1] == pytest.approx(-1.75)
    standing = ego_trajectory("change_lane_left", 0.0, 0.0, 1, TIMES)
    assert np.all(standing.y_m == 0.0)


def test_a_stopped_car_ahead_is_hit_when_kept_at_speed_and_not_when_stopping() -> None:
    a, keep = _outcome("keep_lane", 12.0, 12.0, [Actor(1, "car", 30.0, 0.0, 0.0)])
    assert keep.collision_s[0, 0] == pytest.approx(2.5, abs=0.15)
    assert keep.impact_mps[0, 0] == pytest.approx(12.0, abs=0.1)
    _, stop = _outcome("stop", 0.0, 12.0, [Actor(1, "car", 30.0, 0.0, 0.0)])
    assert math.isinf(stop.collision_s[0, 0]) and stop.min_gap_m[0, 0] > 15.0


def test_a_cut_in_hits_a_car_that_keeps_its_lane_and_speed() -> None:
    _, out = _outcome("keep_lane", 15.0, 15.0, [Actor(1, "car", 6.0, 3.5, 11.0, -1.2)])
    assert math.isfinite(out.collision_s[0, 0])
    _, brake = _outcome("stop", 0.0, 15.0, [Actor(1, "car", 6.0, 3.5, 11.0, -1.2)])
    assert math.isinf(brake.collision_s[0, 0])


def test_a_follower_behind_in_our_lane_never_counts_against_braking() -> None:
    _, out = _outcome("stop", 0.0, 12.0, [Actor(1, "car", -8.0, 0.0, 12.0)])
    assert math.isinf(out.collision_s[0, 0]) and math.isinf(out.min_ttc_s[0, 0])


def test_road_rules_occupied_lane_shoulder_and_oncoming_traffic() -> None:
    _, out = _outcome("change_lane_left", 12.0, 12.0, [Actor(1, "car", -3.0, 3.5, 12.0)])
    assert out.violations == ((0, "target lane occupied"),)
    _, out = _outcome("change_lane_left", 12.0, 12.0, [Actor(1, "car", 80.0, 3.5, -14.0)],
                      lane_index=0)
    assert out.violations == ((0, "oncoming traffic in the target lane"),)
    _, out = _outcome("pull_over", 0.0, 8.0, [Actor(1, "cyclist", 0.0, -2.5, 7.0)],
                      lane_index=0)
    assert out.violations == ((0, "shoulder occupied"),)
    _, out = _outcome("change_lane_left", 12.0, 12.0, [Actor(1, "car", 70.0, 3.5, 12.0)])
    assert out.violations == ()
