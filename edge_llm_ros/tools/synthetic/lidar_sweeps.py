"""Deterministic synthetic lidar sweeps with ground truth, for tests and the benchmark.

A spinning multi-beam lidar (HDL-64-like by default: 64 beams from +2 to
-24.9 degrees) is ray-cast against a possibly sloped ground plane and convex
solids. Road users are made of one or a few solids (a car is its convex hull
with a raked bonnet, rear window and narrower roof; a cyclist a see-through
bike with a rider; a pedestrian legs and torso), so clusters have the uneven
outlines of real ones; building fronts, tree trunks with canopies and poles
give the clutter a street has. Everything is numpy and seeded, so a given seed
always gives the same points: tests can assert on them, and the benchmark
measures the same work on every machine.

Frame: the lidar frame (x forward, y left, z up), sensor at the origin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("car", "truck", "pedestrian", "cyclist")


@dataclass(frozen=True)
class GroundPlane:
    """z = -sensor_height_m + slope_x * x + slope_y * y in the lidar frame."""

    sensor_height_m: float = 1.73
    slope_x: float = 0.0
    slope_y: float = 0.0

    def z_at(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray | float:
        return -self.sensor_height_m + self.slope_x * x + self.slope_y * y


@dataclass(frozen=True)
class LidarPattern:
    """Beam layout of the simulated spinning lidar."""

    n_beams: int = 64
    n_azimuth: int = 2100
    elevation_deg: tuple[float, float] = (-24.9, 2.0)  # lowest, highest beam
    max_range_m: float = 120.0
    range_noise_m: float = 0.02


@dataclass(frozen=True)
class SyntheticObject:
    """Ground truth: a road user's box. `center_m` is the box centre (lidar frame);
    `size_m` is length (along yaw), width, height; yaw about z from +x."""

    class_name: str
    center_m: tuple[float, float, float]
    size_m: tuple[float, float, float]
    yaw_rad: float


@dataclass(frozen=True)
class Primitive:
    """A convex solid rays can hit: half-spaces `normals @ v <= offsets` in a local frame.

    The local frame is the lidar frame turned by `yaw` about z and moved to
    `center`; `hit_fraction` < 1 makes it see-through (spokes, legs): each ray
    that reaches it returns from it with that probability.
    """

    center: tuple[float, float, float]
    yaw: float
    normals: tuple[tuple[float, float, float], ...]
    offsets: tuple[float, ...]
    intensity: float
    hit_fraction: float = 1.0

    @property
    def radius(self) -> float:
        """Bounds the footprint's distance from `center`, for culling rays by azimuth."""
        ext = [o for n, o in zip(self.normals, self.offsets, strict=True)
               if n[2] == 0 and abs(n[0]) + abs(n[1]) > 0]
        return float(max(ext)) * math.sqrt(2.0) if ext else 1e6


@dataclass
class SyntheticSweep:
    """A sweep (N, 4) float32 x, y, z, intensity with its road users' ground truth."""

    points: np.ndarray
    objects: list[SyntheticObject]
    ground: GroundPlane
    primitives: list[Primitive] = field(default_factory=list)
    #: Points returned by each road user (same order as `objects`): how visible it is.
    object_point_counts: list[int] = field(default_factory=list)
    #: Per point: index into `objects`, -1 for the ground, -2 for clutter.
    point_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def box_solid(cx: float, cy: float, z0: float, length: float, width: float, z1: float,
              yaw: float, intensity: float, hit_fraction: float = 1.0) -> Primitive:
    """A yawed box from z0 to z1 centred on (cx, cy): walls, trunks, kerbs, body parts."""
    hx, hy, hz = length / 2.0, width / 2.0, (z1 - z0) / 2.0
    normals = ((1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0),
               (0.0, 0.0, 1.0), (0.0, 0.0, -1.0))
    return Primitive((cx, cy, (z0 + z1) / 2.0), yaw, normals, (hx, hx, hy, hy, hz, hz),
                     intensity, hit_fraction)


