"""SceneFuser end to end: modes and freshness, camera-only ranging, stamps, latencies."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from edge_llm_ros.fusion import FusionConfig, SceneFuser
from edge_llm_ros.fusion.projection import project_box
from edge_llm_ros.sim.rig import CAMERA_SIZE_PX, camera_matrix, camera_optical_from_base
from edge_llm_ros.tools.synthetic.fusion_world import DT_NS, T0_NS, Actor, World
from edge_llm_ros.types import (
    LANE_EGO,
    LANE_LEFT,
    LANE_RIGHT,
    MODE_CAMERA_ONLY,
    MODE_FUSED,
    MODE_LIDAR_ONLY,
    MODE_NONE,
    Detection2D,
)

MS = 1_000_000


def _world() -> World:
    return World([Actor(25.0, 0.0, 5.0, 0.0), Actor(40.0, 3.5, 5.0, 0.0)], ego_speed=5.0,
                 lidar_noise_m=0.05)


def test_modes_degrade_with_stale_streams(make_fuser: Callable[..., SceneFuser]) -> None:
    world = _world()
    fuser = make_fuser()
    for k in range(10):
        s = fuser.summarize(world.feed(fuser, k) + 20 * MS)
    assert s.perception_mode == MODE_FUSED
    assert s.camera_fresh and s.lidar_fresh and s.odometry_fresh
    assert len(s.objects) == 2 and all(o.seen_by_camera and o.seen_by_lidar for o in s.objects)
    ids = sorted(o.track_id for o in s.objects)

    # Lidar stops: camera-only after the lidar freshness limit, tracks carry on (same ids).
    for k in range(10, 30):
        s = fuser.summarize(world.feed(fuser, k, lidar=False) + 20 * MS)
        if k == 10:
            assert s.perception_mode == MODE_FUSED  # 120 ms since the last sweep
    assert s.perception_mode == MODE_CAMERA_ONLY
    assert not s.lidar_fresh and s.camera_fresh
    assert sorted(o.track_id for o in s.objects) == ids
    assert all(o.seen_by_camera and not o.seen_by_lidar for o in s.objects)
    assert fuser.stats()["frames_camera_only"] > 10
    xy, _ = world.in_base(2.9)
    for o in s.objects:
        d = np.hypot(*(xy - o.position_m[:2]).T).min()
        assert d < 0.1 * math.hypot(*o.position_m[:2])  # flat-ground ranging, within 10 %

    # Lidar back, camera gone: lidar-only.
    for k in range(30, 40):
        s = fuser.summarize(world.feed(fuser, k, camera=False) + 20 * MS)
    assert s.perception_mode == MODE_LIDAR_ONLY
    assert s.lidar_fresh and not s.camera_fresh
    assert len(s.objects) == 2 and all(o.seen_by_lidar and not o.seen_by_camera
                                       for o in s.objects)

    # Everything stops: none, and the coasting tracks expire after max_coast_ms.
    last = T0_NS + 39 * DT_NS
    s = fuser.summarize(last + 400 * MS)
    assert s.perception_mode == MODE_NONE
    assert not (s.camera_fresh or s.lidar_fresh or s.odometry_fresh)
    assert s.stamp_ns == last  # the newest sensor stamp used, not the clock
    assert len(s.objects) == 2
    assert fuser.summarize(last + 1100 * MS).objects == []


def test_nothing_received_is_mode_none(make_fuser: Callable[..., SceneFuser]) -> None:
    s = make_fuser().summarize(T0_NS)
    assert s.perception_mode == MODE_NONE and s.objects == [] and s.stamp_ns == T0_NS
    assert s.ego.speed_mps == 0.0 and s.ego.lane_index == -1
    assert [x.stage for x in s.stage_latencies] == ["scene_fusion"]


def test_camera_without_model_falls_back_to_lidar_labels() -> None:
    world = _world()
    fuser = SceneFuser()
    for k in range(5):
        s = fuser.summarize(world.feed(fuser, k))
    assert len(s.objects) == 2 and not any(o.seen_by_camera for o in s.objects)
    assert fuser.rejected_counts()["camera_without_model"] == 5
    assert s.perception_mode == MODE_LIDAR_ONLY


@pytest.mark.parametrize("lateral_m", [0.0, 3.5, -3.5])
def test_camera_only_distance_within_10_percent(make_fuser: Callable[..., SceneFuser],
                                                lateral_m: float) -> None:
    """Flat-ground ranging with the simulator's camera, cars at 10-30 m from the bumper."""
    K, (w, h) = camera_matrix(), CAMERA_SIZE_PX
    T_cam = camera_optical_from_base()
    for gap in (10.0, 15.0, 20.0, 25.0, 30.0):
        x = 3.5 + gap + 2.25  # bumper + gap + half the car
        box = project_box(np.array([x, lateral_m, 0.75]), np.array([4.5, 1.8, 1.5]), 0.0,
                          T_cam, K, w, h)
        assert box is not None
        fuser = make_fuser()
        for k in range(4):
            stamp = T0_NS + k * DT_NS
            fuser.add_odometry(stamp, 0.0, 0.0)
            # Detector jitter: the box bottom 1 px up or down every other frame.
            jitter = (0.0, 0.0, 0.0, 1.0 if k % 2 else -1.0)
            fuser.add_camera(stamp, [Detection2D(2, "car", 0.9,
                                                   tuple(np.add(box, jitter)))], (w, h))
            s = fuser.summarize(stamp)
        assert s.perception_mode == MODE_CAMERA_ONLY
        (o,) = s.objects
        assert abs(o.distance_m - gap) <= 0.1 * gap, (gap, lateral_m, o.distance_m)
        assert abs(o.position_m[1] - lateral_m) < 0.5
        expected_lane = {0.0: LANE_EGO, 3.5: LANE_LEFT, -3.5: LANE_RIGHT}[lateral_m]
        assert o.lane_relation == expected_lane
        assert o.size_m == (4.5, 1.8, 1.5) and not o.seen_by_lidar


