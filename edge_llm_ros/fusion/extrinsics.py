"""Fusion's extrinsics from /tf_static: camera <- lidar and base <- lidar for the frames
the inputs name, once the tree links them.

The lidar objects' frame_id and the camera detections' frame_id say which frames to
join (so a renamed sensor needs no parameter); the tree may hold any chain between them
(KITTI's velodyne -> cam0 -> cam0_rect -> cam2_rect). base <- lidar comes from the tree
when it reaches the base frame, else from the fallback (the base_from_lidar parameter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_llm_ros.fusion.tf_tree import StaticTfTree


@dataclass(frozen=True)
class Extrinsics:
    T_camera_from_lidar: np.ndarray
    T_base_from_lidar: np.ndarray
    base_from_tf: bool  # False: T_base_from_lidar is the fallback

    def same_as(self, other: Extrinsics | None) -> bool:
        return (other is not None and self.base_from_tf == other.base_from_tf
                and np.array_equal(self.T_camera_from_lidar, other.T_camera_from_lidar)
                and np.array_equal(self.T_base_from_lidar, other.T_base_from_lidar))


class TfExtrinsics:
    """Static tree + the frames the inputs arrive in -> `Extrinsics`, or why not yet."""

    def __init__(self, base_frame: str, fallback_base_from_lidar: np.ndarray) -> None:
        self.base_frame = base_frame
        self.fallback_base_from_lidar = np.asarray(fallback_base_from_lidar, dtype=float)
        self.tree = StaticTfTree()
        self.lidar_frame = ""
        self.camera_frame = ""

    def set_frames(self, lidar: str | None = None, camera: str | None = None) -> None:
        if lidar is not None:
            self.lidar_frame = lidar
        if camera is not None:
            self.camera_frame = camera

    def resolve(self) -> Extrinsics | None:
        """The transforms for the current frames, or None while the tree cannot join them."""
        if not self.lidar_frame or not self.camera_frame:
            return None
        camera = self.tree.lookup(self.camera_frame, self.lidar_frame)
        if camera is None:
            return None
        base = self.tree.lookup(self.base_frame, self.lidar_frame)
        return Extrinsics(camera, base if base is not None else self.fallback_base_from_lidar,
                          base is not None)

    def waiting_for(self) -> str:
        """What is missing, in words, for diagnostics and the log."""
        if not self.lidar_frame:
            return "no lidar objects yet (their frame_id names the lidar frame)"
        if not self.camera_frame:
            return "no camera detections yet (their frame_id names the camera frame)"
        known = sorted(self.tree.frames)
        return (f"no chain {self.camera_frame} <- {self.lidar_frame} on /tf_static yet "
                f"(frames known: {', '.join(known) if known else 'none'})")
