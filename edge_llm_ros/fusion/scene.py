"""From tracks to the scene the reasoner reads: path distance, closing speed, TTC, lane.

Path model. The ego drives on a circular arc of curvature kappa = yaw_rate /
speed (straight below `curvature_min_speed_mps`, clipped at
`max_curvature_1pm`); for small kappa*x this is the parabola
y = kappa x^2 / 2. Each object gets its arc length along the path, its signed
lateral offset from it (left positive) and the path's tangent/normal at its
position; no map is used, so the ego is assumed centred in its lane and lanes
are `lane_width_m` wide, parallel to the path.

- distance_m: arc length of the object centre minus the bumper's
  (`ego_front_m`) minus the object's half extent along the path (half its
  length when aligned). Negative: alongside or behind.
- relative_speed_mps: ego speed minus the object's absolute velocity along
  the path tangent (> 0 closing): a parked car closes at the ego's speed.
- time_to_collision_s: constant velocities on both sides. The ego sweeps a
  corridor of half-width ego_width/2 + margin + the object's half lateral
  extent. Contact needs both (a) longitudinal overlap, the interval from
  distance/closing until the ego has driven past the object, and (b) the
  object inside the corridor, from its lateral offset and lateral speed.
  TTC is the start of the intersection of the two intervals; inf when they do
  not intersect or the object is not closing. So a pedestrian walking into
  the lane ahead gets a finite TTC when they will be in the corridor while
  the ego is there, and one who will have crossed already gets inf. Lateral
  speeds below `min_lateral_speed_mps` are noise and lateral entries/exits
  beyond `lateral_horizon_s` are not predicted (constant velocity is not a
  reasonable guess that far ahead). Objects behind the ego are never closing
  in this sense (rear threats are out of scope).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.types import (
    LANE_EGO,
    LANE_LEFT,
    LANE_OFF_ROAD,
    LANE_RIGHT,
    TrackedObject,
)


@dataclass
class ObjectsInBase:
    """Confirmed tracks in base_link at the summary stamp, as arrays."""

    ids: np.ndarray  # (N,)
    xyz: np.ndarray  # (N,3) centre
    velocity: np.ndarray  # (N,2) absolute velocity, base_link axes
    size: np.ndarray  # (N,3) length, width, height
    yaw: np.ndarray  # (N,) heading of the length axis in base_link
    class_names: list[str]
    confidence: np.ndarray
    seen_by_camera: np.ndarray
    seen_by_lidar: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class PathRelations:
    """Per-object relation to the ego path, as arrays (see the module docstring)."""

    along_m: np.ndarray  # arc length of the centre along the path
    lateral_m: np.ndarray  # signed offset from the path, left positive
    distance_m: np.ndarray
    closing_mps: np.ndarray
    lateral_speed_mps: np.ndarray  # towards the left of the path
    ttc_s: np.ndarray
    lane: np.ndarray  # uint8 LANE_*


def path_curvature(speed_mps: float, yaw_rate_radps: float, cfg: FusionConfig) -> float:
    """kappa = yaw_rate / speed, 0 when slow or disabled, clipped."""
    if not cfg.use_path_curvature or abs(speed_mps) < max(cfg.curvature_min_speed_mps, 1e-6):
        return 0.0
    k = yaw_rate_radps / speed_mps
    return float(np.clip(k, -cfg.max_curvature_1pm, cfg.max_curvature_1pm))


def path_frame(xy: np.ndarray, kappa: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arc length, lateral offset (left +), unit tangent (N,2), unit left normal (N,2) at xy."""
    x, y = xy[:, 0], xy[:, 1]
    n = len(xy)
    if abs(kappa) < 1e-6:
        t = np.tile([1.0, 0.0], (n, 1))
        nrm = np.tile([0.0, 1.0], (n, 1))
        return x.copy(), y.copy(), t, nrm
    s = 1.0 if kappa > 0.0 else -1.0
    r = 1.0 / abs(kappa)
    dx, dy = x, y - s * r  # from the turn centre (0, s*r)
    rho = np.hypot(dx, dy)
    alpha = np.arctan2(dy, dx)
    ca, sa = np.cos(alpha), np.sin(alpha)
    phi = (s * alpha + np.pi / 2.0 + np.pi) % (2.0 * np.pi) - np.pi
    tangent = np.column_stack([-s * sa, s * ca])
    normal = np.column_stack([-s * ca, -s * sa])
    return r * phi, s * (r - rho), tangent, normal


def lane_relation(lateral_m: np.ndarray, lane_width_m: float, lanes_left: int,
                  lanes_right: int) -> np.ndarray:
    """LANE_* from the lateral offset: ego lane, a lane left/right, or beyond the known lanes."""
    k = np.floor(np.asarray(lateral_m, dtype=float) / lane_width_m + 0.5)
    out = np.full(k.shape, LANE_OFF_ROAD, dtype=np.uint8)
    out[k == 0] = LANE_EGO
    out[(k >= 1) & (k <= lanes_left)] = LANE_LEFT
    out[(k <= -1) & (k >= -lanes_right)] = LANE_RIGHT
    return out


