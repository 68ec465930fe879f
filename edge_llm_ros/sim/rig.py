"""The simulated vehicle's sensor rig, defined once: mounts, camera intrinsics, lidar pattern.

The built-in simulator (sensors.py), the scene-fusion defaults (fusion/config.py,
params/specs.py), config/*.yaml and the Gazebo world (worlds/road.sdf) all
describe this rig; the code derives from these constants and tests check the
files against them. numpy only, so parameter and fusion code can import it
without MuJoCo.

Frames (REP 103/105): base_link x forward, y left, z up, on the ground under
the rear axle; lidar = base_link translated by LIDAR_MOUNT_XYZ_M; camera
optical x right, y down, z forward at CAMERA_MOUNT_XYZ_M looking along +x.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CAMERA_MOUNT_XYZ_M = (1.5, 0.0, 1.6)  # in base_link, looking along +x
CAMERA_SIZE_PX = (640, 480)  # width, height
CAMERA_HORIZONTAL_FOV_DEG = 90.0

LIDAR_MOUNT_XYZ_M = (0.0, 0.0, 1.9)  # in base_link, no rotation
LIDAR_CHANNELS = 32
LIDAR_HORIZONTAL_SAMPLES = 1024
LIDAR_VERTICAL_FOV_DEG = (-25.0, 15.0)
LIDAR_MAX_RANGE_M = 100.0
LIDAR_RANGE_NOISE_M = 0.01

# Rotation taking base_link axes to camera optical axes: x_opt = -y_base,
# y_opt = -z_base, z_opt = x_base.
R_OPTICAL_FROM_BASE = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def translation(xyz: Sequence[float] | np.ndarray) -> np.ndarray:
    """4x4 homogeneous transform that only translates."""
    t = np.eye(4)
    t[:3, 3] = np.asarray(xyz, dtype=float)
    return t


def camera_matrix(width_px: int = CAMERA_SIZE_PX[0], height_px: int = CAMERA_SIZE_PX[1],
                  horizontal_fov_deg: float = CAMERA_HORIZONTAL_FOV_DEG) -> np.ndarray:
    """Pinhole K of the rendered camera: square pixels, pixel centres at integers, so the
    principal point of the symmetric frustum is ((W-1)/2, (H-1)/2)."""
    f = (width_px / 2.0) / math.tan(math.radians(horizontal_fov_deg) / 2.0)
    return np.array([[f, 0.0, (width_px - 1) / 2.0], [0.0, f, (height_px - 1) / 2.0],
                     [0.0, 0.0, 1.0]])


def camera_optical_from_base(mount_xyz_m: Sequence[float] = CAMERA_MOUNT_XYZ_M) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = R_OPTICAL_FROM_BASE
    t[:3, 3] = -R_OPTICAL_FROM_BASE @ np.asarray(mount_xyz_m, dtype=float)
    return t


def base_from_lidar(mount_xyz_m: Sequence[float] = LIDAR_MOUNT_XYZ_M) -> np.ndarray:
    return translation(mount_xyz_m)


def camera_from_lidar(camera_mount_xyz_m: Sequence[float] = CAMERA_MOUNT_XYZ_M,
                      lidar_mount_xyz_m: Sequence[float] = LIDAR_MOUNT_XYZ_M) -> np.ndarray:
    return camera_optical_from_base(camera_mount_xyz_m) @ base_from_lidar(lidar_mount_xyz_m)


def row_major(transform: np.ndarray) -> list[float]:
    """A 4x4 transform as the 16 row-major numbers a ROS parameter holds (to the nanometre,
    so 1.9 - 1.6 reads 0.3; + 0.0 turns -0.0 into 0.0)."""
    return [round(float(v), 9) + 0.0 for v in np.asarray(transform, dtype=float).reshape(16)]