def test_camera_measurement_single_pixel_sensitivity(make_fuser: Callable[..., SceneFuser]
                                                     ) -> None:
    fuser = make_fuser()
    K = camera_matrix()
    box = project_box(np.array([3.5 + 30 + 2.25, 0.0, 0.75]), np.array([4.5, 1.8, 1.5]), 0.0,
                      camera_optical_from_base(), K, 640, 480)
    assert box is not None
    boxes = np.array([box, np.add(box, (0, 0, 0, 1.0)), np.add(box, (0, 0, 0, -1.0)),
                      (300.0, 100.0, 340.0, 200.0)])  # the last ends above the horizon
    centers, cov, sizes, ok = fuser.camera_measurements(boxes, ["car"] * 4, np.full(4, 0.9))
    assert ok.tolist() == [True, True, True, False]
    assert centers[0, 0] == pytest.approx(3.5 + 30 + 2.25, abs=0.01)
    assert centers[0, 1] == pytest.approx(0.0, abs=0.01)
    # 1 px of box bottom at 32 m from the camera moves the range by ~2 m (range^2 / (f h)).
    assert 1.5 < centers[2, 0] - centers[0, 0] < 2.5
    assert 1.5 < centers[0, 0] - centers[1, 0] < 2.5
    # Range uncertainty lies along the view ray (here x), far larger than across it.
    assert cov[0, 0, 0] > 10 * cov[0, 1, 1]


