"""Path relations by hand: distance from the bumper, closing speed, TTC, lane, curvature."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from edge_llm_ros.fusion import FusionConfig, SceneFuser
from edge_llm_ros.fusion.scene import (
    ObjectsInBase,
    build_objects,
    lane_relation,
    path_curvature,
    relate_to_path,
)
from edge_llm_ros.tools.synthetic.fusion_world import Actor, World
from edge_llm_ros.types import LANE_EGO, LANE_LEFT, LANE_OFF_ROAD, LANE_RIGHT

CFG = FusionConfig()  # ego front 3.5 m, width 1.8 m, margin 0.3 m, lanes 3.5 m
CAR = (4.5, 1.8, 1.5)
PED = (0.6, 0.6, 1.75)


def objs(rows: list[tuple[float, float, float, float, tuple[float, float, float]]]
         ) -> ObjectsInBase:
    """(x, y, vx, vy, size) rows, aligned with the path."""
    n = len(rows)
    return ObjectsInBase(
        ids=np.arange(1, n + 1), xyz=np.array([[r[0], r[1], 0.75] for r in rows]),
        velocity=np.array([[r[2], r[3]] for r in rows]), size=np.array([r[4] for r in rows]),
        yaw=np.zeros(n), class_names=["car"] * n, confidence=np.full(n, 0.8),
        seen_by_camera=np.ones(n, bool), seen_by_lidar=np.ones(n, bool))


def test_distance_closing_and_ttc_by_hand() -> None:
    rel = relate_to_path(objs([
        (30.0, 0.0, 5.0, 0.0, CAR),    # slower car ahead: closing 5 m/s
        (30.0, 0.0, 15.0, 0.0, CAR),   # pulling away
        (30.0, 0.0, 10.0, 0.0, CAR),   # same speed
        (30.0, 3.5, 0.0, 0.0, CAR),    # parked in the lane to the left
    ]), ego_speed_mps=10.0, yaw_rate_radps=0.0, cfg=CFG)
    gap = 30.0 - 3.5 - 2.25
    np.testing.assert_allclose(rel.distance_m, gap)
    np.testing.assert_allclose(rel.closing_mps, [5.0, -5.0, 0.0, 10.0])
    assert rel.ttc_s[0] == pytest.approx(gap / 5.0)
    assert math.isinf(rel.ttc_s[1]) and math.isinf(rel.ttc_s[2])
    assert math.isinf(rel.ttc_s[3])  # closing fast, but not in the path
    assert rel.lane.tolist() == [LANE_EGO] * 3 + [LANE_LEFT]


def test_crossing_pedestrian_gets_finite_ttc() -> None:
    rel = relate_to_path(objs([
        (20.0, 4.0, 0.0, -1.5, PED),   # walking into the lane: enters before the ego passes
        (20.0, 4.0, 0.0, 1.5, PED),    # walking away from the lane
        (20.0, 4.0, 0.0, -0.1, PED),   # standing (lateral jitter below the noise floor)
        (12.0, 0.5, 0.0, -4.0, PED),   # in the lane now, but gone before the ego arrives
        (60.0, 12.0, 0.0, -1.5, PED),  # would enter in 7 s: past the lateral horizon
    ]), ego_speed_mps=10.0, yaw_rate_radps=0.0, cfg=CFG)
    # Corridor half-width 0.9 + 0.3 + 0.3 = 1.5 m: enters at (4 - 1.5) / 1.5 s; the ego
    # overlaps it longitudinally from (20 - 3.5 - 0.3) / 10 = 1.62 s to 2.13 s.
    assert rel.ttc_s[0] == pytest.approx(2.5 / 1.5)
    assert math.isinf(rel.ttc_s[1]) and math.isinf(rel.ttc_s[2])
    assert math.isinf(rel.ttc_s[3])
    assert math.isinf(rel.ttc_s[4])
    np.testing.assert_allclose(rel.lateral_speed_mps[:2], [-1.5, 1.5])
    # Same pedestrian, slower ego: reaches the crossing only after they are in the lane.
    slow = relate_to_path(objs([(20.0, 4.0, 0.0, -1.5, PED)]), 5.0, 0.0, CFG)
    assert slow.ttc_s[0] == pytest.approx((20.0 - 3.5 - 0.3) / 5.0)


def test_lane_relation_with_lane_width() -> None:
    lat = np.array([0.0, 1.74, 1.76, -1.76, 3.5, -3.5, 5.2, 5.3, -6.0])
    assert lane_relation(lat, 3.5, 1, 1).tolist() == [
        LANE_EGO, LANE_EGO, LANE_LEFT, LANE_RIGHT, LANE_LEFT, LANE_RIGHT, LANE_LEFT,
        LANE_OFF_ROAD, LANE_OFF_ROAD]
    # Two lanes known to the left (e.g. from set_road_context): 7 m left is still a lane.
    assert lane_relation(np.array([7.0, -3.5]), 3.5, 2, 0).tolist() == [LANE_LEFT,
                                                                        LANE_OFF_ROAD]
    assert lane_relation(np.array([3.0]), 3.0, 1, 1).tolist() == [LANE_LEFT]


def test_curved_path_from_yaw_rate() -> None:
    speed, yaw_rate = 10.0, 0.2  # kappa = 0.02 1/m, turning left
    k = path_curvature(speed, yaw_rate, CFG)
    assert k == pytest.approx(0.02)
    assert path_curvature(0.5, 0.2, CFG) == 0.0  # too slow to trust yaw_rate / speed
    # A point on the arc 20 m ahead, and a point straight ahead at the same x.
    r = 1.0 / k
    ang = 20.0 / r
    on_arc = (r * math.sin(ang), r * (1.0 - math.cos(ang)))
    rel = relate_to_path(objs([(on_arc[0], on_arc[1], 0.0, 0.0, CAR),
                               (on_arc[0], 0.0, 0.0, 0.0, CAR)]), speed, yaw_rate, CFG)
    assert rel.lateral_m[0] == pytest.approx(0.0, abs=1e-9)
    assert rel.along_m[0] == pytest.approx(20.0)
    # Perpendicular offset from the arc: r - |p - centre|, a little under the
    # vertical offset y = kappa x^2 / 2 of the parabola it approximates.
    assert rel.lateral_m[1] == pytest.approx(r - math.hypot(on_arc[0], r))
    assert -on_arc[1] < rel.lateral_m[1] < -0.8 * on_arc[1]
    assert rel.lane.tolist() == [LANE_EGO, LANE_RIGHT]
    assert math.isfinite(rel.ttc_s[0]) and math.isinf(rel.ttc_s[1])
    # Closing speed is measured along the path tangent: a parked car closes at ego speed.
    assert rel.closing_mps[0] == pytest.approx(speed)


def test_relevance_order_and_cap() -> None:
    o = objs([
        (50.0, 3.5, 0.0, 0.0, CAR),    # left lane, near-ish
        (80.0, 0.0, 0.0, 0.0, CAR),    # ego lane, parked: TTC 7.2 s
        (25.0, 0.0, 5.0, 0.0, CAR),    # ego lane, closing 5: TTC 3.85 s
        (40.0, 0.0, 12.0, 0.0, CAR),   # ego lane, pulling away
        (10.0, -3.5, 10.0, 0.0, CAR),  # right lane, close
    ])
    rel = relate_to_path(o, 10.0, 0.0, CFG)
    out = build_objects(o, rel, max_objects=4)
    assert [x.track_id for x in out] == [3, 2, 4, 5]
    assert out[0].lane_relation == LANE_EGO and math.isfinite(out[0].time_to_collision_s)
    assert math.isinf(out[2].time_to_collision_s)
    assert isinstance(out[0].position_m[0], float) and isinstance(out[0].track_id, int)


def test_braking_car_ttc_finite_and_decreasing(
        make_fuser: Callable[..., SceneFuser]) -> None:
    """Lead car at ego speed starts braking at 3 m/s^2: TTC appears and shrinks."""

    class Braking(Actor):
        def at(self, t_s: float) -> tuple[float, float]:
            t_b = max(t_s - 1.0, 0.0)
            v0, a = 10.0, 3.0
            t_b = min(t_b, v0 / a)
            return self.x + 10.0 * min(t_s, 1.0) + v0 * t_b - 0.5 * a * t_b ** 2, self.y

    world = World([Braking(30.0, 0.0, 10.0, 0.0)], ego_speed=10.0, lidar_noise_m=0.05)
    fuser = make_fuser()
    ttcs = []
    for k in range(35):
        s = fuser.summarize(world.feed(fuser, k))
        if k == 8:
            assert math.isinf(s.objects[0].time_to_collision_s)  # not braking yet
        if k >= 20:
            ttcs.append(s.objects[0].time_to_collision_s)
    assert all(math.isfinite(t) for t in ttcs)
    assert all(b < a for a, b in zip(ttcs, ttcs[1:], strict=False))


def test_pulling_away_and_adjacent_lane_via_fuser(
        make_fuser: Callable[..., SceneFuser]) -> None:
    world = World([Actor(30.0, 0.0, 14.0, 0.0), Actor(40.0, -3.5, 0.0, 0.0)], ego_speed=10.0,
                  lidar_noise_m=0.05)
    fuser = make_fuser()
    for k in range(20):
        s = fuser.summarize(world.feed(fuser, k))
    ahead, parked = sorted(s.objects, key=lambda o: o.lane_relation)
    assert ahead.lane_relation == LANE_EGO and math.isinf(ahead.time_to_collision_s)
    assert ahead.relative_speed_mps == pytest.approx(-4.0, abs=0.3)
    assert parked.lane_relation == LANE_RIGHT and math.isinf(parked.time_to_collision_s)
    assert parked.relative_speed_mps == pytest.approx(10.0, abs=0.3)
