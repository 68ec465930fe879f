"""The rule policy: the fallback at the deadline, the expert that labels, the safety envelope."""

from __future__ import annotations

import math

import pytest

from edge_llm_ros.reasoning.rules import (
    OperatorIntent,
    RuleThresholds,
    parse_instruction,
    rule_decide,
)

from .conftest import LANE_EGO, LANE_LEFT, LANE_RIGHT, obj, scene


def test_clear_road_keeps_lane_at_the_limit() -> None:
    d = rule_decide(scene(12.0))
    assert (d.action, d.target_speed_mps, d.critical) == ("keep_lane", 14.0, False)


def test_car_braking_close_ahead_is_a_stop_inside_the_envelope() -> None:
    d = rule_decide(scene(12.0, obj(7, "car", 14.0, 10.0)))  # TTC 1.4 s
    assert (d.action, d.target_speed_mps, d.driver_object_ids, d.critical) == \
        ("stop", 0.0, (7,), True)


def test_slower_lead_means_slow_down_to_its_speed() -> None:
    d = rule_decide(scene(12.0, obj(3, "car", 20.0, 6.0)))  # TTC 3.3 s, lead at 6 m/s
    assert (d.action, d.target_speed_mps, d.driver_object_ids) == ("slow_down", 6.0, (3,))


def test_pedestrian_about_to_cross_means_yield() -> None:
    ped = obj(5, "pedestrian", 25.0, 10.0, lane=LANE_RIGHT, ttc=2.5)
    d = rule_decide(scene(10.0, ped))
    assert d.action == "yield" and d.critical and d.driver_object_ids == (5,)
    assert d.target_speed_mps <= 3.0


def test_stopped_car_in_lane_is_passed_on_the_left_when_clear() -> None:
    stopped = obj(2, "car", 35.0, 10.0, ttc=3.5 + 1.0)  # ego 10 m/s, car standing
    assert rule_decide(scene(10.0, stopped)).action == "change_lane_left"
    # ... not when the left lane is occupied next to us, then right (ego not in lane 0).
    blocker = obj(9, "car", 2.0, 0.0, lane=LANE_LEFT)
    assert rule_decide(scene(10.0, stopped, blocker)).action == "change_lane_right"
    assert rule_decide(scene(10.0, stopped, blocker, lane_index=0)).action == "slow_down"
    # ... and never against an operator who said to stay in lane.
    d = rule_decide(scene(10.0, stopped), OperatorIntent(avoid_lane_change=True))
    assert d.action == "slow_down" and d.target_speed_mps == 0.0


def test_speed_caps_from_the_limit_and_the_operator() -> None:
    assert rule_decide(scene(18.0)).action == "slow_down"
    d = rule_decide(scene(12.0), parse_instruction("school zone, keep it slow"))
    assert (d.action, d.target_speed_mps) == ("slow_down", 8.0)
    d = rule_decide(scene(5.0), parse_instruction("keep it under 30 km/h"))
    assert (d.action, d.target_speed_mps) == ("keep_lane", 8.0)


def test_pull_over_request_yields_to_safety() -> None:
    pull = parse_instruction("please pull over, let me out")
    assert rule_decide(scene(10.0), pull).action == "pull_over"
    assert rule_decide(scene(10.0, obj(1, "car", 8.0, 8.0)), pull).action == "stop"


@pytest.mark.parametrize("text, cap, pull, stay", [
    ("", math.inf, False, False),
    ("School zone, keep it slow", 8.0, False, False),
    ("max 36 km/h here", 10.0, False, False),
    ("do not exceed 10 m/s", 10.0, False, False),
    ("passenger feels sick, stop at the side of the road", math.inf, True, False),
    ("no lane changes on this stretch", math.inf, False, True),
    ("keep to this lane please", math.inf, False, True),
    ("we are in a hurry", math.inf, False, False),
])
def test_instruction_keywords(text: str, cap: float, pull: bool, stay: bool) -> None:
    intent = parse_instruction(text)
    assert intent.speed_cap_mps == pytest.approx(cap)
    assert (intent.pull_over, intent.avoid_lane_change) == (pull, stay)


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="stop_ttc_s"):
        RuleThresholds(stop_ttc_s=5.0, slow_ttc_s=4.0)
    with pytest.raises(ValueError, match="headway_s"):
        RuleThresholds(headway_s=math.nan)