def test_stamp_latencies_and_ego(make_fuser: Callable[..., SceneFuser]) -> None:
    world = _world()
    fuser = make_fuser()
    fuser.set_road_context(speed_limit_mps=13.9, lane_index=1, num_lanes=3)
    for k in range(5):
        stamp = T0_NS + k * DT_NS
        fuser.add_odometry(stamp, 5.0, 0.0, 0.5)
        fuser.add_lidar(stamp, world.lidar_objects(k * 0.1), processing_time_ms=12.0,
                        received_ns=stamp + 30 * MS)
        fuser.add_camera(stamp, world.detections(k * 0.1), world.size_px,
                         processing_time_ms=20.0, received_ns=stamp + 45 * MS)
        s = fuser.summarize(stamp + 50 * MS)
    assert s.stamp_ns == T0_NS + 4 * DT_NS
    stages = [(x.stage, x.processing_time_ms, x.pipeline_latency_ms) for x in s.stage_latencies]
    assert stages[0] == ("camera_detector", 20.0, pytest.approx(45.0))
    assert stages[1] == ("lidar_detector", 12.0, pytest.approx(30.0))
    name, proc, pipe = stages[2]
    assert name == "scene_fusion" and 0.0 < proc < 100.0 and pipe == pytest.approx(50 + proc)
    assert s.ego.speed_mps == 5.0 and s.ego.acceleration_mps2 == 0.5
    assert s.ego.speed_limit_mps == 13.9 and s.ego.lane_index == 1
    assert [o.lane_relation for o in s.objects] == [LANE_EGO, LANE_LEFT]


def test_detections_at_another_resolution_are_rescaled(
        make_fuser: Callable[..., SceneFuser]) -> None:
    world = _world()
    fuser = make_fuser()
    for k in range(4):
        stamp = world.feed(fuser, k, camera=False)
        dets = [Detection2D(d.class_id, d.class_name, d.score, tuple(np.multiply(d.box_px, 0.5)))
                for d in world.detections(k * 0.1)]
        fuser.add_camera(stamp, dets, (320, 240))
        s = fuser.summarize(stamp)
    assert all(o.seen_by_camera for o in s.objects)


def test_clock_jump_back_resets(make_fuser: Callable[..., SceneFuser]) -> None:
    world = _world()
    fuser = make_fuser()
    for k in range(50, 55):
        fuser.summarize(world.feed(fuser, k))
    assert fuser.stats()["tracks_alive"] == 2
    before = {o.track_id for o in fuser.summarize(T0_NS + 54 * DT_NS).objects}
    # The bag loops: stamps restart 5 s earlier. Everything starts over (counted).
    for k in range(0, 4):
        s = fuser.summarize(world.feed(fuser, k))
    assert fuser.rejected_counts()["time_jump_resets"] == 1
    assert s.stamp_ns == T0_NS + 3 * DT_NS and len(s.objects) == 2
    assert min(o.track_id for o in s.objects) > max(before)  # ids are never reused


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="T_camera_from_lidar"):
        FusionConfig(T_camera_from_lidar=np.ones((4, 4)))
    with pytest.raises(ValueError, match="lane_width_m"):
        FusionConfig(lane_width_m=0.0)
    cfg = FusionConfig(T_base_from_lidar=list(np.eye(4).ravel()))  # 16 numbers, as a parameter
    assert cfg.T_base_from_lidar.shape == (4, 4)
    with pytest.raises(ValueError):
        SceneFuser().set_camera_model(np.zeros((3, 3)), 640, 480)


def test_empty_sweeps_are_fresh_and_let_tracks_die(make_fuser: Callable[..., SceneFuser]) -> None:
    world = _world()
    fuser = make_fuser()
    for k in range(5):
        fuser.summarize(world.feed(fuser, k))
    for k in range(5, 11):
        s = fuser.summarize(world.feed(fuser, k, visible=[]))
    assert s.perception_mode == MODE_FUSED and s.objects == []