def _car_solid(cx: float, cy: float, g: float, length: float, width: float, height: float,
               yaw: float, intensity: float) -> Primitive:
    """A car's convex hull: body with raked bonnet/windscreen, rear window, narrower roof.

    Local frame origin on the ground under the centre; 0.25 m ground clearance.
    """
    L, W, H = length, width, height
    planes: list[tuple[tuple[float, float, float], float]] = [
        ((1.0, 0.0, 0.0), L / 2), ((-1.0, 0.0, 0.0), L / 2), ((0.0, 1.0, 0.0), W / 2),
        ((0.0, -1.0, 0.0), W / 2), ((0.0, 0.0, 1.0), H), ((0.0, 0.0, -1.0), -0.25),
    ]

    def through(n: tuple[float, float, float], pt: tuple[float, float, float]) -> None:
        planes.append((n, n[0] * pt[0] + n[1] * pt[1] + n[2] * pt[2]))

    through((0.5 * H, 0.0, 0.35 * L), (L / 2, 0.0, 0.5 * H))  # bonnet + windscreen
    through((-0.4 * H, 0.0, 0.25 * L), (-L / 2, 0.0, 0.6 * H))  # rear window
    for side in (1.0, -1.0):  # tumblehome
        through((0.0, side * 0.45 * H, 0.08 * W), (0.0, side * W / 2, 0.55 * H))
    return Primitive((cx, cy, g), yaw, tuple(n for n, _ in planes),
                     tuple(o for _, o in planes), intensity)


def object_primitives(obj: SyntheticObject, ground: GroundPlane,
                      intensity: float = 0.5) -> list[Primitive]:
    """The solids a road user is built from, standing on the ground under its centre."""
    cx, cy = obj.center_m[0], obj.center_m[1]
    length, width, height = obj.size_m
    g = float(ground.z_at(cx, cy))
    c, s = math.cos(obj.yaw_rad), math.sin(obj.yaw_rad)

    def at(dx: float) -> tuple[float, float]:  # offset along the heading
        return cx + c * dx, cy + s * dx

    yaw = obj.yaw_rad
    if obj.class_name == "car":
        return [_car_solid(cx, cy, g, length, width, height, yaw, intensity)]
    if obj.class_name == "truck":
        cab = min(2.2, 0.3 * length)
        return [box_solid(*at(length / 2 - cab / 2), g + 0.4, cab, width, g + 0.85 * height,
                          yaw, intensity),
                box_solid(*at(-cab / 2), g + 0.9, length - cab - 0.1, width, g + height, yaw,
                          intensity * 0.8),
                box_solid(*at(0.0), g + 0.35, length, width * 0.8, g + 0.9, yaw, intensity)]
    if obj.class_name == "cyclist":  # see-through bike, solid rider
        return [box_solid(cx, cy, g, length, 0.2, g + 1.0, yaw, intensity, hit_fraction=0.4),
                box_solid(*at(-0.1), g + 0.95, 0.5, width, g + height, yaw, intensity * 0.7)]
    if obj.class_name == "pedestrian":  # legs, then torso and head
        return [box_solid(cx, cy, g, 0.3, 0.45, g + 0.85, yaw, intensity, hit_fraction=0.8),
                box_solid(cx, cy, g + 0.85, length, width, g + height, yaw, intensity * 0.8)]
    return [box_solid(cx, cy, g, length, width, g + height, yaw, intensity)]


def _beam_directions(pattern: LidarPattern, azimuth_offset: float) -> np.ndarray:
    """(n_beams, n_azimuth, 3) unit ray directions."""
    elev = np.deg2rad(np.linspace(pattern.elevation_deg[1], pattern.elevation_deg[0],
                                  pattern.n_beams))
    az = azimuth_offset + np.arange(pattern.n_azimuth) * (2.0 * math.pi / pattern.n_azimuth)
    ce, se = np.cos(elev)[:, None], np.sin(elev)[:, None]
    d = np.empty((pattern.n_beams, pattern.n_azimuth, 3))
    d[..., 0] = ce * np.cos(az)[None, :]
    d[..., 1] = ce * np.sin(az)[None, :]
    d[..., 2] = np.broadcast_to(se, (pattern.n_beams, pattern.n_azimuth))
    return d


def _azimuth_columns(prim: Primitive, n_az: int, az0: float) -> np.ndarray:
    """Azimuth columns whose rays can reach the primitive (all if it may hold the sensor)."""
    cx, cy, _ = prim.center
    rad = prim.radius
    dist = math.hypot(cx, cy)
    if dist <= rad * 1.01:
        return np.arange(n_az)
    mid = math.atan2(cy, cx)
    half = math.asin(min(1.0, rad / dist))
    step = 2 * math.pi / n_az
    lo = math.floor((mid - half - az0) / step) - 1
    hi = math.ceil((mid + half - az0) / step) + 1
    return np.arange(lo, hi + 1) % n_az


