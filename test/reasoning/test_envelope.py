"""The lateral envelope: cut-ins, occupied or oncoming target lanes, occupied shoulders."""

from __future__ import annotations

from edge_llm_ros.reasoning.actions import PULL_OVER
from edge_llm_ros.reasoning.envelope import lateral_envelope, lateral_offset_m
from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

from .conftest import LANE_LEFT, obj, scene


def test_a_car_moving_into_our_lane_close_ahead_is_a_threat_from_its_side() -> None:
    for side in (1.0, -1.0):
        s = road_scene(15.0, [Actor(7, "car", 8.0, side * 3.5, 12.0, -side * 1.0)])
        env = lateral_envelope(s)
        assert [t.track_id for t in env.threats] == [7]
        assert ("left" if side > 0 else "right") in env.threats[0].text
        # While it cuts in we hold our lane: neither lane change is allowed.
        assert {"change_lane_left", "change_lane_right"} <= env.forbidden


def test_parallel_traffic_and_cars_drifting_away_are_no_threat() -> None:
    s = road_scene(15.0, [Actor(1, "car", 8.0, 3.5, 15.0, 0.0),
                          Actor(2, "car", 8.0, -3.5, 15.0, -1.0),  # leaving to the right
                          Actor(3, "car", 120.0, 3.5, 5.0, -1.0)])  # arrives far ahead
    assert lateral_envelope(s).threats == ()


def test_a_cut_in_far_enough_ahead_at_our_speed_leaves_a_safe_gap() -> None:
    s = road_scene(15.0, [Actor(1, "car", 40.0, 3.5, 16.0, -1.0)])
    assert lateral_envelope(s).threats == ()


def test_occupied_and_oncoming_target_lanes_are_forbidden() -> None:
    alongside = road_scene(15.0, [Actor(1, "car", -2.0, 3.5, 15.0)])
    assert "change_lane_left" in lateral_envelope(alongside).forbidden
    fast_from_behind = road_scene(15.0, [Actor(1, "car", -30.0, 3.5, 25.0)])
    assert "change_lane_left" in lateral_envelope(fast_from_behind).forbidden
    oncoming = road_scene(15.0, [Actor(1, "car", 90.0, 3.5, -14.0)], lane_index=0)
    env = lateral_envelope(oncoming)
    assert "change_lane_left" in env.forbidden and "oncoming" in env.why("change_lane_left")
    far_oncoming = road_scene(15.0, [Actor(1, "car", 400.0, 3.5, -14.0)], lane_index=0)
    assert "change_lane_left" not in lateral_envelope(far_oncoming).forbidden
    clear = road_scene(15.0, [Actor(1, "car", 60.0, 3.5, 15.0)])
    assert "change_lane_left" not in lateral_envelope(clear).forbidden


def test_no_right_lane_change_from_the_right_most_lane() -> None:
    env = lateral_envelope(road_scene(10.0, [], lane_index=0))
    assert "change_lane_right" in env.forbidden and env.why("change_lane_right")


def test_a_cyclist_alongside_on_the_right_forbids_pulling_over() -> None:
    s = road_scene(8.0, [Actor(4, "cyclist", 0.0, -2.5, 7.0)], lane_index=0)
    env = lateral_envelope(s)
    assert "pull_over" in env.forbidden and env.blockers("pull_over") == (4,)
    gone = road_scene(8.0, [Actor(4, "cyclist", 80.0, -2.5, 7.0)], lane_index=0)
    assert "pull_over" not in lateral_envelope(gone).forbidden


def test_the_lane_relation_wins_over_a_lateral_offset_that_disagrees() -> None:
    o = obj(9, "car", 2.0, 0.0, lane=LANE_LEFT)  # hand-written: lane left, offset 0
    assert lateral_offset_m(o) == 3.5
    assert "change_lane_left" in lateral_envelope(scene(10.0, o)).forbidden


def test_a_faster_cyclist_coming_up_behind_on_the_right_forbids_pulling_over() -> None:
    # 20 m behind and slower than us now, but it will reach a car standing on the shoulder.
    behind = road_scene(12.0, [Actor(4, "cyclist", -20.0, -2.5, 7.0)], lane_index=0)
    assert PULL_OVER in lateral_envelope(behind).forbidden
    walking = road_scene(12.0, [Actor(4, "pedestrian", -20.0, -2.5, 1.0)], lane_index=0)
    assert PULL_OVER not in lateral_envelope(walking).forbidden


def test_a_left_lane_the_scene_calls_oncoming_is_never_a_target_however_empty() -> None:
    import dataclasses

    empty = road_scene(12.0, [], lane_index=1, lanes_left=1)
    assert "change_lane_left" not in lateral_envelope(empty).forbidden
    mapped = dataclasses.replace(empty, ego=dataclasses.replace(empty.ego, lanes_left_our_way=0))
    assert "change_lane_left" in lateral_envelope(mapped).forbidden
