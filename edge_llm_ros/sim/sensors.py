"""Camera and lidar models of the simulated vehicle, and the MuJoCo machinery behind them.

Frames (REP 103/105; the default mounts are the rig's, `rig`):
- base_link: x forward, y left, z up; origin on the ground under the centre
  of the rear axle (the usual vehicle convention, e.g. Autoware).
- lidar: base_link translated by `LidarConfig.mount_xyz_m`, no rotation.
- camera optical: x right, y down, z forward, at `CameraConfig.mount_xyz_m`
  looking along base_link +x. Pixel centres are at integer coordinates
  (OpenCV / ROS CameraInfo convention), so the principal point of the
  symmetric MuJoCo frustum is ((W-1)/2, (H-1)/2).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np
from mujoco_lidar import generate_grid_scan_pattern
from mujoco_lidar.core_cpu.mjlidar_cpu import MjLidarCPU

from edge_llm_ros.params.specs import default_of
from edge_llm_ros.sim import rig
from edge_llm_ros.sim.rig import translation

CAMERA_NEAR_M = 0.1


@dataclass(frozen=True)
class CameraConfig:
    """Defaults: the simulator node's `camera.*` parameters (declared once, in its spec)."""

    width_px: int = default_of("simulator", "camera.width_px")
    height_px: int = default_of("simulator", "camera.height_px")
    horizontal_fov_deg: float = default_of("simulator", "camera.horizontal_fov_deg")
    mount_xyz_m: tuple[float, float, float] = rig.CAMERA_MOUNT_XYZ_M  # looks along +x

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CameraConfig | None:
        """From a simulator node's parameters; None when `camera.enabled` is false."""
        if not params["camera.enabled"]:
            return None
        return cls(width_px=int(params["camera.width_px"]),
                   height_px=int(params["camera.height_px"]),
                   horizontal_fov_deg=float(params["camera.horizontal_fov_deg"]))

    def __post_init__(self) -> None:
        if self.width_px < 1 or self.height_px < 1:
            raise ValueError(f"camera size must be positive, got {self.width_px}x{self.height_px}")
        if not 1.0 <= self.horizontal_fov_deg <= 170.0:
            raise ValueError(f"camera horizontal_fov_deg must be in [1, 170], "
                             f"got {self.horizontal_fov_deg}")


@dataclass(frozen=True)
class LidarConfig:
    """Defaults: the simulator node's `lidar.*` parameters (declared once, in its spec)."""

    channels: int = default_of("simulator", "lidar.channels")
    horizontal_samples: int = default_of("simulator", "lidar.horizontal_samples")
    vertical_fov_deg: tuple[float, float] = rig.LIDAR_VERTICAL_FOV_DEG
    max_range_m: float = default_of("simulator", "lidar.max_range_m")
    mount_xyz_m: tuple[float, float, float] = rig.LIDAR_MOUNT_XYZ_M
    range_noise_m: float = rig.LIDAR_RANGE_NOISE_M

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> LidarConfig | None:
        """From a simulator node's parameters; None when `lidar.enabled` is false."""
        if not params["lidar.enabled"]:
            return None
        return cls(channels=int(params["lidar.channels"]),
                   horizontal_samples=int(params["lidar.horizontal_samples"]),
                   max_range_m=float(params["lidar.max_range_m"]))

    def __post_init__(self) -> None:
        if self.channels < 1 or self.horizontal_samples < 1:
            raise ValueError("lidar channels and horizontal_samples must be >= 1")
        lo, hi = self.vertical_fov_deg
        if not -90.0 <= lo <= hi <= 90.0:
            raise ValueError(f"lidar vertical_fov_deg must be (low, high) within [-90, 90], "
                             f"got {self.vertical_fov_deg}")
        if self.max_range_m <= 0.0 or self.range_noise_m < 0.0:
            raise ValueError("lidar max_range_m must be > 0 and range_noise_m >= 0")