def test_objects_behind_or_in_other_lanes_do_not_stop_us() -> None:
    behind = obj(1, "car", -8.0, 3.0)
    beside = obj(2, "car", 10.0, 0.0, lane=LANE_LEFT)
    assert rule_decide(scene(12.0, behind, beside)).action == "keep_lane"
    assert LANE_EGO == 0


def test_cut_ins_are_answered_inside_the_envelope() -> None:
    from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

    for side in (1.0, -1.0):
        d = rule_decide(road_scene(15.0, [Actor(7, "car", 10.0, side * 3.5, 11.0, -side)]))
        assert d.action in ("slow_down", "stop") and d.critical and d.driver_object_ids == (7,)
        assert d.target_speed_mps < 15.0
        assert "change_lane_left" in d.forbidden and "change_lane_right" in d.forbidden


def test_pull_over_waits_for_a_cyclist_alongside_on_the_right() -> None:
    from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

    s = road_scene(8.0, [Actor(4, "cyclist", 1.0, -2.5, 7.0)], lane_index=0)
    d = rule_decide(s, parse_instruction("please pull over, let me out"))
    assert d.action == "slow_down" and d.driver_object_ids == (4,)
    assert "pull_over" in d.forbidden and "cyclist 4" in d.rationale


def test_a_lead_closing_fast_at_range_is_slowed_for() -> None:
    # 40 m ahead, closing at 10 m/s: TTC 4 s is not below slow_ttc_s, but keeping the
    # gap needs 1.4 m/s^2 of braking, more than closing_decel_mps2.
    d = rule_decide(scene(15.0, obj(3, "car", 40.0, 10.0), limit=16.7))
    assert (d.action, d.target_speed_mps, d.driver_object_ids) == ("slow_down", 5.0, (3,))


def test_a_lead_too_close_for_gentle_braking_is_a_stop() -> None:
    d = rule_decide(scene(20.0, obj(3, "car", 45.0, 20.0), limit=22.2))  # stopped, 45 m
    assert d.action == "stop" and d.driver_object_ids == (3,)


def test_oncoming_traffic_in_our_lane_sends_us_back_to_the_right() -> None:
    from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

    # Passing in the oncoming lane (lane 1 of 2), a car comes the other way 70 m ahead.
    s = road_scene(12.0, [Actor(3, "car", 70.0, 0.0, -12.0)], lane_index=1)
    d = rule_decide(s)
    assert (d.action, d.driver_object_ids, d.critical) == ("change_lane_right", (3,), True)
    # ... unless the right lane is taken: then stopping is what is left.
    blocked = road_scene(12.0, [Actor(3, "car", 20.0, 0.0, -12.0),
                                Actor(4, "car", -1.0, -3.5, 12.0)], lane_index=1)
    assert rule_decide(blocked).action == "stop"


def test_the_escape_from_an_oncoming_lane_binds_the_model() -> None:
    from edge_llm_ros.reasoning.reasoner import envelope_overrules
    from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

    d = rule_decide(road_scene(12.0, [Actor(3, "car", 70.0, 0.0, -12.0)], lane_index=1))
    assert d.binding
    assert envelope_overrules(d, "stop", 0.0)  # cautious, but it waits for the collision
    assert not envelope_overrules(d, "change_lane_right", 12.0)
    calm = rule_decide(road_scene(12.0, [], lane_index=1))
    assert not calm.binding and not envelope_overrules(calm, "stop", 0.0)


def test_a_stopped_car_with_no_way_round_binds_the_speed() -> None:
    from edge_llm_ros.reasoning.reasoner import envelope_overrules

    # Stay in lane, a car standing 39 m ahead at 14 m/s: no lane change, and slowing to a
    # crawl still hits it (held-out oncoming_passing scene 5000005); the model may brake
    # harder than the rules, never less.
    standing = obj(26, "car", 39.0, 14.0)
    d = rule_decide(scene(14.0, standing, lane_index=0), OperatorIntent(avoid_lane_change=True))
    assert (d.action, d.target_speed_mps, d.critical) == ("stop", 0.0, True)
    assert envelope_overrules(d, "slow_down", 9.0)
    assert not envelope_overrules(d, "stop", 0.0)
    # Far enough for gentle braking: slowing to a stop is fine, keeping speed is not.
    far = rule_decide(scene(10.0, obj(26, "car", 39.0, 10.0), lane_index=0),
                      OperatorIntent(avoid_lane_change=True))
    assert (far.action, far.critical) == ("slow_down", True)
    assert envelope_overrules(far, "keep_lane", 10.0) and not envelope_overrules(far, "stop", 0.0)


