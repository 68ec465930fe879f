"""Projection against hand-computed pixels for the simulator's camera (f=320, c=(319.5, 239.5))."""

from __future__ import annotations

import numpy as np
import pytest

from edge_llm_ros.fusion.projection import (
    box_corners,
    ground_points_from_pixels,
    project_box,
    project_boxes,
    project_points,
)
from edge_llm_ros.sim.rig import (
    base_from_lidar,
    camera_from_lidar,
    camera_matrix,
    camera_optical_from_base,
)

K = camera_matrix()
T = camera_from_lidar()  # lidar (0,0,1.9) and camera (1.5,0,1.6) in base_link
W, H = 640, 480


def test_sim_intrinsics_and_extrinsics() -> None:
    assert K[0, 0] == pytest.approx(320.0) and K[1, 1] == pytest.approx(320.0)
    assert K[0, 2] == pytest.approx(319.5) and K[1, 2] == pytest.approx(239.5)
    # base_link +x (forward) is optical +z; +y (left) is optical -x; +z (up) is optical -y.
    R = camera_optical_from_base()[:3, :3]
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 0, 1])
    np.testing.assert_allclose(R @ [0, 1, 0], [-1, 0, 0])
    np.testing.assert_allclose(R @ [0, 0, 1], [0, -1, 0])
    np.testing.assert_allclose(base_from_lidar()[:3, 3], [0, 0, 1.9])


def test_box_corners_rotated() -> None:
    c = box_corners(np.array([[1.0, 2.0, 3.0]]), np.array([[4.0, 2.0, 1.0]]),
                    np.array([np.pi / 2]))[0]
    assert c.shape == (8, 3)
    # Length along +y after a quarter turn: x spans +-1 (width), y spans +-2 (length).
    np.testing.assert_allclose(c[:, 0].min(), 0.0, atol=1e-12)
    np.testing.assert_allclose(c[:, 0].max(), 2.0, atol=1e-12)
    np.testing.assert_allclose([c[:, 1].min(), c[:, 1].max()], [0.0, 4.0], atol=1e-12)
    np.testing.assert_allclose([c[:, 2].min(), c[:, 2].max()], [2.5, 3.5], atol=1e-12)


def test_project_points_by_hand() -> None:
    # Lidar (11.5, 0, -0.3) is base (11.5, 0, 1.6): 10 m straight ahead of the camera.
    # Lidar (11.5, 1, -1.3) is 10 m ahead, 1 m left, 1 m down: u = 319.5 - 32, v = 239.5 + 32.
    # Lidar (-1, 0, 0) is behind the camera.
    uv, ok = project_points(np.array([[11.5, 0.0, -0.3], [11.5, 1.0, -1.3], [-1.0, 0.0, 0.0]]),
                            T, K)
    np.testing.assert_allclose(uv[0], [319.5, 239.5])
    np.testing.assert_allclose(uv[1], [287.5, 271.5])
    assert ok.tolist() == [True, True, False]


def test_project_box_by_hand() -> None:
    # 2 m cube centred 10 m ahead of the camera: the near face (9 m) bounds the image box.
    box = project_box(np.array([11.5, 0.0, -0.3]), np.array([2.0, 2.0, 2.0]), 0.0, T, K, W, H)
    assert box is not None
    half = 320.0 / 9.0
    np.testing.assert_allclose(box, [319.5 - half, 239.5 - half, 319.5 + half, 239.5 + half])


def test_box_behind_or_outside_is_none() -> None:
    assert project_box(np.array([-5.0, 0.0, 0.0]), np.ones(3), 0.0, T, K, W, H) is None
    # 10 m ahead but 30 m to the left: outside the 90 degree field of view.
    assert project_box(np.array([11.5, 30.0, 0.0]), np.ones(3), 0.0, T, K, W, H) is None


def test_box_straddling_the_camera_is_clipped_at_the_near_plane() -> None:
    # Relative to the camera: x in [-1, 3], y in [2, 4] (left), z in [-1, 1]. The part in
    # front is bounded by the near-plane crossing (far left, clipped to 0) and the far
    # edge of its inner side: u = 319.5 - 320 * 2 / 3.
    box = project_box(np.array([2.5, 3.0, -0.3]), np.array([4.0, 2.0, 2.0]), 0.0, T, K, W, H)
    assert box is not None
    assert box[0] == 0.0
    assert box[2] == pytest.approx(319.5 - 320.0 * 2.0 / 3.0)
    # Naively projecting the corners behind the camera would put some on the right side.
    assert box[2] < 319.5


def test_project_boxes_vectorised_matches_single() -> None:
    rng = np.random.default_rng(1)
    centers = np.column_stack([rng.uniform(-10, 60, 40), rng.uniform(-20, 20, 40),
                               rng.uniform(-2, 0, 40)])
    sizes = rng.uniform(0.5, 5.0, (40, 3))
    yaws = rng.uniform(-np.pi, np.pi, 40)
    boxes, vis = project_boxes(centers, sizes, yaws, T, K, W, H)
    assert vis.any() and not vis.all()
    for i in range(40):
        single = project_box(centers[i], sizes[i], yaws[i], T, K, W, H)
        assert (single is not None) == vis[i]
        if single is not None:
            np.testing.assert_allclose(single, boxes[i])
            assert 0.0 <= single[0] < single[2] <= W and 0.0 <= single[1] < single[3] <= H
    assert np.isnan(boxes[~vis]).all()
    empty, empty_vis = project_boxes(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), T, K, W, H)
    assert empty.shape == (0, 4) and empty_vis.shape == (0,)


def test_ground_points_flat_ground() -> None:
    T_base_from_camera = np.linalg.inv(camera_optical_from_base())
    # 32 px below the principal point: ray slope 0.1 down from 1.6 m: ground 16 m ahead.
    pts, ok = ground_points_from_pixels(np.array([[319.5, 271.5], [319.5, 239.5], [319.5, 100]]),
                                        K, T_base_from_camera)
    assert ok.tolist() == [True, False, False]  # horizon and sky never meet the ground
    np.testing.assert_allclose(pts[0], [17.5, 0.0, 0.0], atol=1e-9)
