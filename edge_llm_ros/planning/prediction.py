"""Predicted motion of every tracked object over the planning horizon.

The scene is taken in a straight path frame: x along the path from the ego's
front bumper to the object's centre, y left of the path. Sample 0 is the
nominal prediction (constant velocity, lateral motion included, a vehicle's
lateral motion ending at the lane centre it is heading for); samples 1.. add
uncertainty: speed and lateral-velocity noise, leads that brake hard, vehicles
beside us that cut in, pedestrians by the road that start to cross. Samples are
drawn from a generator seeded per call, so a scene and a seed give one answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_llm_ros.reasoning.envelope import lateral_offset_m
from edge_llm_ros.types import LANE_EGO, SceneSummary

VEHICLE_CLASSES = frozenset({"car", "truck", "bus", "motorcycle", "vehicle", "van"})


@dataclass(frozen=True)
class PredictionConfig:
    lane_width_m: float = 3.5
    speed_sigma_mps2: float = 0.6  # longitudinal acceleration noise, m/s^2
    lateral_sigma_mps: float = 0.1  # lateral velocity noise, m/s
    brake_share: float = 0.05  # share of samples in which a vehicle brakes hard
    brake_decel_mps2: float = 4.0
    cut_in_share: float = 0.1  # share in which a vehicle in the next lane moves into ours
    cut_in_speed_mps: tuple[float, float] = (0.5, 1.2)
    cross_share: float = 0.15  # share in which a pedestrian near the road starts to cross
    cross_speed_mps: tuple[float, float] = (1.0, 1.6)
    cross_reach_m: float = 8.0  # pedestrians within this lateral offset may cross

    def __post_init__(self) -> None:
        for name in ("brake_share", "cut_in_share", "cross_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.lane_width_m <= 0.0:
            raise ValueError("lane_width_m must be > 0")


@dataclass(frozen=True)
class Agents:
    """The scene's objects at t = 0 in the path frame, one entry per object."""

    ids: np.ndarray  # int64
    classes: tuple[str, ...]
    x_m: np.ndarray  # centre, from the ego front bumper along the path
    y_m: np.ndarray  # centre, left positive
    vx_mps: np.ndarray  # along the path (negative: oncoming)
    vy_mps: np.ndarray
    length_m: np.ndarray
    width_m: np.ndarray
    follower: np.ndarray  # bool: behind us in our lane at t = 0 (its job to keep clear)

    def __len__(self) -> int:
        return len(self.ids)


def _f(x: float, default: float) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else default


def agents_from_scene(scene: SceneSummary) -> Agents:
    """Path-frame state from the SceneSummary fields fusion fills (distance, closing speed,
    lane, base_link lateral position and velocity, size)."""
    ego_v = max(_f(scene.ego.speed_mps, 0.0), 0.0)
    objs = [o for o in scene.objects if math.isfinite(_f(o.distance_m, math.nan))]
    length = np.array([max(_f(o.size_m[0], 4.5), 0.3) for o in objs], float)
    width = np.array([max(_f(o.size_m[1], 1.8), 0.3) for o in objs], float)
    d = np.array([o.distance_m for o in objs], float)
    y = np.array([lateral_offset_m(o) for o in objs], float)
    lane = np.array([o.lane_relation for o in objs], int)
    return Agents(
        ids=np.array([o.track_id for o in objs], np.int64),
        classes=tuple(o.class_name for o in objs),
        x_m=d + 0.5 * length,
        y_m=y,
        vx_mps=np.array([ego_v - _f(o.relative_speed_mps, 0.0) for o in objs], float),
        vy_mps=np.array([_f(o.velocity_mps[1], 0.0) for o in objs], float),
        length_m=length, width_m=width,
        follower=(d < 0.0) & (lane == LANE_EGO))


