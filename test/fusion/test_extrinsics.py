"""Extrinsics from a static tree (fusion/extrinsics.py) and the fuser taking them late:
a lidar car and its camera box fuse only once the real KITTI mounting is in."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_llm_ros.fusion import FusionConfig, SceneFuser
from edge_llm_ros.fusion.extrinsics import TfExtrinsics
from edge_llm_ros.fusion.projection import box_corners
from edge_llm_ros.fusion.tf_tree import invert, matrix_from_transform
from edge_llm_ros.perception.kitti import parse_kitti_calib, project_velo_to_image

CAR_CENTER_VELO_M = (15.0, 1.0, -0.98)  # on the road 1.73 m below the Velodyne
CAR_SIZE_M = (4.2, 1.8, 1.5)


def _turn(z_deg: float, xyz: tuple[float, float, float]) -> np.ndarray:
    half = np.radians(z_deg) / 2
    return matrix_from_transform(xyz, (0.0, 0.0, np.sin(half), np.cos(half)))


def test_chain_from_the_inputs_frames() -> None:
    fallback = _turn(0, (0.0, 0.0, 1.9))
    ex = TfExtrinsics("base_link", fallback)
    assert ex.resolve() is None and "no lidar objects" in ex.waiting_for()
    ex.set_frames(lidar="velodyne", camera="cam")
    assert ex.resolve() is None and "no chain cam <- velodyne" in ex.waiting_for()
    mount, cam = _turn(90, (1.0, 0.0, 0.5)), _turn(-30, (0.2, 0.1, 0.0))
    ex.tree.set("rig", "velodyne", mount)
    ex.tree.set("rig", "cam", cam)
    found = ex.resolve()
    assert found is not None and not found.base_from_tf
    assert np.allclose(found.T_camera_from_lidar, invert(cam) @ mount)
    assert np.array_equal(found.T_base_from_lidar, fallback)
    base_rig = _turn(5, (0.3, 0.0, 1.2))
    ex.tree.set("base_link", "rig", base_rig)
    found2 = ex.resolve()
    assert found2.base_from_tf and np.allclose(found2.T_base_from_lidar, base_rig @ mount)
    assert not found2.same_as(found) and found2.same_as(ex.resolve())


def test_objects_already_in_base_link() -> None:
    """A lidar detector with target_frame base_link: the lidar frame is base_link itself."""
    ex = TfExtrinsics("base_link", np.eye(4))
    ex.set_frames(lidar="base_link", camera="cam")
    ex.tree.set("base_link", "cam", _turn(0, (1.5, 0, 1.6)))
    found = ex.resolve()
    assert found.base_from_tf and np.array_equal(found.T_base_from_lidar, np.eye(4))


def _kitti_extrinsics(calib_path: Path) -> tuple[np.ndarray, np.ndarray]:
    c = parse_kitti_calib(calib_path)
    K = c.P2[:, :3]
    offset = np.eye(4)
    offset[:3, 3] = np.linalg.solve(K, c.P2[:, 3])
    return K, offset @ c.t_rect_from_velo


def test_fuser_fuses_the_camera_once_given_the_real_mounting(kitti_dir: Path) -> None:
    calib = parse_kitti_calib(kitti_dir / "000002.txt")
    corners = box_corners(np.array([CAR_CENTER_VELO_M]), np.array([CAR_SIZE_M]),
                          np.zeros(1))[0]
    uv, _ = project_velo_to_image(corners, calib)
    box = np.array([[*uv.min(axis=0), *uv.max(axis=0)]])
    K, camera_from_velo = _kitti_extrinsics(kitti_dir / "000002.txt")

    # A mounting that sees nothing of the car (camera axes = lidar axes: it is behind).
    fuser = SceneFuser(FusionConfig(confirm_hits=1, T_camera_from_lidar=np.eye(4)))
    fuser.set_camera_model(K, 1242, 375)
    base_from_velo = np.eye(4)
    base_from_velo[2, 3] = 1.73

    def frame(stamp_ns: int) -> object:
        fuser.add_lidar_arrays(stamp_ns, np.array([CAR_CENTER_VELO_M]), np.array([CAR_SIZE_M]),
                               np.zeros(1), ["unknown"], np.array([0.5]))
        fuser.add_camera_arrays(stamp_ns, box, ["car"], np.array([0.9]), (1242, 375))
        return fuser.summarize(stamp_ns + 10_000_000)

    before = frame(1_000_000_000)
    assert [o.seen_by_camera for o in before.objects] == [False]
    fuser.set_extrinsics(camera_from_velo, base_from_velo)
    after = frame(1_100_000_000)
    assert [o.track_id for o in after.objects] == [o.track_id for o in before.objects]
    (car,) = after.objects
    assert car.seen_by_camera and car.class_name == "car"
    assert after.perception_mode == "fused"