def ray_cast(primitives: Sequence[Primitive], ground: GroundPlane | None,
             pattern: LidarPattern, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of every beam -> (N, 4) float64 x, y, z, intensity (misses dropped),
    and per point the index of the primitive it hit (-1: the ground)."""
    az0 = float(rng.uniform(0.0, 2.0 * math.pi / pattern.n_azimuth))
    d = _beam_directions(pattern, az0)
    n_b, n_a = pattern.n_beams, pattern.n_azimuth
    t_best = np.full((n_b, n_a), np.inf)
    inten = np.zeros((n_b, n_a))
    owner = np.full((n_b, n_a), -1, dtype=np.int64)
    if ground is not None:
        denom = d[..., 2] - ground.slope_x * d[..., 0] - ground.slope_y * d[..., 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -ground.sensor_height_m / denom
        ok = (t > 0) & (t < pattern.max_range_m)
        t_best[ok] = t[ok]
        inten[ok] = 0.15 + 0.1 * rng.random(int(ok.sum()))
    for k, prim in enumerate(primitives):
        cols = _azimuth_columns(prim, n_a, az0)
        dd = d[:, cols, :]
        c, s = math.cos(prim.yaw), math.sin(prim.yaw)
        # Ray in the local frame, clipped against each half-space (Cyrus-Beck).
        o = np.array([-(c * prim.center[0] + s * prim.center[1]),
                      -(-s * prim.center[0] + c * prim.center[1]), -prim.center[2]])
        dl = np.stack([c * dd[..., 0] + s * dd[..., 1], -s * dd[..., 0] + c * dd[..., 1],
                       dd[..., 2]], axis=-1)
        t_near = np.full(dd.shape[:2], -np.inf)
        t_far = np.full(dd.shape[:2], np.inf)
        for n, off in zip(prim.normals, prim.offsets, strict=True):
            nv = np.asarray(n, dtype=np.float64)
            denom = dl @ nv
            num = off - float(nv @ o)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = num / denom
            t_near = np.where(denom < 0, np.maximum(t_near, t), t_near)
            t_far = np.where(denom > 0, np.minimum(t_far, t), t_far)
            if num < 0:  # the origin is outside this half-space: parallel rays miss
                t_far = np.where(denom == 0, -np.inf, t_far)
        hit = (t_far >= t_near) & (t_near > 0.0)
        if prim.hit_fraction < 1.0:
            hit &= rng.random(hit.shape) < prim.hit_fraction
        sub_best = t_best[:, cols]
        closer = hit & (t_near < sub_best)
        sub_best[closer] = t_near[closer]
        t_best[:, cols] = sub_best
        sub_int = inten[:, cols]
        sub_int[closer] = prim.intensity
        inten[:, cols] = sub_int
        sub_own = owner[:, cols]
        sub_own[closer] = k
        owner[:, cols] = sub_own
    hit = np.isfinite(t_best) & (t_best < pattern.max_range_m)
    t = t_best[hit] + rng.normal(0.0, pattern.range_noise_m, int(hit.sum()))
    pts = d[hit] * t[:, None]
    i = np.clip(inten[hit] + rng.normal(0.0, 0.02, t.size), 0.0, 1.0)
    return np.column_stack([pts, i]), owner[hit]


def simulate_sweep(objects: Sequence[SyntheticObject], *, ground: GroundPlane | None = None,
                   clutter: Sequence[Primitive] = (), pattern: LidarPattern | None = None,
                   seed: int = 0, n_points: int | None = None) -> SyntheticSweep:
    """Ray-cast road users (standing on `ground`) plus `clutter` boxes.

    `n_points` subsamples the hits to exactly that many (random dropouts, as
    real sensors have) when there are more.
    """
    ground = ground if ground is not None else GroundPlane()
    pattern = pattern if pattern is not None else LidarPattern()
    rng = np.random.default_rng(seed)
    prims: list[Primitive] = list(clutter)
    prim_object = [-2] * len(prims)
    for j, obj in enumerate(objects):
        if obj.class_name not in CLASS_NAMES:
            raise ValueError(f"unknown class {obj.class_name!r} (known: {CLASS_NAMES})")
        own = object_primitives(obj, ground, float(rng.uniform(0.2, 0.8)))
        prims += own
        prim_object += [j] * len(own)
    pts, owner = ray_cast(prims, ground, pattern, rng)
    if n_points is not None and pts.shape[0] > n_points:
        keep = np.sort(rng.choice(pts.shape[0], size=n_points, replace=False))
        pts, owner = pts[keep], owner[keep]
    obj_of_prim = np.array(prim_object + [-1], dtype=np.int64)  # owner -1 (ground) -> last
    labels = obj_of_prim[owner]
    counts = np.bincount(labels[labels >= 0], minlength=len(objects))
    return SyntheticSweep(pts.astype(np.float32), list(objects), ground, prims,
                          [int(c) for c in counts], labels)


DEFAULT_SIZE_M: dict[str, tuple[float, float, float]] = {
    "car": (4.5, 1.8, 1.5),
    "truck": (9.0, 2.5, 3.4),
    "pedestrian": (0.6, 0.6, 1.75),
    "cyclist": (1.8, 0.6, 1.75),
}


def place(class_name: str, x: float, y: float, yaw_deg: float = 0.0,
          size_m: tuple[float, float, float] | None = None,
          ground: GroundPlane | None = None) -> SyntheticObject:
    """A road user standing on `ground` at (x, y); default sizes are typical of the class."""
    ground = ground if ground is not None else GroundPlane()
    size = size_m if size_m is not None else DEFAULT_SIZE_M[class_name]
    z = float(ground.z_at(x, y)) + size[2] / 2.0
    return SyntheticObject(class_name, (x, y, z), size, math.radians(yaw_deg))


def street_clutter(rng: np.random.Generator, ground: GroundPlane) -> list[Primitive]:
    """Building fronts, trees (trunk + canopy) and poles along a street on the x axis."""
    prims: list[Primitive] = []
    for side in (-1.0, 1.0):
        x = -70.0
        while x < 70.0:  # facades with gaps (side streets, driveways)
            length = float(rng.uniform(12.0, 30.0))
            y = side * float(rng.uniform(13.0, 16.0))
            g = float(ground.z_at(x + length / 2, y))
            top = g + float(rng.uniform(6, 15))
            prims.append(box_solid(x + length / 2, y, g, length, 1.0, top, 0.0,
                                   float(rng.uniform(0.2, 0.6))))
            x += length + float(rng.uniform(3.0, 10.0))
        x = -60.0 + float(rng.uniform(0, 6))
        while x < 60.0:  # trees on the verge
            y = side * 8.5
            g = float(ground.z_at(x, y))
            prims.append(box_solid(x, y, g, 0.45, 0.45, g + 3.5, 0.0, 0.4))
            prims.append(box_solid(x, y, g + 3.2, 4.0, 4.0, g + 6.5, 0.3, 0.3))
            x += float(rng.uniform(12.0, 20.0))
        for x in np.arange(-55.0, 60.0, 25.0) + float(rng.uniform(0, 5)):  # lamp posts
            y = side * 7.0
            g = float(ground.z_at(x, y))
            prims.append(box_solid(float(x), y, g, 0.2, 0.2, g + 7.0, 0.0, 0.7))
    return prims


def street_scene(seed: int = 0, ground: GroundPlane | None = None) -> tuple[
        list[SyntheticObject], list[Primitive]]:
    """Road users and clutter of a two-lane street with parking on both sides.

    Parked cars line y = +/-5 m, moving cars and a truck use the lanes,
    cyclists ride at the lane edges and pedestrians walk on the pavements.
    """
    ground = ground if ground is not None else GroundPlane()
    rng = np.random.default_rng(seed)
    objs: list[SyntheticObject] = []
    for side in (-1.0, 1.0):
        x = -45.0 + float(rng.uniform(0, 5))
        while x < 45.0:  # parked cars, slightly skewed, not in front of the sensor
            if abs(x) > 6.0:
                objs.append(place("car", x, side * float(rng.uniform(4.8, 5.4)),
                                  float(rng.normal(0, 4)), ground=ground))
            x += float(rng.uniform(6.5, 14.0))
    for x, y, yaw in ((14.0, 1.7, 0.0), (-18.0, -1.7, 180.0), (33.0, -1.6, 178.0)):
        objs.append(place("car", x + float(rng.uniform(-2, 2)), y, yaw + float(rng.normal(0, 2)),
                          ground=ground))
    objs.append(place("truck", 26.0 + float(rng.uniform(-3, 3)), 1.8, float(rng.normal(0, 2)),
                      ground=ground))
    for x, y in ((9.0, 3.3), (-11.0, -3.3)):
        objs.append(place("cyclist", x + float(rng.uniform(-1, 1)), y,
                          float(rng.uniform(-8, 8)) + (0.0 if y > 0 else 180.0), ground=ground))
    for x, y in ((7.0, -7.5), (-8.5, 7.2), (18.0, 7.0), (22.0, -6.8), (-25.0, -7.2)):
        objs.append(place("pedestrian", x + float(rng.uniform(-1.5, 1.5)), y,
                          float(rng.uniform(0, 180)), ground=ground))
    return objs, street_clutter(rng, ground)


def realistic_sweep(seed: int = 0, n_points: int = 120_000,
                    ground: GroundPlane | None = None) -> SyntheticSweep:
    """The benchmark's street sweep: about 130k beam hits thinned to exactly `n_points`."""
    ground = ground if ground is not None else GroundPlane(1.73, 0.01, -0.005)
    objs, clutter = street_scene(seed, ground)
    return simulate_sweep(objs, ground=ground, clutter=clutter, seed=seed, n_points=n_points)