def test_unknown_lidar_class_does_not_override_camera_class(
        make_fuser: Callable[..., SceneFuser]) -> None:
    world = World([Actor(20.0, 0.0, 0.0, 0.0, "pedestrian", (0.6, 0.6, 1.75))])
    fuser = make_fuser()
    for k in range(5):
        fuser.summarize(world.feed(fuser, k))
    # The camera stops; the lidar keeps calling it "unknown" for a long time.
    for k in range(5, 40):
        stamp = world.feed(fuser, k, camera=False, lidar=False)
        objs = [type(o)(o.center_m, o.size_m, o.yaw_rad, "unknown", 0.9, o.point_count)
                for o in world.lidar_objects(k * 0.1)]
        fuser.add_lidar(stamp, objs)
        s = fuser.summarize(stamp)
    assert s.objects[0].class_name == "pedestrian"


def test_camera_class_classifies_the_associated_lidar_cluster(
        make_fuser: Callable[..., SceneFuser]) -> None:
    """Region-of-interest fusion, as Autoware's roi_cluster_fusion: a lidar cluster paired
    with a camera box takes the camera's class (the size guess confuses look-alikes); a
    cluster the camera does not see keeps the lidar's class."""
    world = World([Actor(20.0, 0.0, 0.0, 0.0, "cyclist", (1.8, 0.6, 1.7)),
                   Actor(30.0, -3.5, 0.0, 0.0, "truck", (6.0, 2.3, 2.4)),
                   Actor(5.0, 8.0, 0.0, 0.0, "pedestrian", (0.6, 0.6, 1.75))])  # out of view
    lidar_guess = ["pedestrian", "car", "pedestrian"]
    fuser = make_fuser()
    for k in range(8):
        stamp = world.feed(fuser, k, lidar=False)  # the camera sees what it sees, ...
        objs = [replace(o, class_name=guess)  # ... the lidar makes its size guesses
                for o, guess in zip(world.lidar_objects(k * 0.1), lidar_guess, strict=True)]
        fuser.add_lidar(stamp, objs)
        s = fuser.summarize(stamp + 20 * MS)
    assert s.perception_mode == MODE_FUSED and len(s.objects) == 3
    by_place = {(round(o.position_m[0]), round(o.position_m[1])): o for o in s.objects}
    cyclist, truck, walker = by_place[(20, 0)], by_place[(30, -4)], by_place[(5, 8)]
    assert cyclist.class_name == "cyclist" and cyclist.seen_by_camera
    assert truck.class_name == "truck" and truck.seen_by_camera
    assert walker.class_name == "pedestrian" and not walker.seen_by_camera
    assert all(o.seen_by_lidar for o in s.objects)


def test_camera_confirmation_drops_what_the_camera_rules_out(
        make_fuser: Callable[..., SceneFuser]) -> None:
    """camera_confirm_range_m: in view and in range, a cluster no camera box covers is
    dropped (a pole, a bush), unless it is in the ego corridor or beyond the range; a
    road user the camera sees stays. Off (0), everything stays."""
    world = World([Actor(20.0, -4.0, 0.0, 0.0, "car", (4.5, 1.8, 1.5))])
    clutter = [  # lidar-only clusters: beside the road, in the corridor, far
        replace(world.lidar_objects(0.0)[0], center_m=np.array(xyz), class_name="pedestrian",
                size_m=np.array([0.5, 0.5, 1.6]))
        for xyz in ((12.0, 5.0, 0.8), (12.0, 0.5, 0.8), (55.0, 6.0, 0.8))]

    def run(**cfg: float) -> tuple[list[tuple[int, int]], dict[str, int]]:
        fuser = make_fuser(**cfg)
        for k in range(8):
            stamp = world.feed(fuser, k, lidar=False)
            fuser.add_lidar(stamp, [*world.lidar_objects(k * 0.1), *clutter])
            s = fuser.summarize(stamp + 20 * MS)
        return sorted((round(o.position_m[0]), round(o.position_m[1])) for o in s.objects), \
            fuser.stats()

    kept_off, _ = run()
    assert len(kept_off) == 4
    kept_on, stats = run(camera_confirm_range_m=30.0)
    assert (12, 5) not in kept_on and stats["lidar_objects_unconfirmed_dropped"] >= 8
    assert {(20, -4), (12, 0), (55, 6)} <= set(kept_on)