def test_a_pull_over_stops_first_for_a_standing_vehicle_it_cannot_reach_the_shoulder_before(
) -> None:
    truck = obj(15, "truck", 46.0, 21.0)  # standing, 46 m ahead at 21 m/s: 5.5 m/s^2 to stop
    d = rule_decide(scene(21.0, truck, lane_index=0, limit=22.2),
                    OperatorIntent(pull_over=True, avoid_lane_change=True))
    assert (d.action, d.driver_object_ids, d.critical) == ("stop", (15,), True)
    # With room to brake gently, the pull over goes ahead.
    calm = rule_decide(scene(8.0, obj(15, "truck", 60.0, 8.0), lane_index=0),
                       OperatorIntent(pull_over=True))
    assert calm.action == "pull_over"


def test_a_pull_over_that_waits_still_follows_the_lead() -> None:
    from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

    # Asked to pull over, a pedestrian on the right verge blocks it, and a car 22 m ahead
    # goes 6 m/s: waiting at "ego speed - 3" (10 m/s) would run into it (held-out
    # dense_one_threat scene 5000032); the wait follows the lead instead.
    s = road_scene(12.7, [Actor(41, "car", 22.0, 0.0, 6.2),
                          Actor(62, "pedestrian", 9.0, -7.75, 1.5)], limit_mps=16.7)
    d = rule_decide(s, OperatorIntent(pull_over=True, avoid_lane_change=True))
    assert "pull_over" in d.forbidden
    assert (d.action, d.driver_object_ids) == ("slow_down", (41,))
    assert d.target_speed_mps <= 6.5 and d.critical


def test_cruising_up_to_the_limit_behind_a_slower_lead_is_capped_at_its_speed() -> None:
    from edge_llm_ros.reasoning.reasoner import envelope_overrules

    # Ego at 7 m/s, limit 14, a car 18 m ahead doing 9 m/s: speeding up to 14 closes on it
    # (the judge's TTC falls under 1 s in held-out-seed mixed_traffic 5000002).
    lead = obj(1, "car", 18.0, -2.0)  # pulling away at 2 m/s for now
    d = rule_decide(scene(7.0, lead))
    assert (d.action, d.target_speed_mps, d.driver_object_ids) == ("keep_lane", 9.0, (1,))
    assert envelope_overrules(d, "keep_lane", 14.0) and not envelope_overrules(d, "keep_lane", 9)
    assert not envelope_overrules(d, "change_lane_left", 14.0)  # the lane change leaves it
    # A lead far enough ahead binds nothing.
    assert rule_decide(scene(7.0, obj(1, "car", 90.0, -2.0))).target_speed_mps == 14.0


def test_no_lane_change_is_begun_that_would_pass_a_slower_car_still_half_in_lane() -> None:
    """A lead braking 25 m ahead at 12 m/s: a lane change (3 s, 36 m) would still be
    under way when the car gets there; far enough ahead, or standing, it may be begun."""
    from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

    near = rule_decide(road_scene(12.0, [Actor(1, "car", 25.0, 0.0, 9.5)], lane_index=1))
    assert {"change_lane_left", "change_lane_right"} <= near.forbidden
    far = rule_decide(road_scene(12.0, [Actor(1, "car", 45.0, 0.0, 9.5)], lane_index=1))
    assert "change_lane_right" not in far.forbidden
    faster = rule_decide(road_scene(12.0, [Actor(1, "car", 25.0, 0.0, 13.0)], lane_index=1))
    assert "change_lane_right" not in faster.forbidden
    # A standing vehicle: the rules' own way round stays allowed.
    standing = rule_decide(road_scene(12.0, [Actor(1, "car", 30.0, 0.0, 0.0)], lane_index=1))
    assert standing.action not in standing.forbidden
