"""Scenario files: every packaged one loads and means what it says; bad ones name the field."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from edge_llm_ros.sim import (
    ACTOR_CLASSES,
    ScenarioError,
    list_scenarios,
    load_scenario,
    scenario_from_dict,
)
from edge_llm_ros.sim.scenario import (
    SCENARIO_DIR,
    KeyframePath,
    LaneChange,
    LanePath,
    Road,
    SpeedProfile,
)

REQUIRED = {"clear_road", "car_braking_ahead", "pedestrian_crossing", "cyclist_overtaking",
            "stopped_vehicle_in_lane", "mixed_traffic"}

VALID: dict[str, Any] = {
    "name": "tiny",
    "description": "A small valid scenario to mutate.",
    "duration_s": 10,
    "jitter": {"position_m": 1.0, "speed_fraction": 0.1},
    "road": {"num_lanes": 3, "lane_width_m": 3.5, "length_m": 300, "speed_limit_mps": 13.9},
    "ego": {"lane": 1, "start_x_m": 20, "speed_profile": [[0, 10.0]]},
    "actors": [
        {"id": 1, "class": "car", "path": {"lane": 1, "start_x_m": 50,
                                           "speed_profile": [[0, 10.0], [5, 0.0]]}},
        {"id": 2, "class": "pedestrian",
         "path": {"keyframes": [[0, 60, -6.5], [2, 60, -6.5], [8, 60, 6.5]]}},
    ],
}


def _write(tmp_path: Path, data: Any, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_packaged_scenarios_all_load() -> None:
    names = list_scenarios()
    assert set(names) >= REQUIRED
    for name in names:
        s = load_scenario(name)
        assert s.name == name
        assert len(s.description) > 30
        assert 10.0 <= s.duration_s <= 30.0
        ids = [a.id for a in s.actors]
        assert len(ids) == len(set(ids))


def test_mixed_traffic_has_every_class_and_adjacent_lane_cars() -> None:
    s = load_scenario("mixed_traffic")
    assert {a.class_name for a in s.actors} == set(ACTOR_CLASSES)
    lanes = {a.path.lane for a in s.actors
             if a.class_name == "car" and isinstance(a.path, LanePath)}
    assert lanes >= {s.ego.lane, s.ego.lane + 1}  # the ego lane and the one to its left
    on_sidewalk = [a for a in s.actors if a.class_name == "pedestrian"
                   and s.road.ground_height(s.actor_state(a, 0.0).y_m) > 0.0]
    assert on_sidewalk


def test_car_braking_ahead_means_what_it_says() -> None:
    s = load_scenario("car_braking_ahead")
    ego0 = s.ego_state(0.0)
    lead = next(a for a in s.actors if isinstance(a.path, LanePath) and a.path.lane == s.ego.lane)
    gap = s.actor_state(lead, 0.0).x_m - ego0.x_m
    assert 25.0 <= gap <= 30.0
    assert s.actor_state(lead, 3.0).vx_mps > 10.0
    stop_t = next(t for t in np.arange(0, 10, 0.1) if s.actor_state(lead, t).vx_mps < 1e-6)
    assert 4.5 <= stop_t <= 5.5
    # the scripted ego never drives into it
    for t in np.arange(0.0, s.duration_s, 0.1):
        assert s.actor_state(lead, t).x_m - s.ego_state(t).x_m > 4.5


def test_pedestrian_crossing_crosses_the_ego_lane_ahead() -> None:
    s = load_scenario("pedestrian_crossing")
    road = s.road
    lane_y = road.lane_center_y(s.ego.lane)
    ped = s.actors[0]
    assert ped.class_name == "pedestrian"
    ys = [s.actor_state(ped, t).y_m for t in np.arange(0, s.duration_s, 0.1)]
    assert min(ys) < lane_y - road.lane_width_m / 2 and max(ys) > lane_y + road.lane_width_m / 2
    t_in_lane = next(t for t in np.arange(0, s.duration_s, 0.1)
                     if road.lane_at(s.actor_state(ped, t).y_m) == s.ego.lane)
    assert s.actor_state(ped, t_in_lane).x_m > s.ego_state(t_in_lane).x_m + 5.0


def test_cyclist_and_stopped_vehicle_scenarios() -> None:
    s = load_scenario("cyclist_overtaking")
    bike = next(a for a in s.actors if a.class_name == "cyclist")
    st = s.actor_state(bike, 0.0)
    assert s.road.lane_at(st.y_m) == s.ego.lane
    assert st.y_m < s.road.lane_center_y(s.ego.lane) - 0.5  # right part of the lane
    assert st.x_m > s.ego_state(0.0).x_m
    assert s.actor_state(bike, 10.0).x_m < s.ego_state(10.0).x_m  # passed by then

    s = load_scenario("stopped_vehicle_in_lane")
    car = s.actors[0]
    for t in (0.0, 5.0, 10.0):
        st = s.actor_state(car, t)
        assert st.vx_mps == 0.0 and st.vy_mps == 0.0
        assert s.road.lane_at(st.y_m) == s.ego.lane
    assert s.actor_state(car, 0.0).x_m - s.ego_state(0.0).x_m > 40.0


def test_valid_dict_parses_and_load_accepts_a_path(tmp_path: Path) -> None:
    s = load_scenario(_write(tmp_path, VALID, "tiny.yaml"))
    assert s.name == "tiny" and len(s.actors) == 2
    assert s.actors[0].size_m == (4.5, 1.8, 1.5)
    assert scenario_from_dict(copy.deepcopy(VALID)).actors[1].class_name == "pedestrian"


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split("/")]
    node: Any = data
    for k in keys[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


_DELETE = object()

BAD_CASES = [
    ("duration_s", _DELETE, "duration_s: missing required field"),
    ("actors/0/path/start_x_m", _DELETE, "actors[0].path.start_x_m: missing required field"),
    ("road/num_lanes", "three", "road.num_lanes: expected an integer, got 'three'"),
    ("duration_s", True, "duration_s: expected a number, got True"),
    ("ego/speed_profile", 10, "ego.speed_profile: expected a list"),
    ("actors/1/class", "tank", "actors[1].class: unknown class 'tank'"),
    ("speed", 3, "speed: unknown key"),
    ("road/lanes", 3, "road.lanes: unknown key"),
    ("actors/1/path/keyframes/2/0", 1.0,
     "actors[1].path.keyframes[2][0]: keyframe times must strictly increase"),
    ("actors/0/path/speed_profile/1/0", 0,
     "actors[0].path.speed_profile[1][0]: keyframe times must strictly increase"),
    ("actors/1/path/keyframes/0", [0, 60],
     "actors[1].path.keyframes[0]: expected [t_s, x_m, y_m], got [0, 60]"),
    ("actors/0/size_m", [4.5, -1.8, 1.5], "actors[0].size_m[1]: must be > 0"),
    ("actors/0/size_m", [4.5, 1.8], "actors[0].size_m: expected [length_m, width_m, height_m]"),
    ("actors/0/path/speed_profile/0/1", -3.0,
     "actors[0].path.speed_profile[0][1]: speed must be >= 0"),
    ("ego/lane", 3, "ego.lane: must be <= 2"),
    ("actors/1/id", 1, "actors[1].id: duplicate id 1"),
    ("actors/1/path", {"waypoints": []}, "actors[1].path: expected either {keyframes"),
    ("road/length_m", 50, "road.length_m: the ego reaches x=120 m"),
    ("jitter/speed_fraction", 1.5, "jitter.speed_fraction: must be < 1"),
    ("actors/0/color", [1.0, 0.0, 2.0], "actors[0].color: components must be in [0, 1]"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BAD_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CASES)])
def test_bad_field_names_file_and_field(tmp_path: Path, path: str, value: Any,
                                        expected: str) -> None:
    data = copy.deepcopy(VALID)
    _set(data, path, value)
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, data))
    message = str(err.value)
    assert message.startswith(f"scenario '{tmp_path / 'broken.yaml'}': "), message
    assert expected in message, message


def test_oncoming_ego_lane_and_cross_direction_lane_change_rejected(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["road"]["oncoming_lanes"] = 1
    data["ego"]["lane"] = 2
    with pytest.raises(ScenarioError, match=r"ego\.lane: lane 2 is an oncoming lane"):
        load_scenario(_write(tmp_path, data))
    data["ego"]["lane"] = 1
    data["ego"]["lane_changes"] = [{"start_s": 1, "duration_s": 2, "to_lane": 2}]
    with pytest.raises(ScenarioError, match=r"ego\.lane_changes\[0\]\.to_lane: lane 2 carries"):
        load_scenario(_write(tmp_path, data))


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"invalid YAML at line 3, column 1: expected"):
        load_scenario(_write(tmp_path, "name: x\ndescription: [unclosed\n"))
    with pytest.raises(ScenarioError, match="file is empty"):
        load_scenario(_write(tmp_path, ""))
    with pytest.raises(ScenarioError, match="expected a mapping"):
        load_scenario(_write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ScenarioError, match=r"no such packaged scenario.*mixed_traffic"):
        load_scenario("no_such_scenario")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


# ------------------------------------------------------------ path kinematics


def test_speed_profile_distance_is_the_integral_of_speed() -> None:
    p = SpeedProfile(((1.0, 10.0), (3.0, 0.0), (5.0, 4.0)))
    ts = np.linspace(0.0, 8.0, 8001)
    numeric = np.concatenate(([0.0], np.cumsum((np.diff(ts)) * [p.speed(t) for t in ts[:-1]])))
    for i in range(0, len(ts), 500):
        assert p.distance(ts[i]) == pytest.approx(numeric[i], abs=0.02)
    assert p.distance(1.0) == pytest.approx(10.0)  # constant before the first keyframe
    assert p.acceleration(2.0) == pytest.approx(-5.0)
    assert p.acceleration(3.0) == pytest.approx(2.0)  # the segment that starts at t
    assert p.acceleration(6.0) == 0.0


def test_keyframe_yaw_follows_motion_and_rests_sensibly() -> None:
    waits_then_crosses = KeyframePath(((0, 10, -5), (2, 10, -5), (6, 10, 5), (9, 10, 5)))
    assert waits_then_crosses.state(1.0).yaw_rad == pytest.approx(math.pi / 2)  # faces its way
    mid = waits_then_crosses.state(4.0)
    assert (mid.y_m, mid.vy_mps, mid.vx_mps) == pytest.approx((0.0, 2.5, 0.0))
    assert waits_then_crosses.state(8.0).yaw_rad == pytest.approx(math.pi / 2)  # keeps last yaw
    assert waits_then_crosses.state(20.0).vy_mps == 0.0
    parked = KeyframePath(((0, 10, -5),), yaw_deg=30)
    assert parked.state(5.0).yaw_rad == pytest.approx(math.radians(30))


def test_lane_paths_oncoming_and_lane_change() -> None:
    from edge_llm_ros.sim.scenario import LaneChange

    road = Road(num_lanes=3, lane_width_m=3.5, length_m=500, speed_limit_mps=14,
                oncoming_lanes=1)
    assert road.lane_center_y(0) == pytest.approx(-3.5)
    assert road.lane_at(-3.5) == 0 and road.lane_at(3.6) == 2 and road.lane_at(6.0) is None
    oncoming = LanePath(2, 300.0, SpeedProfile(((0, 10.0),)))
    st = oncoming.state(2.0, road)
    assert (st.x_m, st.y_m, st.vx_mps) == pytest.approx((280.0, 3.5, -10.0))
    assert abs(st.yaw_rad) == pytest.approx(math.pi)
    change = LanePath(0, 0.0, SpeedProfile(((0, 10.0),)), (LaneChange(1.0, 2.0, 1),))
    h = 1e-4
    for t in np.arange(0.0, 4.0, 0.25):
        a, b = change.state(t, road), change.state(t + h, road)
        assert (b.y_m - a.y_m) / h == pytest.approx(a.vy_mps, abs=1e-2)
        assert a.yaw_rad == pytest.approx(math.atan2(a.vy_mps, a.vx_mps))
    assert change.state(0.5, road).y_m == pytest.approx(-3.5)
    assert change.state(3.5, road).y_m == pytest.approx(0.0)


def test_jitter_moves_actors_within_bounds_and_depends_on_rng() -> None:
    s = scenario_from_dict(copy.deepcopy(VALID))
    a = s.jittered(np.random.default_rng(1))
    b = s.jittered(np.random.default_rng(2))
    assert a != b
    for orig, jit in zip(s.actors, a.actors, strict=True):
        dx = s.actor_state(jit, 0.0).x_m - s.actor_state(orig, 0.0).x_m
        assert 0.0 < abs(dx) <= s.jitter.position_m
    assert a == s.jittered(np.random.default_rng(1))


def test_instruction_is_optional_and_read_when_given() -> None:
    assert load_scenario("car_braking_ahead").instruction == ""
    assert "pull over" in load_scenario("pull_over_cyclist").instruction
    with pytest.raises(ScenarioError, match="instruction"):
        data = yaml.safe_load((SCENARIO_DIR / "clear_road.yaml").read_text())
        scenario_from_dict(data | {"instruction": 5})


def test_the_road_context_a_map_would_give_fusion() -> None:
    from edge_llm_ros.sim.scenario import road_context

    # Four lanes, the leftmost oncoming, the ego in lane 1: one lane our way to its left.
    assert road_context(load_scenario("mixed_traffic")) == (13.9, 1)
    clear = load_scenario("clear_road")  # three lanes one way
    assert road_context(clear) == (13.9, 3 - 1 - clear.ego.lane)
    # An ego whose script changes lanes has no one count: unknown.
    changing = dataclasses.replace(clear, ego=dataclasses.replace(
        clear.ego, lane_changes=(LaneChange(5.0, 3.0, 1 if clear.ego.lane == 0 else 0),)))
    assert road_context(changing) == (13.9, -1)
