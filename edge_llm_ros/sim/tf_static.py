"""The simulated vehicle's sensor mounting as /tf_static edges (no ROS, no MuJoCo).

Real drivers and the KITTI importer describe where the sensors sit on /tf_static; the
simulator does too, so scene_fusion's `extrinsics_source: tf`, a viewer and a recording
get the same calibration whatever the source. The edges are built from the mounts the
sensor models use (`CameraConfig.mount_xyz_m`, `LidarConfig.mount_xyz_m`) with the rig's
own transforms, so projecting through the tree is projecting as the simulator renders.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge_llm_ros.fusion.tf_tree import StaticTransform, invert
from edge_llm_ros.sim import rig


def sensor_transforms(base_frame: str, lidar_frame: str, camera_frame: str,
                      lidar_mount_xyz_m: Sequence[float] = rig.LIDAR_MOUNT_XYZ_M,
                      camera_mount_xyz_m: Sequence[float] = rig.CAMERA_MOUNT_XYZ_M,
                      ) -> list[StaticTransform]:
    """base_frame -> lidar_frame and base_frame -> camera_frame (the optical frame: x right,
    y down, z forward), each the sensor's pose in base_frame.

    Both edges are always given, a disabled sensor's too, as a vehicle's description
    holds every mounted sensor: the tree does not change with what is switched on.
    """
    return [
        StaticTransform(base_frame, lidar_frame, rig.base_from_lidar(lidar_mount_xyz_m)),
        StaticTransform(base_frame, camera_frame,
                        invert(rig.camera_optical_from_base(camera_mount_xyz_m))),
    ]
