"""The built-in driving simulator: scripted traffic, a rendered camera, a cast lidar sweep.

Each `step()` moves every road user to its scripted pose at the next tick,
renders the camera (MuJoCo, OpenGL offscreen), casts the lidar sweep
(mujoco-lidar over MuJoCo's ray caster) and reports the ground truth of every
object in base_link, so perception can be scored against it.

Reproducibility: seed 0 runs the scenario exactly as written; any other seed
jitters each actor's start position and speed by the scenario's `jitter`.
Lidar range noise is drawn from the seed too, so the same seed gives
byte-identical frames and a different seed different ones.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from dataclasses import dataclass, field

import mujoco
import numpy as np

from edge_llm_ros.params.specs import default_of
from edge_llm_ros.sim.rig import translation
from edge_llm_ros.sim.scenario import ActorSpec, PathState, Scenario
from edge_llm_ros.sim.sensors import (
    CameraConfig,
    CameraModel,
    LidarConfig,
    LidarModel,
    OffscreenCamera,
)
from edge_llm_ros.sim.world import (
    CAMERA_NAME,
    LIDAR_SITE,
    STATIC_ID,
    World,
    build_world,
)

_DERIVATIVE_STEP_S = 1e-3
_VISIBILITY_RANGE_M = 200.0
_MIN_EXTENT_PX = 1.0  # narrower projected boxes rarely cover a pixel centre
_VIS_MARGIN = 0.15  # sample points stay this fraction of the box inside its faces
# Sample points inside each box (fractions of length, width, height from its
# bottom centre) for the camera visibility test; the centre comes first.
_XY = (-0.5 + _VIS_MARGIN, 0.0, 0.5 - _VIS_MARGIN)
_Z = (_VIS_MARGIN, 0.5, 1.0 - _VIS_MARGIN)
_VIS_SAMPLES = np.array(
    [(0.0, 0.0, 0.5)]
    + [p for p in itertools.product(_XY, _XY, _Z) if p != (0.0, 0.0, 0.5)]
)


@dataclass
class GroundTruthObject:
    id: int
    class_name: str
    center_base_m: np.ndarray  # (3,) box centre in base_link
    size_m: np.ndarray  # (3,) length, width, height
    yaw_base_rad: float
    velocity_base_mps: np.ndarray  # (3,) absolute velocity expressed in base_link axes
    center_world_m: np.ndarray  # (3,)
    yaw_world_rad: float
    visible_in_camera: bool  # in the image, >= ~1 px each way, not hidden behind anything
    lidar_point_count: int  # points of this sweep that hit the object


@dataclass
class SimFrame:
    time_s: float
    ego_pose_world: tuple[float, float, float]  # x_m, y_m, yaw_rad of base_link
    ego_speed_mps: float
    ego_acceleration_mps2: float
    ego_yaw_rate_radps: float
    image_rgb: np.ndarray | None  # (H,W,3) uint8, C-contiguous
    points_lidar: np.ndarray | None  # (N,4) float32 x, y, z, intensity in the lidar frame
    objects: list[GroundTruthObject] = field(default_factory=list)
    lane_width_m: float = 0.0
    ego_lane_index: int = 0  # lane 0 is the rightmost; indices grow to the left
    speed_limit_mps: float = 0.0


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


class Simulator:
    """One scenario run. Not thread-safe: call `step()` from one thread at a time."""

    def __init__(self, scenario: Scenario, seed: int = 0,
                 camera: CameraConfig | None = CameraConfig(),  # noqa: B008 (frozen)
                 lidar: LidarConfig | None = LidarConfig(),  # noqa: B008 (frozen)
                 rate_hz: float = default_of("simulator", "rate_hz")) -> None:
        if not rate_hz > 0.0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        self.nominal_scenario = scenario
        self.seed = int(seed)
        self.rate_hz = float(rate_hz)
        jitter_seq, self._noise_seq = np.random.SeedSequence(self.seed).spawn(2)
        jittered = self.seed != 0 and (scenario.jitter.position_m > 0.0
                                       or scenario.jitter.speed_fraction > 0.0)
        self.scenario = (scenario.jittered(np.random.default_rng(jitter_seq)) if jittered
                         else scenario)
        self.camera_model = CameraModel(camera) if camera is not None else None
        lidar_mount = (lidar or LidarConfig()).mount_xyz_m
        # Defined even without a lidar so the TF tree is the same either way.
        self.T_base_from_lidar = translation(lidar_mount)
        self.T_lidar_from_base = translation(-np.asarray(lidar_mount, dtype=float))
        self.world: World = build_world(self.scenario, self.camera_model, lidar)
        # The camera's model: the one to render or cast sight lines in.
        self.model, self.data = self.world.camera.model, self.world.camera.data
        self.lidar_model = (
            LidarModel(lidar, self.world.lidar.model, LIDAR_SITE, self.world.lidar.ego_body_id,
                       self.world.lidar_geomgroup, self.world.reflectivity)
            if lidar is not None else None
        )
        self._camera_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, CAMERA_NAME)
        self._camera: OffscreenCamera | None = None
        if self.camera_model is not None:
            self._camera = OffscreenCamera(self.model, CAMERA_NAME, self.camera_model.width_px,
                                           self.camera_model.height_px,
                                           self.world.camera_geomgroup)
        self._closed = False
        self.reset()

    # ------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Back to t=0 with the same seed: the run replays byte for byte."""
        self._tick = 0
        self._noise_rng = np.random.default_rng(self._noise_seq)
        self._place(0.0)

    def close(self) -> None:
        """Free the renderer and its GL context (idempotent)."""
        if not self._closed:
            self._closed = True
            if self._camera is not None:
                self._camera.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: GL may be gone
            self.close()

    @property
    def time_s(self) -> float:
        """Time of the last frame (0 before the first step)."""
        return self._tick / self.rate_hz

    @property
    def done(self) -> bool:
        return self.time_s >= self.scenario.duration_s - 1e-9

    # ----------------------------------------------------------------- step

    def step(self, render_camera: bool = True) -> SimFrame:
        """Advance by 1/rate_hz, then render the camera (unless told not to: the frame
        then has no image) and cast the lidar there."""
        if self._closed:
            raise RuntimeError("Simulator.step() after close()")
        self._tick += 1
        t = self.time_s
        ego = self._place(t)
        # Sight lines use the camera's MjData, so they run before the render
        # (which reads it on the GL thread); the lidar has its own MjData and
        # overlaps the render.
        objects = self._ground_truth(t, ego)
        future = (self._camera.render_rgb_async(self.data)
                  if self._camera is not None and render_camera else None)
        try:
            sweep = (self.lidar_model.sweep(self.world.lidar.data, self._noise_rng)
                     if self.lidar_model is not None else None)
        finally:
            image = future.result() if future is not None else None
        if sweep is not None and len(sweep.geom_ids):
            owners = self.world.lidar.geom_actor_ids[sweep.geom_ids]
            ids, counts = np.unique(owners[owners >= 0], return_counts=True)
            per_actor = dict(zip(ids.tolist(), counts.tolist(), strict=True))
            for obj in objects:
                obj.lidar_point_count = int(per_actor.get(obj.id, 0))
        speed = math.hypot(ego.vx_mps, ego.vy_mps)
        ahead = self.scenario.ego_state(t + _DERIVATIVE_STEP_S)
        lane = self.scenario.road.lane_at(ego.y_m)
        return SimFrame(
            time_s=t,
            ego_pose_world=(ego.x_m, ego.y_m, ego.yaw_rad),
            ego_speed_mps=speed,
            ego_acceleration_mps2=(math.hypot(ahead.vx_mps, ahead.vy_mps) - speed)
            / _DERIVATIVE_STEP_S,
            ego_yaw_rate_radps=_wrap(ahead.yaw_rad - ego.yaw_rad) / _DERIVATIVE_STEP_S,
            image_rgb=image,
            points_lidar=sweep.points_lidar if sweep is not None else None,
            objects=objects,
            lane_width_m=self.scenario.road.lane_width_m,
            ego_lane_index=lane if lane is not None else self.scenario.ego.lane,
            speed_limit_mps=self.scenario.road.speed_limit_mps,
        )

    def render_segmentation(self) -> np.ndarray:
        """(H,W) int32 actor id seen at each pixel of the last frame.

        -1 (`STATIC_ID`) marks road, scenery and sky; -2 (`EGO_ID`) would mark
        the ego's own body and never appears. Labels for training and checking
        camera detectors; costs a second render.
        """
        if self._camera is None:
            raise RuntimeError("render_segmentation() needs the camera enabled")
        geoms = self._camera.render_geom_ids(self.data)
        lut = np.concatenate(([STATIC_ID], self.world.camera.geom_actor_ids))
        return lut[geoms + 1].astype(np.int32)

    # ------------------------------------------------------------ internals

    def _place(self, t: float) -> PathState:
        """Move the ego and every actor to their poses at t."""
        road = self.scenario.road
        ego = self.scenario.ego_state(t)
        poses = {}
        for actor in self.scenario.actors:
            st = self.scenario.actor_state(actor, t)
            poses[actor.id] = (st.x_m, st.y_m, road.ground_height(st.y_m), st.yaw_rad)
        self.world.set_poses((ego.x_m, ego.y_m, ego.yaw_rad), poses)
        return ego

    def _ground_truth(self, t: float, ego: PathState) -> list[GroundTruthObject]:
        """Every actor in base_link (lidar counts are filled in after the sweep)."""
        road = self.scenario.road
        c, s = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
        r_base_from_world = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        ego_xyz = np.array([ego.x_m, ego.y_m, 0.0])
        objects = []
        for actor in self.scenario.actors:
            st = self.scenario.actor_state(actor, t)
            size = np.asarray(actor.size_m, dtype=float)
            center_world = np.array([st.x_m, st.y_m, road.ground_height(st.y_m) + size[2] / 2.0])
            objects.append(GroundTruthObject(
                id=actor.id,
                class_name=actor.class_name,
                center_base_m=r_base_from_world @ (center_world - ego_xyz),
                size_m=size,
                yaw_base_rad=_wrap(st.yaw_rad - ego.yaw_rad),
                velocity_base_mps=r_base_from_world @ np.array([st.vx_mps, st.vy_mps, 0.0]),
                center_world_m=center_world,
                yaw_world_rad=st.yaw_rad,
                visible_in_camera=self._visible(actor, st, center_world, r_base_from_world,
                                                ego_xyz),
                lidar_point_count=0,
            ))
        return objects

    def _visible(self, actor: ActorSpec, st: PathState, center_world: np.ndarray,
                 r_base_from_world: np.ndarray, ego_xyz: np.ndarray) -> bool:
        """Is any sample point of the box in the image with nothing in front of it?

        Rays from the camera to points inside the box; the object is visible
        when one of them first hits one of the object's own geoms.
        """
        if self.camera_model is None:
            return False
        cam_pos = self.data.cam_xpos[self._camera_id].copy()
        if np.linalg.norm(center_world - cam_pos) > _VISIBILITY_RANGE_M:
            return False
        c, s = math.cos(st.yaw_rad), math.sin(st.yaw_rad)
        local = (_VIS_SAMPLES - (0.0, 0.0, 0.5)) * actor.size_m
        world_pts = center_world + local @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        uv, inside = self.camera_model.project((world_pts - ego_xyz) @ r_base_from_world.T)
        if not inside.any():
            return False
        extent_px = uv[inside].max(axis=0) - uv[inside].min(axis=0)
        if np.any(extent_px / (1.0 - 2.0 * _VIS_MARGIN) < _MIN_EXTENT_PX):
            return False  # too small to cover pixels
        vecs = world_pts[inside] - cam_pos
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        n = len(vecs)
        geomid = np.zeros(n, dtype=np.int32)
        dist = np.zeros(n)
        mujoco.mj_multiRay(self.model, self.data, cam_pos, vecs.ravel(),
                           self.world.camera_geomgroup, 1, self.world.camera.ego_body_id, geomid,
                           dist, None, n, _VISIBILITY_RANGE_M)
        hit = geomid >= 0
        return bool(np.any(self.world.camera.geom_actor_ids[geomid[hit]] == actor.id))