def time_to_collision(distance_m: np.ndarray, closing_mps: np.ndarray, lateral_m: np.ndarray,
                      lateral_speed_mps: np.ndarray, corridor_half_m: np.ndarray,
                      pass_length_m: np.ndarray, cfg: FusionConfig) -> np.ndarray:
    """Start of [longitudinal overlap] ∩ [inside the corridor], seconds; inf when empty.

    pass_length_m: distance the ego covers from first contact until it has
    passed the object (its own length plus the object's extent along the path).
    """
    inf = np.inf
    closing_ok = closing_mps > cfg.min_closing_speed_mps
    safe_c = np.where(closing_ok, closing_mps, 1.0)
    long_in = np.where(closing_ok, np.maximum(distance_m, 0.0) / safe_c, inf)
    long_out = np.where(closing_ok, (distance_m + pass_length_m) / safe_c, -inf)

    inside = np.abs(lateral_m) <= corridor_half_m
    moving = np.abs(lateral_speed_mps) >= max(cfg.min_lateral_speed_mps, 1e-9)
    safe_v = np.where(moving, lateral_speed_mps, 1.0)
    t1 = (-corridor_half_m - lateral_m) / safe_v
    t2 = (corridor_half_m - lateral_m) / safe_v
    lat_in = np.where(moving, np.maximum(np.minimum(t1, t2), 0.0), np.where(inside, 0.0, inf))
    lat_out = np.where(moving, np.maximum(t1, t2), np.where(inside, inf, -inf))
    horizon = cfg.lateral_horizon_s
    lat_in = np.where(lat_in > horizon, inf, lat_in)
    lat_out = np.where(lat_out > horizon, inf, lat_out)

    start = np.maximum(long_in, lat_in)
    end = np.minimum(long_out, lat_out)
    return np.where((start <= end) & (end >= 0.0) & np.isfinite(start), start, inf)


def relate_to_path(objs: ObjectsInBase, ego_speed_mps: float, yaw_rate_radps: float,
                   cfg: FusionConfig, lanes_left: int | None = None,
                   lanes_right: int | None = None) -> PathRelations:
    """Distance, closing speed, TTC and lane of every object (vectorised)."""
    kappa = path_curvature(ego_speed_mps, yaw_rate_radps, cfg)
    along, lateral, tangent, normal = path_frame(objs.xyz[:, :2], kappa)
    v = objs.velocity
    closing = ego_speed_mps - np.einsum("ij,ij->i", v, tangent)
    lat_speed = np.einsum("ij,ij->i", v, normal)
    rel_yaw = objs.yaw - np.arctan2(tangent[:, 1], tangent[:, 0])
    c, s = np.abs(np.cos(rel_yaw)), np.abs(np.sin(rel_yaw))
    length, width = objs.size[:, 0], objs.size[:, 1]
    half_long = 0.5 * (length * c + width * s)
    half_lat = 0.5 * (length * s + width * c)
    distance = along - cfg.ego_front_m - half_long
    corridor_half = 0.5 * cfg.ego_width_m + cfg.corridor_margin_m + half_lat
    ttc = time_to_collision(distance, closing, lateral, lat_speed, corridor_half,
                            cfg.ego_length_m + 2.0 * half_long, cfg)
    lane = lane_relation(lateral, cfg.lane_width_m,
                         cfg.lanes_left if lanes_left is None else lanes_left,
                         cfg.lanes_right if lanes_right is None else lanes_right)
    return PathRelations(along, lateral, distance, closing, lat_speed, ttc, lane)


def relevance_order(lane: np.ndarray, ttc_s: np.ndarray, distance_m: np.ndarray) -> np.ndarray:
    """Indices: ego-lane objects first, then by TTC, then by |distance|."""
    return np.lexsort((np.abs(distance_m), ttc_s, lane != LANE_EGO))


def build_objects(objs: ObjectsInBase, rel: PathRelations, max_objects: int
                  ) -> list[TrackedObject]:
    """TrackedObject list, most relevant first, at most max_objects."""
    order = relevance_order(rel.lane, rel.ttc_s, rel.distance_m)[:max_objects]
    # One tolist() per array: Python floats without a numpy scalar per field.
    ids = objs.ids[order].tolist()
    xyz = objs.xyz[order].tolist()
    size = objs.size[order].tolist()
    vel = objs.velocity[order].tolist()
    conf = np.clip(objs.confidence[order], 0.0, 1.0).tolist()
    dist = rel.distance_m[order].tolist()
    closing = rel.closing_mps[order].tolist()
    ttc = rel.ttc_s[order].tolist()
    lane = rel.lane[order].tolist()
    cam = objs.seen_by_camera[order].tolist()
    lid = objs.seen_by_lidar[order].tolist()
    names = objs.class_names
    out = []
    for k, i in enumerate(order.tolist()):
        out.append(TrackedObject(
            track_id=ids[k], class_name=names[i], confidence=conf[k],
            position_m=tuple(xyz[k]), size_m=tuple(size[k]),
            velocity_mps=(vel[k][0], vel[k][1], 0.0), distance_m=dist[k],
            relative_speed_mps=closing[k],
            time_to_collision_s=ttc[k] if math.isfinite(ttc[k]) else math.inf,
            lane_relation=lane[k], seen_by_camera=cam[k], seen_by_lidar=lid[k]))
    return out
