"""The sensor rig is defined once (edge_llm_ros/sim/rig.py): the simulator's sensor
models, the parameter defaults and the shipped config files all say the same thing.
The Gazebo world is checked against it in test/gazebo/test_gazebo_files.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.fusion import FusionConfig
from edge_llm_ros.params import NODE_SPECS, node_params_from_file, validate_params
from edge_llm_ros.sim import rig

REPO = Path(__file__).resolve().parents[2]


def _defaults(kind: str) -> dict:
    return validate_params(kind, NODE_SPECS[kind], {})


def test_extrinsics_follow_from_the_mounts() -> None:
    """A lidar point at the camera's mount is at the optical origin; +x in base_link is
    the optical axis (+z)."""
    camera_in_lidar = np.subtract(rig.CAMERA_MOUNT_XYZ_M, rig.LIDAR_MOUNT_XYZ_M)
    T = rig.camera_from_lidar()
    np.testing.assert_allclose(T[:3, :3] @ camera_in_lidar + T[:3, 3], 0.0, atol=1e-12)
    np.testing.assert_allclose(T[:3, :3] @ [1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(rig.base_from_lidar()[:3, 3], rig.LIDAR_MOUNT_XYZ_M)
    assert rig.row_major(T)[7] == -0.3  # y_opt offset: 1.9 - 1.6 m, exactly as written


def test_the_simulator_models_use_the_rig() -> None:
    from edge_llm_ros.sim import CameraConfig, CameraModel, LidarConfig

    camera, lidar = CameraConfig(), LidarConfig()
    assert (camera.width_px, camera.height_px) == rig.CAMERA_SIZE_PX
    assert camera.horizontal_fov_deg == rig.CAMERA_HORIZONTAL_FOV_DEG
    assert camera.mount_xyz_m == rig.CAMERA_MOUNT_XYZ_M
    assert lidar.mount_xyz_m == rig.LIDAR_MOUNT_XYZ_M
    assert (lidar.channels, lidar.horizontal_samples, lidar.vertical_fov_deg,
            lidar.max_range_m) == (rig.LIDAR_CHANNELS, rig.LIDAR_HORIZONTAL_SAMPLES,
                                   rig.LIDAR_VERTICAL_FOV_DEG, rig.LIDAR_MAX_RANGE_M)
    model = CameraModel(camera)
    np.testing.assert_array_equal(model.K, rig.camera_matrix())
    np.testing.assert_array_equal(model.T_camera_optical_from_base,
                                  rig.camera_optical_from_base())


def test_parameter_and_fusion_defaults_are_the_rig() -> None:
    fusion = _defaults("scene_fusion")
    np.testing.assert_allclose(np.reshape(fusion["camera_from_lidar"], (4, 4)),
                               rig.camera_from_lidar(), atol=1e-9)
    np.testing.assert_allclose(np.reshape(fusion["base_from_lidar"], (4, 4)),
                               rig.base_from_lidar(), atol=1e-9)
    np.testing.assert_allclose(FusionConfig().T_camera_from_lidar, rig.camera_from_lidar(),
                               atol=1e-9)
    sim = _defaults("simulator")
    assert (sim["camera.width_px"], sim["camera.height_px"]) == rig.CAMERA_SIZE_PX
    assert sim["camera.horizontal_fov_deg"] == rig.CAMERA_HORIZONTAL_FOV_DEG
    assert sim["lidar.channels"] == rig.LIDAR_CHANNELS


@pytest.mark.parametrize("config", ["vehicle.yaml", "simulator.yaml"])
def test_shipped_configs_repeat_the_rig(config: str) -> None:
    """The YAML files spell the extrinsics out for people to edit; they must still be the rig."""
    path = REPO / "config" / config
    fusion = node_params_from_file(path, "scene_fusion")
    for name, expected in (("camera_from_lidar", rig.camera_from_lidar()),
                           ("base_from_lidar", rig.base_from_lidar())):
        if name in fusion:
            np.testing.assert_allclose(np.reshape(fusion[name], (4, 4)), expected, atol=1e-9)
    sim = node_params_from_file(path, "simulator")
    if "camera.width_px" in sim:
        assert (sim["camera.width_px"], sim["camera.height_px"]) == rig.CAMERA_SIZE_PX
        assert sim["camera.horizontal_fov_deg"] == rig.CAMERA_HORIZONTAL_FOV_DEG


def test_the_rig_loads_without_mujoco() -> None:
    """Parameters and fusion import the rig; a vehicle must not load MuJoCo for that."""
    code = ("import sys, edge_llm_ros.params, edge_llm_ros.fusion, edge_llm_ros.sim.rig\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('mujoco', 'mujoco_lidar')]\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
