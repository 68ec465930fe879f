"""The simulator's /tf_static edges are its sensor models' mounting: projecting a lidar
sweep through the tree (as scene_fusion with extrinsics_source tf does) puts every point
on the pixel the simulator's own camera model gives it."""

from __future__ import annotations

import numpy as np
import pytest

from edge_llm_ros.fusion.projection import project_points, transform_points
from edge_llm_ros.fusion.tf_tree import (
    StaticTfTree,
    StaticTransform,
    matrix_from_transform,
    transform_from_matrix,
)
from edge_llm_ros.sim import rig
from edge_llm_ros.sim.tf_static import sensor_transforms

FRAMES = ("base_link", "lidar", "camera_optical")


def _tree_as_sent(edges: list[StaticTransform]) -> StaticTfTree:
    """The tree a /tf_static listener rebuilds: each edge through translation + quaternion,
    the form TransformStamped carries."""
    tree = StaticTfTree()
    for e in edges:
        tree.set(e.parent, e.child, matrix_from_transform(*transform_from_matrix(
            e.parent_from_child)))
    return tree


def test_edges_are_the_sensor_models_mounting() -> None:
    from edge_llm_ros.sim import CameraConfig, CameraModel, LidarConfig

    edges = sensor_transforms(*FRAMES)
    assert [(e.parent, e.child) for e in edges] == [("base_link", "lidar"),
                                                   ("base_link", "camera_optical")]
    tree = _tree_as_sent(edges)
    # The lidar model and the Simulator place the lidar by translation(mount).
    np.testing.assert_allclose(tree.lookup("base_link", "lidar"),
                               rig.translation(LidarConfig().mount_xyz_m), atol=1e-12)
    camera = CameraModel(CameraConfig())
    np.testing.assert_allclose(tree.lookup("camera_optical", "base_link"),
                               camera.T_camera_optical_from_base, atol=1e-12)
    # ... and TF gives what scene_fusion's camera_from_lidar parameter defaults to.
    np.testing.assert_allclose(tree.lookup("camera_optical", "lidar"),
                               rig.camera_from_lidar(), atol=1e-12)
    _, quaternion = transform_from_matrix(edges[1].parent_from_child)
    assert quaternion == pytest.approx((-0.5, 0.5, -0.5, 0.5))  # REP 103 optical frame


def test_mounts_other_than_the_rig_follow_the_configs() -> None:
    from edge_llm_ros.sim import CameraConfig, CameraModel

    camera_mount_m, lidar_mount_m = (2.1, -0.3, 1.25), (0.4, 0.1, 2.05)
    tree = _tree_as_sent(sensor_transforms("car/base", "car/lidar", "car/cam",
                                           lidar_mount_xyz_m=lidar_mount_m,
                                           camera_mount_xyz_m=camera_mount_m))
    camera = CameraModel(CameraConfig(mount_xyz_m=camera_mount_m))
    np.testing.assert_allclose(tree.lookup("car/cam", "car/base"),
                               camera.T_camera_optical_from_base, atol=1e-12)
    np.testing.assert_allclose(tree.lookup("car/base", "car/lidar")[:3, 3], lidar_mount_m)
    # The camera's mount is the optical origin, seen from the lidar too.
    lens_in_lidar = np.subtract(camera_mount_m, lidar_mount_m)
    np.testing.assert_allclose(transform_points(tree.lookup("car/cam", "car/lidar"),
                                                lens_in_lidar), 0.0, atol=1e-12)


def test_a_sweep_projects_through_the_tree_as_the_simulator_camera_sees_it() -> None:
    from edge_llm_ros.sim import CameraConfig, LidarConfig, Simulator, load_scenario

    camera, lidar = CameraConfig(width_px=320, height_px=240), LidarConfig()
    tree = _tree_as_sent(sensor_transforms(*FRAMES, lidar_mount_xyz_m=lidar.mount_xyz_m,
                                           camera_mount_xyz_m=camera.mount_xyz_m))
    with Simulator(load_scenario("stopped_vehicle_in_lane"), camera=camera, lidar=lidar) as sim:
        frame = sim.step(render_camera=False)
        cam = sim.camera_model
        assert frame.points_lidar is not None and cam is not None
        points_lidar = frame.points_lidar[:, :3].astype(float)
        # The simulator's own chain: its lidar mounting, then its camera model.
        uv_sim, inside_sim = cam.project(transform_points(sim.T_base_from_lidar, points_lidar))
        np.testing.assert_allclose(tree.lookup("base_link", "lidar"), sim.T_base_from_lidar,
                                   atol=1e-12)
        # What fusion does with /tf_static: camera <- lidar from the tree, K from CameraInfo.
        uv_tf, in_front = project_points(points_lidar, tree.lookup("camera_optical", "lidar"),
                                         cam.K)
    assert inside_sim.sum() > 1000, "a good part of the sweep is in the camera's view"
    assert np.all(in_front[inside_sim])
    np.testing.assert_allclose(uv_tf[inside_sim], uv_sim[inside_sim], atol=1e-6)
    # The stopped car ahead: its lidar points land on it in the image as well.
    car = next(o for o in frame.objects if o.class_name == "car" and o.visible_in_camera
               and o.lidar_point_count > 0)
    uv_car, _ = cam.project(car.center_base_m[None])
    near_car = np.linalg.norm(uv_tf[inside_sim] - uv_car, axis=1) < 10.0
    assert near_car.sum() > 10
