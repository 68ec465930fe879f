"""Tracking through SceneFuser (lidar + camera of the simulator's rig) and the Tracker itself."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edge_llm_ros.fusion import SceneFuser
from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.fusion.tracker import Measurements, Tracker
from edge_llm_ros.tools.synthetic.fusion_world import DT_NS, T0_NS, Actor, World
from edge_llm_ros.types import Object3D, SceneSummary

PED = (0.6, 0.6, 1.75)


def _nearest(summary: SceneSummary, xy: np.ndarray) -> list[tuple[int, float, int]]:
    """For each true position: (track id, distance to it, index into summary.objects)."""
    pos = np.array([o.position_m[:2] for o in summary.objects]).reshape(-1, 2)
    out = []
    for p in xy:
        d = np.hypot(*(pos - p).T)
        i = int(d.argmin())
        out.append((summary.objects[i].track_id, float(d[i]), i))
    return out


def _ten_actors() -> list[Actor]:
    return [
        Actor(25, 0.0, 6.0, 0.0),                       # slower car ahead
        Actor(10, 3.5, 13.0, 0.0),                      # faster car, left lane
        Actor(60, -3.5, 0.0, 0.0),                      # parked, right lane
        Actor(90, 3.5, -8.0, 0.0),                      # oncoming
        Actor(35, 6.0, 0.0, -1.4, "pedestrian", PED),   # crossing right to left...
        Actor(36, -6.0, 0.0, 1.4, "pedestrian", PED),   # ...and left to right: paths cross
        Actor(45, -7.0, 3.0, 0.3, "cyclist", (1.8, 0.6, 1.7)),
        Actor(15, -3.5, 9.0, 0.0),
        Actor(70, 0.0, 4.0, 0.0, "truck", (8.0, 2.5, 3.2)),
        Actor(50, 7.0, 0.0, 0.0, "pedestrian", PED),    # standing on the sidewalk
    ]


def test_stable_ids_and_velocities_over_50_frames(make_fuser: Callable[..., SceneFuser]) -> None:
    world = World(_ten_actors(), ego_speed=8.0, ego_yaw_rate=0.01, lidar_noise_m=0.05, seed=3)
    fuser = make_fuser()
    ids: list[int] | None = None
    for k in range(50):
        stamp = world.feed(fuser, k)
        summary = fuser.summarize(stamp)
        assert summary.stamp_ns == stamp
        if k < 2:
            assert summary.objects == []  # tentative until confirm_hits (3) updates
            continue
        assert summary.perception_mode == "fused"
        assert len(summary.objects) == 10
        xy, vel = world.in_base(k * 0.1)
        near = _nearest(summary, xy)
        assert max(d for _, d, _ in near) < 0.5
        now_ids = [i for i, _, _ in near]
        assert len(set(now_ids)) == 10
        if ids is None:
            ids = now_ids
        assert now_ids == ids, f"id switch at frame {k}"
        if k >= 20:  # converged: absolute velocity in base_link axes
            for (_, _, j), v in zip(near, vel, strict=True):
                est = summary.objects[j].velocity_mps
                assert math.hypot(est[0] - v[0], est[1] - v[1]) < 0.3, (k, j, est, v)
    # The camera labels pedestrians, lidar sizes did the rest; classes survive.
    by_id = {o.track_id: o for o in summary.objects}
    assert by_id[ids[4]].class_name == "pedestrian"
    assert by_id[ids[8]].class_name == "truck"
    assert fuser.stats()["tracks_created"] == 10


def test_parked_car_absolute_velocity_zero_while_ego_drives(
        make_fuser: Callable[..., SceneFuser]) -> None:
    world = World([Actor(80, -3.5, 0.0, 0.0)], ego_speed=10.0, lidar_noise_m=0.05)
    fuser = make_fuser()
    for k in range(30):
        summary = fuser.summarize(world.feed(fuser, k))
    (obj,) = summary.objects
    assert math.hypot(*obj.velocity_mps[:2]) < 0.2
    assert abs(obj.relative_speed_mps - 10.0) < 0.2  # closing at the ego's speed
    assert abs(obj.position_m[0] - (80.0 - 2.9 * 10.0)) < 0.3  # still ahead, 51 m


def test_track_dies_after_misses_and_new_object_gets_new_id(
        make_fuser: Callable[..., SceneFuser]) -> None:
    world = World([Actor(20, 0, 0, 0), Actor(30, -3.5, 0, 0)], ego_speed=0.0)
    fuser = make_fuser(max_misses=5)
    for k in range(5):
        summary = fuser.summarize(world.feed(fuser, k))
    first_ids = {o.track_id for o in summary.objects}
    assert len(first_ids) == 2
    # Object 1 vanishes: coasts for max_misses - 1 frames, then is gone.
    for k in range(5, 10):
        summary = fuser.summarize(world.feed(fuser, k, visible=[0]))
        assert len(summary.objects) == (2 if k < 9 else 1), k
    coasting = [o for o in summary.objects if not o.seen_by_lidar]
    assert coasting == []
    # A new object appears elsewhere: a fresh id, never a recycled one.
    world.actors.append(Actor(40, 3.5, 0, 0))
    for k in range(10, 14):
        summary = fuser.summarize(world.feed(fuser, k, visible=[0, 2]))
    ids = {o.track_id for o in summary.objects}
    assert len(ids) == 2
    new_id = (ids - first_ids).pop()
    assert new_id > max(first_ids)


def test_out_of_order_and_stale_frames_rejected_and_counted(
        make_fuser: Callable[..., SceneFuser]) -> None:
    world = World([Actor(20, 0, 0, 0)])
    fuser = make_fuser()
    for k in range(5):
        fuser.summarize(world.feed(fuser, k))
    last = T0_NS + 4 * DT_NS
    assert not fuser.add_lidar(last - DT_NS // 2, world.lidar_objects(0.35))
    assert not fuser.add_lidar(last, world.lidar_objects(0.4))  # duplicate stamp
    assert not fuser.add_odometry(last - 1, 0.0, 0.0)
    counts = fuser.rejected_counts()
    assert counts["lidar_out_of_order"] == 2 and counts["odometry_out_of_order"] == 1
    # A camera frame that would update the tracker behind its clock (lidar long gone at
    # that instant) is stale.
    fuser2 = make_fuser()
    fuser2.add_lidar(T0_NS + 10 * DT_NS, world.lidar_objects(1.0))
    fuser2.summarize(T0_NS + 10 * DT_NS)
    assert fuser2.add_camera(T0_NS, world.detections(0.0), world.size_px)
    fuser2.summarize(T0_NS + 10 * DT_NS)
    assert fuser2.rejected_counts()["camera_stale"] == 1
    # Frames stamped far in the future (bad clock) are refused at processing time.
    fuser2.add_lidar(T0_NS + 100 * DT_NS, world.lidar_objects(1.0))
    fuser2.summarize(T0_NS + 11 * DT_NS)
    assert fuser2.rejected_counts()["lidar_future"] == 1


def test_nan_input_rejected_and_counted(make_fuser: Callable[..., SceneFuser]) -> None:
    world = World([Actor(20, 0, 0, 0)])
    fuser = make_fuser()
    nan = float("nan")
    for k in range(4):
        stamp = T0_NS + k * DT_NS
        objs = world.lidar_objects(k * 0.1) + [
            Object3D((nan, 1.0, 0.0), (4.5, 1.8, 1.5), 0.0, "car", 0.5),
            Object3D((10.0, 1.0, 0.0), (4.5, 1.8, 1.5), nan, "car", 0.5),
            Object3D((10.0, 1.0, 0.0), (4.5, -1.0, 1.5), 0.0, "car", 0.5),
            Object3D((10.0, 1.0), (4.5, 1.8, 1.5), 0.0, "car", 0.5),  # malformed
        ]
        assert fuser.add_lidar(stamp, objs)
        dets = world.detections(k * 0.1)
        dets.append(type(dets[0])(0, "car", 0.9, (nan, 0.0, 10.0, 10.0)))
        assert fuser.add_camera(stamp, dets, world.size_px)
        assert not fuser.add_odometry(stamp, nan, 0.0)
        summary = fuser.summarize(stamp)
    counts = fuser.rejected_counts()
    assert counts["lidar_objects_invalid"] == 4 * 4
    assert counts["camera_detections_invalid"] == 4
    assert counts["odometry_invalid"] == 4
    assert len(summary.objects) == 1  # only the valid object became a track
    assert all(math.isfinite(v) for v in summary.objects[0].position_m)


def _meas(xy: list[tuple[float, float]], cls: str = "car") -> Measurements:
    n = len(xy)
    cov = np.tile(np.eye(2) * 0.01, (n, 1, 1))
    return Measurements(np.array(xy, float).reshape(n, 2), cov, np.zeros(n),
                        np.tile([4.5, 1.8, 1.5], (n, 1)), np.ones(n, bool), np.zeros(n),
                        np.ones(n, bool), [cls] * n, np.ones(n), np.full(n, 0.7),
                        np.zeros(n, bool), np.ones(n, bool))


def test_tracker_variable_dt_and_gating() -> None:
    tr = Tracker(FusionConfig(confirm_hits=2))
    t = 0
    x = 0.0
    # Irregular frame spacing (50..150 ms) of an object moving 5 m/s along x.
    for dt_ms in [0, 100, 50, 150, 100, 70, 130, 100, 100, 100, 100, 100]:
        t += dt_ms * 1_000_000
        x = 5.0 * t * 1e-9
        res = tr.update(t, _meas([(x, 2.0)]))
        assert res.accepted
    snap = tr.snapshot()
    assert snap.ids.tolist() == [1]
    assert abs(snap.velocity[0, 0] - 5.0) < 0.1 and abs(snap.velocity[0, 1]) < 0.1
    # A measurement 20 m away is outside every gate: a second track is born, not a jump.
    res = tr.update(t + 100_000_000, _meas([(x + 0.5, 2.0), (x + 20.0, 2.0)]))
    assert res.matched == 1 and res.born == 1
    assert not tr.update(t, _meas([(x, 2.0)])).accepted
    assert tr.frames_rejected_stale == 1