def lane_target_m(y_m: np.ndarray, vy_mps: np.ndarray, lane_width_m: float) -> np.ndarray:
    """Centre of the next lane in the direction of lateral motion (where a vehicle stops
    moving sideways); +-inf where there is no lateral motion."""
    w = lane_width_m
    down = (np.ceil((y_m - 0.35 * w) / w) - 1.0) * w
    up = (np.floor((y_m + 0.35 * w) / w) + 1.0) * w
    return np.where(vy_mps < 0.0, down, np.where(vy_mps > 0.0, up, np.nan))


@dataclass(frozen=True)
class Prediction:
    """Positions and speeds per (sample, object, time step); sample 0 is nominal."""

    times_s: np.ndarray  # (T,)
    x_m: np.ndarray  # (S, N, T)
    y_m: np.ndarray
    vx_mps: np.ndarray


def predict(agents: Agents, times_s: np.ndarray, samples: int, seed: int,
            cfg: PredictionConfig = PredictionConfig()) -> Prediction:
    """Nominal plus `samples` perturbed futures of every agent."""
    n, s = len(agents), samples + 1
    t = np.asarray(times_s, float)
    rng = np.random.default_rng(seed)
    vehicle = np.array([c in VEHICLE_CLASSES for c in agents.classes], bool)
    pedestrian = np.array([c == "pedestrian" for c in agents.classes], bool)

    accel = rng.normal(0.0, cfg.speed_sigma_mps2, (s, n))
    brake = (rng.random((s, n)) < cfg.brake_share) & vehicle
    accel = np.where(brake, -cfg.brake_decel_mps2, accel)
    vy = agents.vy_mps + rng.normal(0.0, cfg.lateral_sigma_mps, (s, n))
    y0 = agents.y_m
    w = cfg.lane_width_m
    beside = vehicle & (np.abs(y0) > 0.5 * w) & (np.abs(y0) < 1.5 * w) \
        & (agents.vx_mps > 0.0)
    cut_in = (rng.random((s, n)) < cfg.cut_in_share) & beside
    vy = np.where(cut_in, -np.sign(y0) * rng.uniform(*cfg.cut_in_speed_mps, (s, n)), vy)
    standing = np.hypot(agents.vx_mps, agents.vy_mps) < 0.5
    near = pedestrian & standing & (np.abs(y0) < cfg.cross_reach_m) & (np.abs(y0) > 1.0)
    cross = (rng.random((s, n)) < cfg.cross_share) & near
    vy = np.where(cross, -np.sign(y0) * rng.uniform(*cfg.cross_speed_mps, (s, n)), vy)
    # Sample 0 is the nominal future: no noise, no hypotheses.
    accel[0] = 0.0
    vy[0] = agents.vy_mps
    tiny = np.abs(vy) < 0.05
    vy[tiny] = 0.0

    # Longitudinal: accelerate along the object's own heading, never reversing.
    v0 = agents.vx_mps[None, :, None]
    heading = np.where(v0 < 0.0, -1.0, 1.0)
    speed = np.maximum(np.abs(v0) + accel[:, :, None] * t[None, None, :], 0.0)
    vx = heading * speed
    dt = np.diff(t, prepend=t[0])
    x = agents.x_m[None, :, None] + np.cumsum(0.5 * (vx + np.concatenate(
        [vx[:, :, :1], vx[:, :, :-1]], axis=2)) * dt[None, None, :], axis=2)

    # Lateral: constant velocity; a vehicle stops at the lane centre it heads for.
    y = y0[None, :, None] + vy[:, :, None] * t[None, None, :]
    target = lane_target_m(np.broadcast_to(y0, (s, n)), vy, w)[:, :, None]
    clamp = vehicle[None, :, None] & np.isfinite(target)
    y = np.where(clamp & (vy[:, :, None] < 0.0), np.maximum(y, target), y)
    y = np.where(clamp & (vy[:, :, None] > 0.0), np.minimum(y, target), y)
    return Prediction(t, x, y, vx)
