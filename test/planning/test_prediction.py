"""Predicted motion: nominal constant velocity, lane-bounded lateral motion, seeded samples."""

from __future__ import annotations

import numpy as np
import pytest

from edge_llm_ros.planning.prediction import (
    PredictionConfig,
    agents_from_scene,
    lane_target_m,
    predict,
)
from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

TIMES = np.arange(0.0, 6.01, 0.25)


def test_agents_are_placed_in_the_path_frame_from_the_scene() -> None:
    s = road_scene(10.0, [Actor(3, "car", 20.0, 3.5, 6.0, -1.0),
                          Actor(4, "car", -10.0, 0.0, 12.0)])
    a = agents_from_scene(s)
    i, j = list(a.ids).index(3), list(a.ids).index(4)
    assert a.x_m[i] == pytest.approx(20.0 + 2.25, abs=0.01)  # gap + half its length
    assert a.y_m[i] == pytest.approx(3.5, abs=0.01) and a.vy_mps[i] == pytest.approx(-1.0)
    assert a.vx_mps[i] == pytest.approx(6.0, abs=0.01)
    assert a.follower[j] and not a.follower[i]  # behind us in our lane: its job to keep clear


def test_lateral_motion_ends_at_the_lane_centre_it_heads_for() -> None:
    y = np.array([4.0, 1.5, 0.2, -3.5, 2.0])
    vy = np.array([-1.0, -1.0, -1.0, 1.0, 0.0])
    assert lane_target_m(y, vy, 3.5)[:4].tolist() == [0.0, 0.0, -3.5, 0.0]
    assert np.isnan(lane_target_m(y, vy, 3.5)[4])
    s = road_scene(10.0, [Actor(3, "car", 20.0, 3.5, 10.0, -1.0)])
    p = predict(agents_from_scene(s), TIMES, 0, 0)
    assert p.y_m[0, 0, -1] == pytest.approx(0.0, abs=1e-9)  # in our lane, and it stays there
    assert p.x_m[0, 0, -1] - p.x_m[0, 0, 0] == pytest.approx(60.0, abs=0.1)


def test_samples_are_reproducible_for_a_seed_and_differ_across_seeds() -> None:
    s = road_scene(10.0, [Actor(3, "car", 20.0, 3.5, 10.0), Actor(5, "pedestrian", 15.0, -4.0,
                                                                    0.0)])
    a = agents_from_scene(s)
    p1, p2, p3 = predict(a, TIMES, 32, 7), predict(a, TIMES, 32, 7), predict(a, TIMES, 32, 8)
    assert np.array_equal(p1.y_m, p2.y_m) and np.array_equal(p1.x_m, p2.x_m)
    assert not np.array_equal(p1.y_m, p3.y_m)
    assert p1.x_m.shape == (33, 2, len(TIMES))


def test_hypotheses_appear_in_the_samples_cut_ins_crossings_and_braking() -> None:
    s = road_scene(10.0, [Actor(3, "car", 20.0, 3.5, 10.0), Actor(5, "pedestrian", 15.0, -4.0,
                                                                    0.0)])
    a = agents_from_scene(s)
    cfg = PredictionConfig(brake_share=0.5, cut_in_share=0.5, cross_share=0.5)
    p = predict(a, TIMES, 64, 1, cfg)
    car, ped = list(a.ids).index(3), list(a.ids).index(5)
    assert (np.abs(p.y_m[1:, car, -1]) < 1.0).any()  # some futures end in our lane
    assert (np.abs(p.y_m[1:, ped]).min(axis=1) < 1.0).any()  # some pedestrians cross
    assert (p.vx_mps[1:, car, -1] < 5.0).any()  # some leads brake
    assert p.y_m[0, car, -1] == pytest.approx(3.5, abs=0.2)  # the nominal one stays put


def test_bad_prediction_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="brake_share"):
        PredictionConfig(brake_share=1.5)
