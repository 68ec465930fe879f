"""Synthetic scenes for the fusion tests and benchmark: scripted road users seen by the
simulator's sensor rig (lidar at 1.9 m, camera at (1.5, 0, 1.6) m, 640x480, 90 deg), with
exact geometry and optional lidar noise, so expected values can be computed by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_llm_ros.fusion.egomotion import integrate
from edge_llm_ros.fusion.fuser import SceneFuser
from edge_llm_ros.fusion.projection import project_boxes
from edge_llm_ros.sim.rig import CAMERA_SIZE_PX, LIDAR_MOUNT_XYZ_M, camera_from_lidar, camera_matrix
from edge_llm_ros.types import Detection2D, Object3D

T0_NS = 1_000_000_000_000
DT_NS = 100_000_000  # 10 Hz


@dataclass
class Actor:
    """Constant-velocity road user in the world frame (ego starts at the origin facing +x)."""

    x: float
    y: float
    vx: float
    vy: float
    class_name: str = "car"
    size: tuple[float, float, float] = (4.5, 1.8, 1.5)

    def at(self, t_s: float) -> tuple[float, float]:
        return self.x + self.vx * t_s, self.y + self.vy * t_s


class World:
    """Actors and an ego with constant speed / yaw rate; renders sensor input for a SceneFuser."""

    def __init__(self, actors: list[Actor], ego_speed: float = 0.0, ego_yaw_rate: float = 0.0,
                 lidar_noise_m: float = 0.0, seed: int = 0) -> None:
        self.actors = actors
        self.ego_speed, self.ego_yaw_rate = ego_speed, ego_yaw_rate
        self.noise = lidar_noise_m
        self.rng = np.random.default_rng(seed)
        self.K = camera_matrix()
        self.size_px = CAMERA_SIZE_PX

    def ego_pose(self, t_s: float) -> tuple[float, float, float]:
        return integrate(0.0, 0.0, 0.0, self.ego_speed, self.ego_yaw_rate, t_s)

    def in_base(self, t_s: float, visible: list[int] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Centres (N,2) and absolute velocities (N,2) of the actors in base_link."""
        ex, ey, eyaw = self.ego_pose(t_s)
        c, s = math.cos(eyaw), math.sin(eyaw)
        R = np.array([[c, s], [-s, c]])
        idx = range(len(self.actors)) if visible is None else visible
        pos = np.array([self.actors[i].at(t_s) for i in idx]).reshape(-1, 2)
        vel = np.array([(self.actors[i].vx, self.actors[i].vy) for i in idx]).reshape(-1, 2)
        return (pos - (ex, ey)) @ R.T, vel @ R.T

    def lidar_objects(self, t_s: float, visible: list[int] | None = None) -> list[Object3D]:
        idx = list(range(len(self.actors))) if visible is None else visible
        xy, _ = self.in_base(t_s, idx)
        out = []
        for k, i in enumerate(idx):
            a = self.actors[i]
            noise = self.rng.normal(0.0, self.noise, 2) if self.noise else np.zeros(2)
            center = (xy[k, 0] + noise[0] - LIDAR_MOUNT_XYZ_M[0],
                      xy[k, 1] + noise[1] - LIDAR_MOUNT_XYZ_M[1],
                      a.size[2] / 2.0 - LIDAR_MOUNT_XYZ_M[2])
            out.append(Object3D(center, a.size, self._yaw_base(t_s, a), a.class_name, 0.6, 80))
        return out

    def _yaw_base(self, t_s: float, a: Actor) -> float:
        heading = math.atan2(a.vy, a.vx) if math.hypot(a.vx, a.vy) > 0.1 else 0.0
        return heading - self.ego_pose(t_s)[2]

    def detections(self, t_s: float, visible: list[int] | None = None) -> list[Detection2D]:
        objs = self.lidar_objects(t_s, visible)
        if not objs:
            return []
        centers = np.array([o.center_m for o in objs])
        sizes = np.array([o.size_m for o in objs])
        yaws = np.array([o.yaw_rad for o in objs])
        w, h = self.size_px
        boxes, vis = project_boxes(centers, sizes, yaws, camera_from_lidar(), self.K, w, h)
        return [Detection2D(0, o.class_name, 0.9, tuple(boxes[k]))
                for k, o in enumerate(objs) if vis[k]]

    def feed(self, fuser: SceneFuser, frame: int, lidar: bool = True, camera: bool = True,
             odometry: bool = True, visible: list[int] | None = None) -> int:
        """Push one 10 Hz frame's input; returns its stamp."""
        t_s = frame * DT_NS * 1e-9
        stamp = T0_NS + frame * DT_NS
        if odometry:
            fuser.add_odometry(stamp, self.ego_speed, self.ego_yaw_rate)
        if lidar:
            fuser.add_lidar(stamp, self.lidar_objects(t_s, visible))
        if camera:
            fuser.add_camera(stamp, self.detections(t_s, visible), self.size_px)
        return stamp
