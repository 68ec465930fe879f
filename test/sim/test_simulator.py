"""The simulator's sensors agree with its ground truth, and runs are reproducible.

The checks use MuJoCo itself as the reference: segmentation rendering says
which object each pixel shows, independently of `CameraModel`, and lidar
points are compared with the ground-truth boxes they should fall in.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from edge_llm_ros.sim import (
    CameraConfig,
    CameraModel,
    GroundTruthObject,
    LidarConfig,
    SimFrame,
    Simulator,
    load_scenario,
)

SMALL_CAMERA = CameraConfig(width_px=320, height_px=240)


def _to_base(sim: Simulator, points_lidar: np.ndarray) -> np.ndarray:
    t = sim.T_base_from_lidar
    return points_lidar[:, :3].astype(float) @ t[:3, :3].T + t[:3, 3]


def _in_box(points_base: np.ndarray, obj: GroundTruthObject, pad_m: float) -> np.ndarray:
    d = points_base - obj.center_base_m
    c, s = math.cos(obj.yaw_base_rad), math.sin(obj.yaw_base_rad)
    local = np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], axis=1)
    return np.all(np.abs(local) <= obj.size_m / 2.0 + pad_m, axis=1)


def _box_corners(obj: GroundTruthObject) -> np.ndarray:
    c, s = math.cos(obj.yaw_base_rad), math.sin(obj.yaw_base_rad)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    half = obj.size_m / 2.0
    local = np.array(list(itertools.product(*[(-h, h) for h in half])))
    return local @ rot.T + obj.center_base_m


def _frames_at(sim: Simulator, times_s: list[float]) -> Iterator[SimFrame]:
    """Step to each time in turn; lazily, so the sim's state is that frame's when it is used."""
    for t in times_s:
        while sim.time_s < t - 1e-9:
            frame = sim.step()
        yield frame


# ------------------------------------------------------------------ camera


def test_camera_model_projects_a_hand_computed_point() -> None:
    cam = CameraModel(CameraConfig())  # 640x480, 90 deg, mounted at (1.5, 0, 1.6)
    assert cam.K[0, 0] == pytest.approx(320.0) and cam.K[1, 1] == pytest.approx(320.0)
    assert (cam.K[0, 2], cam.K[1, 2]) == (319.5, 239.5)
    # 10 m ahead of the lens, 1 m to the left, at lens height: u = 319.5 - 320 * 1/10
    uv, ok = cam.project(np.array([[11.5, 1.0, 1.6], [11.5, 0.0, 0.6], [-5.0, 0.0, 1.6],
                                   [2.0, 5.0, 1.6]]))
    assert uv[0] == pytest.approx([287.5, 239.5])
    assert uv[1] == pytest.approx([319.5, 239.5 + 32.0])  # 1 m lower: v grows downwards
    assert ok.tolist() == [True, True, False, False]  # behind; far outside the 90 deg view
    t = cam.T_camera_optical_from_base
    assert t[:3, :3] @ np.array([1.0, 0.0, 0.0]) == pytest.approx([0.0, 0.0, 1.0])  # x -> z
    assert t[:3, :3] @ np.array([0.0, 1.0, 0.0]) == pytest.approx([-1.0, 0.0, 0.0])  # left -> -x
    assert cam.T_base_from_camera_optical @ t == pytest.approx(np.eye(4))
    assert cam.fovy_deg == pytest.approx(math.degrees(2 * math.atan(240 / 320)))


@pytest.mark.parametrize("scenario", ["mixed_traffic", "cyclist_overtaking"])
def test_objects_appear_where_the_camera_model_projects_them(scenario: str) -> None:
    with Simulator(load_scenario(scenario), camera=SMALL_CAMERA, lidar=None) as sim:
        cam = sim.camera_model
        assert cam is not None
        checked_centres = 0
        for frame in _frames_at(sim, [0.5, 2.0, 3.5, 6.0]):
            seg = sim.render_segmentation()
            assert seg.shape == (cam.height_px, cam.width_px)
            assert not np.any(seg == -2), "the ego's own body is in its camera image"
            for obj in frame.objects:
                pixels = np.argwhere(seg == obj.id)  # (row, col)
                dist = float(np.linalg.norm(obj.center_base_m))
                uv, in_front = cam.project(_box_corners(obj))
                extent_px = uv.max(axis=0) - uv.min(axis=0) if in_front.all() else None
                if not obj.visible_in_camera:
                    # at the resolution limit (under 2 px) either answer is fair
                    tiny = extent_px is not None and extent_px.min() < 2.0
                    assert len(pixels) == 0 or tiny or dist > 150.0, obj
                    continue
                assert extent_px is not None
                if extent_px.min() >= 4.0:
                    assert len(pixels) > 0, obj
                u0, v0 = uv.min(axis=0) - 1.0
                u1, v1 = uv.max(axis=0) + 1.0
                # every pixel of the object lies inside its projected 3-D box
                assert np.all((pixels[:, 1] >= u0) & (pixels[:, 1] <= u1)
                              & (pixels[:, 0] >= v0) & (pixels[:, 0] <= v1)), obj
                # the projected centre shows the object, or something nearer in front of it
                uv, inside = cam.project(obj.center_base_m[None])
                if inside[0] and extent_px.min() >= 4.0:
                    seen = seg[int(round(uv[0, 1])), int(round(uv[0, 0]))]
                    nearer = {o.id for o in frame.objects
                              if np.linalg.norm(o.center_base_m) < dist}
                    assert seen == obj.id or seen in nearer, (obj, seen)
                    checked_centres += seen == obj.id
        assert checked_centres >= 3


# ------------------------------------------------------------------- lidar


@pytest.mark.parametrize("scenario", ["mixed_traffic", "stopped_vehicle_in_lane"])
def test_lidar_points_fall_in_ground_truth_boxes(scenario: str) -> None:
    with Simulator(load_scenario(scenario), camera=SMALL_CAMERA) as sim:
        checked = 0
        for frame in _frames_at(sim, [0.5, 3.0, 6.0, 9.0]):
            pts = frame.points_lidar
            assert pts is not None and pts.dtype == np.float32 and pts.shape[1] == 4
            assert np.all((pts[:, 3] >= 0.0) & (pts[:, 3] <= 1.0))
            assert np.linalg.norm(pts[:, :3], axis=1).max() <= 100.0 + 1e-3
            base = _to_base(sim, pts)
            ego = (base[:, 0] > -1.2) & (base[:, 0] < 3.7) & (np.abs(base[:, 1]) < 1.0) \
                & (base[:, 2] > 0.1)
            assert not ego.any(), "the ego's own body is in its lidar sweep"
            in_any = np.zeros(len(base), dtype=bool)
            for obj in frame.objects:
                inside = _in_box(base, obj, pad_m=0.1)
                in_any |= inside
                above_ground = inside & (base[:, 2] > obj.center_base_m[2] - obj.size_m[2] / 2
                                         + 0.2)
                if obj.lidar_point_count > 0:
                    # every point labelled as this object lies in its box
                    assert inside.sum() >= obj.lidar_point_count, obj
                    checked += 1
                else:
                    assert above_ground.sum() == 0, obj
                near = float(np.linalg.norm(obj.center_base_m[:2]))
                limit = 40.0 if obj.class_name in ("car", "truck") else 30.0
                if obj.visible_in_camera and near < limit:
                    assert obj.lidar_point_count > 0, obj
            # what stands up from the road near the road users is the road users
            near_actors = np.zeros(len(base), dtype=bool)
            for obj in frame.objects:
                near_actors |= _in_box(base, obj, pad_m=3.0)
            tall = (base[:, 2] > 0.3) & near_actors
            if tall.sum() >= 10:
                assert (tall & in_any).sum() >= 0.95 * tall.sum()
        assert checked >= 4


def test_lidar_sees_the_ground_at_mount_height() -> None:
    with Simulator(load_scenario("clear_road"), camera=None) as sim:
        pts = sim.step().points_lidar
        assert pts is not None
        rng = np.linalg.norm(pts[:, :2], axis=1)
        close = pts[(rng > 5.0) & (rng < 15.0)]
        # the lidar frame sits 1.9 m above the ground, without rotation
        assert np.median(close[:, 2]) == pytest.approx(-1.9, abs=0.05)
        # 32 x 1024 rays, the upper ones see sky over an empty road
        assert 8000 < len(pts) < 32 * 1024
        assert sim.T_lidar_from_base @ sim.T_base_from_lidar == pytest.approx(np.eye(4))


# ---------------------------------------------------------- reproducibility


def _run(seed: int, steps: int = 3) -> list[SimFrame]:
    with Simulator(load_scenario("mixed_traffic"), seed=seed,
                   camera=CameraConfig(width_px=160, height_px=120)) as sim:
        return [sim.step() for _ in range(steps)]


def test_same_seed_gives_identical_frames_and_another_seed_does_not() -> None:
    a, b, c = _run(7), _run(7), _run(8)
    for fa, fb in zip(a, b, strict=True):
        assert fa.image_rgb is not None and fb.image_rgb is not None
        assert fa.image_rgb.tobytes() == fb.image_rgb.tobytes()
        assert fa.points_lidar is not None and fb.points_lidar is not None
        assert fa.points_lidar.tobytes() == fb.points_lidar.tobytes()
        assert [o.center_world_m.tolist() for o in fa.objects] == \
            [o.center_world_m.tolist() for o in fb.objects]
    fa, fc = a[-1], c[-1]
    assert fa.points_lidar.tobytes() != fc.points_lidar.tobytes()  # type: ignore[union-attr]
    moved = [np.linalg.norm(oa.center_world_m - oc.center_world_m)
             for oa, oc in zip(fa.objects, fc.objects, strict=True)]
    assert all(d > 1e-3 for d in moved)  # every actor jittered
    # both runs are jittered: up to 2 m each, plus 5 % of speed over the elapsed time
    assert max(moved) <= 2 * (2.0 + 0.05 * 16.0 * fa.time_s)


def test_reset_replays_and_seed_zero_is_the_scenario_as_written() -> None:
    scenario = load_scenario("car_braking_ahead")
    with Simulator(scenario, seed=0, camera=None) as sim:
        first = [sim.step() for _ in range(3)]
        sim.reset()
        again = [sim.step() for _ in range(3)]
        for f1, f2 in zip(first, again, strict=True):
            assert f1.points_lidar.tobytes() == f2.points_lidar.tobytes()  # type: ignore[union-attr]
        lead = first[0].objects[0]
        assert lead.center_world_m[0] == pytest.approx(
            scenario.actor_state(scenario.actors[0], 0.1).x_m)


# --------------------------------------------------------------- kinematics


def test_ground_truth_velocities_match_positions_and_braking_car_stops() -> None:
    scenario = load_scenario("car_braking_ahead")
    with Simulator(scenario, camera=None, lidar=None, rate_hz=20.0) as sim:
        frames = []
        while not sim.done:
            frames.append(sim.step())
    dt = 1.0 / 20.0
    assert len(frames) == int(round(scenario.duration_s * 20.0))
    assert frames[-1].time_s == pytest.approx(scenario.duration_s)
    assert frames[0].image_rgb is None and frames[0].points_lidar is None
    for f0, f1 in zip(frames, frames[1:], strict=False):
        for o0, o1 in zip(f0.objects, f1.objects, strict=True):
            fd = (o1.center_world_m - o0.center_world_m) / dt
            yaw = f0.ego_pose_world[2]
            rot = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0],
                            [0, 0, 1]])
            v_world = (rot @ o0.velocity_base_mps + rot @ o1.velocity_base_mps) / 2.0
            assert fd == pytest.approx(v_world, abs=0.25), (f0.time_s, o0.id)
        ego_fd = (f1.ego_pose_world[0] - f0.ego_pose_world[0]) / dt
        assert ego_fd == pytest.approx((f0.ego_speed_mps + f1.ego_speed_mps) / 2.0, abs=0.25)
    lead = [(f.time_s, f.objects[0]) for f in frames]
    speed = {round(t, 2): float(np.linalg.norm(o.velocity_base_mps)) for t, o in lead}
    assert speed[3.0] == pytest.approx(12.0)
    assert speed[5.0] == pytest.approx(0.0, abs=1e-9)
    assert all(speed[round(t, 2)] == 0.0 for t in np.arange(5.0, 10.0, 0.05))
    braking = [f.ego_acceleration_mps2 for f in frames if 4.0 <= f.time_s < 7.4]
    assert braking and all(a < -3.0 for a in braking)


def test_base_link_quantities_follow_a_turning_ego() -> None:
    """During a lane change the ego yaws: base_link values must rotate with it."""
    scenario = load_scenario("cyclist_overtaking")
    with Simulator(scenario, camera=None, lidar=None) as sim:
        frames = [sim.step() for _ in range(60)]
    yaws = [f.ego_pose_world[2] for f in frames]
    assert max(yaws) > 0.05  # turning left into lane 1
    # the change runs from t=3.0 to 5.5 s; the ego crosses into lane 1 half way
    lane_at = {round(f.time_s, 1): f.ego_lane_index for f in frames}
    assert (lane_at[3.0], lane_at[4.2], lane_at[4.3], lane_at[6.0]) == (0, 0, 1, 1)
    for f0, f1 in zip(frames, frames[1:], strict=False):
        assert (f1.ego_pose_world[2] - f0.ego_pose_world[2]) / 0.1 == pytest.approx(
            (f0.ego_yaw_rate_radps + f1.ego_yaw_rate_radps) / 2.0, abs=0.03)
    for f in frames:
        x, y, yaw = f.ego_pose_world
        c, s = math.cos(yaw), math.sin(yaw)
        for o in f.objects:
            d = o.center_world_m - np.array([x, y, 0.0])
            assert o.center_base_m == pytest.approx([c * d[0] + s * d[1], -s * d[0] + c * d[1],
                                                     d[2]])
            assert math.remainder(o.yaw_base_rad - (o.yaw_world_rad - yaw), 2 * math.pi) \
                == pytest.approx(0.0, abs=1e-9)
            v_world = np.array([c * o.velocity_base_mps[0] - s * o.velocity_base_mps[1],
                                s * o.velocity_base_mps[0] + c * o.velocity_base_mps[1]])
            assert np.linalg.norm(v_world) == pytest.approx(np.linalg.norm(o.velocity_base_mps))
            if o.class_name == "cyclist":
                assert v_world == pytest.approx([5.0, 0.0])  # absolute, not relative


# ---------------------------------------------------------------- lifecycle


def test_frame_types_and_stepping_from_another_thread() -> None:
    sim = Simulator(load_scenario("pedestrian_crossing"), camera=SMALL_CAMERA,
                    lidar=LidarConfig(channels=16, horizontal_samples=256))
    frames: list[SimFrame] = []
    worker = threading.Thread(target=lambda: frames.extend(sim.step() for _ in range(2)))
    worker.start()
    worker.join()
    f = frames[-1]
    assert f.time_s == pytest.approx(0.2)
    assert f.image_rgb is not None and f.image_rgb.shape == (240, 320, 3)
    assert f.image_rgb.dtype == np.uint8 and f.image_rgb.flags.c_contiguous
    assert f.image_rgb.std() > 10  # a real picture, not a blank buffer
    assert (f.lane_width_m, f.ego_lane_index, f.speed_limit_mps) == (3.5, 0, 13.9)
    assert {o.class_name for o in f.objects} == {"pedestrian"}
    sim.close()
    sim.close()  # idempotent
    with pytest.raises(RuntimeError, match="after close"):
        sim.step()