class CameraModel:
    """Pinhole model matching what MuJoCo renders for a `CameraConfig`.

    Square pixels; the vertical field of view follows from the horizontal one
    and the aspect ratio (MuJoCo takes fovy, so `fovy_deg` is what the world
    builder writes into the model).
    """

    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        self.width_px = config.width_px
        self.height_px = config.height_px
        self.K = rig.camera_matrix(self.width_px, self.height_px, config.horizontal_fov_deg)
        f = self.K[0, 0]
        self.P = np.hstack([self.K, np.zeros((3, 1))])
        self.D = np.zeros(5)  # rendered images have no lens distortion
        self.fovy_deg = math.degrees(2.0 * math.atan((self.height_px / 2.0) / f))
        self.T_camera_optical_from_base = rig.camera_optical_from_base(config.mount_xyz_m)
        self.T_base_from_camera_optical = np.linalg.inv(self.T_camera_optical_from_base)

    def project(self, points_base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (N,2) of base_link points (N,3), and whether each is in front and in the image."""
        pts = np.asarray(points_base, dtype=float).reshape(-1, 3)
        t = self.T_camera_optical_from_base
        cam = pts @ t[:3, :3].T + t[:3, 3]
        z = cam[:, 2]
        in_front = z > CAMERA_NEAR_M
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = (cam[:, :2] / np.where(in_front, z, 1.0)[:, None]) * np.diag(self.K)[:2] \
                + self.K[:2, 2]
        inside = (in_front & (uv[:, 0] >= -0.5) & (uv[:, 0] < self.width_px - 0.5)
                  & (uv[:, 1] >= -0.5) & (uv[:, 1] < self.height_px - 0.5))
        return uv, inside


class _LabelledLidarCPU(MjLidarCPU):
    """mujoco-lidar's CPU backend (mj_multiRay), also keeping each ray's geom id and normal.

    The stock backend discards the geom ids, which ground truth needs (points
    per object) and intensity needs (surface reflectivity). Ray directions are
    cached because the scan pattern never changes.
    """

    def __init__(self, mj_model: mujoco.MjModel, cutoff_dist: float, geomgroup: np.ndarray,
                 bodyexclude: int, ray_theta: np.ndarray, ray_phi: np.ndarray) -> None:
        super().__init__(mj_model, cutoff_dist=cutoff_dist, geomgroup=geomgroup,
                         bodyexclude=bodyexclude)
        self.local_vecs = np.stack([np.cos(ray_phi) * np.cos(ray_theta),
                                    np.cos(ray_phi) * np.sin(ray_theta),
                                    np.sin(ray_phi)], axis=-1)
        n = len(self.local_vecs)
        self._geomid = np.zeros(n, dtype=np.int32)
        self._normal = np.zeros(3 * n, dtype=np.float64)
        self._dist = np.zeros(n, dtype=np.float64)

    def trace(self, pose_4x4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distances (-1 = no hit), geom ids (-1 = none) and unit normals (N,3) in world."""
        world_vecs = self.local_vecs @ pose_4x4[:3, :3].T
        mujoco.mj_multiRay(
            m=self.mj_model, d=self.mj_data, pnt=np.ascontiguousarray(pose_4x4[:3, 3]),
            vec=world_vecs.ravel(), geomgroup=self.geomgroup, flg_static=1,
            bodyexclude=self.bodyexclude, geomid=self._geomid, dist=self._dist,
            normal=self._normal, nray=len(world_vecs), cutoff=self.cutoff_dist,
        )
        # The cutoff culls geoms by their bounding volume only; hits past it
        # on a geom that starts inside it still come back.
        miss = (self._geomid == -1) | (self._dist > self.cutoff_dist)
        self._dist[miss] = -1.0
        self._geomid[miss] = -1
        return self._dist, self._geomid, self._normal.reshape(-1, 3)


@dataclass
class LidarSweep:
    points_lidar: np.ndarray  # (N,4) float32 x, y, z, intensity
    geom_ids: np.ndarray  # (N,) int32 geom hit by each point's ray


class LidarModel:
    """A spinning lidar: `channels` rings evenly spread over the vertical FOV.

    The sweep is instantaneous (no motion skew across the revolution). Range
    noise is Gaussian; intensity is surface reflectivity (per geom) times an
    incidence-angle term and a mild range falloff, in [0, 1].
    """

    def __init__(self, config: LidarConfig, model: mujoco.MjModel, site_name: str,
                 exclude_body_id: int, geomgroup: np.ndarray,
                 reflectivity: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        """`reflectivity(geom_ids, points_world)` gives each hit surface's reflectivity."""
        self.config = config
        lo, hi = (math.radians(a) for a in config.vertical_fov_deg)
        n = config.horizontal_samples
        # Full turn without duplicating -pi and +pi.
        self.ray_theta, self.ray_phi = generate_grid_scan_pattern(
            n, config.channels, theta_range=(-math.pi, math.pi - 2.0 * math.pi / n),
            phi_range=(lo, hi))
        self.site_name = site_name
        self.T_base_from_lidar = translation(config.mount_xyz_m)
        self.T_lidar_from_base = translation(-np.asarray(config.mount_xyz_m, dtype=float))
        self._reflectivity = reflectivity
        self._backend = _LabelledLidarCPU(model, config.max_range_m, geomgroup, exclude_body_id,
                                          self.ray_theta, self.ray_phi)

    def sweep(self, data: mujoco.MjData, rng: np.random.Generator) -> LidarSweep:
        site = data.site(self.site_name)
        pose = np.eye(4)
        pose[:3, :3] = site.xmat.reshape(3, 3)
        pose[:3, 3] = site.xpos
        self._backend.update(data)
        dist, geomid, normal = self._backend.trace(pose)
        hit = geomid >= 0
        d = dist[hit]
        vecs = self._backend.local_vecs[hit]
        cos_inc = np.abs(np.einsum("ij,ij->i", normal[hit], vecs @ pose[:3, :3].T))
        if self.config.range_noise_m > 0.0:
            d = d + rng.normal(0.0, self.config.range_noise_m, size=d.shape)
        d = np.clip(d, 0.0, self.config.max_range_m)
        ids = geomid[hit]
        points_world = (vecs * d[:, None]) @ pose[:3, :3].T + pose[:3, 3]
        intensity = (self._reflectivity(ids, points_world) * (0.35 + 0.65 * cos_inc)
                     * np.exp(-d / (2.0 * self.config.max_range_m)))
        out = np.empty((len(d), 4), dtype=np.float32)
        out[:, :3] = vecs * d[:, None]
        out[:, 3] = np.clip(intensity, 0.0, 1.0)
        return LidarSweep(out, ids.astype(np.int32))


class OffscreenCamera:
    """A mujoco.Renderer that lives on its own thread.

    GL contexts (EGL, OSMesa) are bound to the thread that made them current;
    keeping every GL call on one worker thread lets callers step the simulator
    from any thread (a ROS timer, a worker) and close it from another, and lets
    the render overlap the lidar's ray casting on the calling thread.
    """

    def __init__(self, model: mujoco.MjModel, camera_name: str, width_px: int, height_px: int,
                 visible_geomgroup: np.ndarray) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mujoco-gl")
        self._camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera_name)
        self._option = mujoco.MjvOption()
        self._option.geomgroup[:] = visible_geomgroup
        self._lock = threading.Lock()
        try:
            self._renderer: Any = self._call(mujoco.Renderer, model, height_px, width_px)
        except Exception as exc:
            self._executor.shutdown(wait=False)
            raise RuntimeError(
                f"cannot create the MuJoCo renderer ({exc}); headless rendering needs "
                "MUJOCO_GL=egl (or osmesa) set before mujoco is first imported"
            ) from exc

    def _call(self, fn: Any, *args: Any) -> Any:
        return self._executor.submit(fn, *args).result()

    def _render(self, data: mujoco.MjData, segmentation: bool) -> np.ndarray:
        r = self._renderer
        if segmentation:
            r.enable_segmentation_rendering()
        try:
            r.update_scene(data, camera=self._camera_id, scene_option=self._option)
            return r.render()
        finally:
            r.disable_segmentation_rendering()

    def render_rgb_async(self, data: mujoco.MjData) -> Future[np.ndarray]:
        """Start rendering `data`; do not modify `data` until the future is done."""
        return self._executor.submit(self._render, data, False)

    def render_geom_ids(self, data: mujoco.MjData) -> np.ndarray:
        """(H,W) int32 id of the geom seen at each pixel, -1 for none (sky)."""
        seg = self._call(self._render, data, True)
        return np.where(seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM), seg[..., 0], -1).astype(
            np.int32)

    def close(self) -> None:
        with self._lock:
            renderer, self._renderer = self._renderer, None
            if renderer is not None:
                self._call(renderer.close)
                self._executor.shutdown(wait=True)
