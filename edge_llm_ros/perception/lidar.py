"""Geometric lidar detector: a point sweep -> oriented 3D boxes with a class guess.

Pipeline (every stage vectorised numpy/scipy, no Python loop over points or
clusters, so a 120k-point sweep takes ~12 ms on one core; see bench.py):

1. crop: finite points inside the range limits and the region of interest.
2. ground: lowest and highest point per 1 m cell. A cell whose points are
   flat and not a step above its neighbours is ground at its own lowest
   point, so slopes, kerbs and raised verges are followed; other cells
   (objects, or ground under them) take the mean of the ground cells around
   them, or a plane fitted outward from the sensor where there are none.
   Points less than `ground_threshold_m` above their cell's ground are ground;
   points higher than `max_object_height_m` (canopies, signs) are dropped.
3. voxel: unique voxels of what is left, collapsed to pillars (voxel columns)
   whose centroids carry the 2D shape.
4. cluster: pillars marked on a 2D occupancy grid, 8-connected components
   (`scipy.ndimage.label`); beyond `cluster_far_ranges_m` the reach grows a
   cell, because returns get sparser. Size filters drop specks and walls.
5. box: L-shape fit (closeness criterion of Zhang et al. 2017, "Efficient
   L-Shape Fitting for Vehicle Detection Using Laser Scanners"), coarse to
   fine over yaw, all clusters at once with segmented reductions; extents
   from the raw points, bottom on the local ground.
6. classify: trapezoidal priors on length, width and height per class, with
   two shape cues (how long the top third is: a rider or a head is short, a
   cabin long; how many low points lie on the outline: a car body is hollow,
   bushes and parked motorcycles are not) and a top cut off by the sensor's
   highest beam (a pole, not a pedestrian). With `beam_gap_deg`, a far object's
   height may be short of its real one by the gap between two beams at its range
   (a car whose roof fell between beams is still a car). Partly seen cars are
   completed to a typical car away from the sensor, so their centre is where the
   car is; with `car_fragment_margin_m`, small pieces inside a vehicle's box are
   dropped, and with `reflector_min_intensity` retroreflective posts and signs.

Frame: everything stays in the input (lidar) frame; `transform_objects` moves
results to a target frame whose z axis is up (base_link, odom, map).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import ndimage

from edge_llm_ros.params.specs import default_of
from edge_llm_ros.types import Object3D


def _d(name: str) -> Any:
    """The lidar_detector spec's default of `detector.<name>` (declared once, there)."""
    return default_of("lidar_detector", f"detector.{name}")


CLASS_NAMES: tuple[str, ...] = ("car", "truck", "pedestrian", "cyclist", "unknown")


@dataclass(frozen=True)
class ClassPrior:
    """Box size ranges (m) a class is expected to have.

    Each range is (hard_min, core_min, core_max, hard_max): membership is 1
    inside the core and falls linearly to 0 at the hard limits. Length and
    width minima are loose because a partly seen object looks smaller.
    """

    length: tuple[float, float, float, float]
    width: tuple[float, float, float, float]
    height: tuple[float, float, float, float]
    top_fraction: tuple[float, float, float, float] | None = None  # top third's length share
    edge_fraction: tuple[float, float, float, float] | None = None  # low points near outline
    may_be_truncated: bool = False  # can extend above the sensor's highest beam nearby


DEFAULT_CLASS_PRIORS: dict[str, ClassPrior] = {
    # a car's rear corner seen at 20-40 m is only ~1.5 m long (KITTI): loose minimum
    "car": ClassPrior(length=(0.9, 2.0, 5.4, 6.2), width=(0.05, 0.25, 2.2, 2.5),
                      height=(0.9, 1.2, 2.1, 2.5), top_fraction=(0.3, 0.45, 1.0, 1.0),
                      edge_fraction=(0.25, 0.4, 1.0, 1.0)),
    "truck": ClassPrior(length=(1.9, 2.3, 14.0, 18.0), width=(0.0, 0.05, 2.8, 3.2),
                        height=(1.9, 2.4, 4.5, 5.0), top_fraction=(0.2, 0.4, 1.0, 1.0),
                        edge_fraction=(0.25, 0.4, 1.0, 1.0), may_be_truncated=True),
    "pedestrian": ClassPrior(length=(0.1, 0.3, 0.95, 1.3), width=(0.05, 0.2, 0.9, 1.1),
                             height=(1.0, 1.35, 2.0, 2.2)),
    "cyclist": ClassPrior(length=(0.9, 1.35, 2.1, 2.5), width=(0.1, 0.3, 1.0, 1.2),
                          height=(1.3, 1.45, 2.0, 2.2), top_fraction=(0.0, 0.0, 0.5, 0.7)),
}


# Per-cluster features the learned gate reads (and `return_features` returns), in order.
CLUSTER_FEATURES: tuple[str, ...] = (
    "log_points", "range_m", "length_m", "width_m", "height_m", "top_fraction",
    "edge_fraction", "gap_m", "intensity_mean", "intensity_std", "road_share",
    "near_road", "log_density", "best_class_score", "elevated_share")


@dataclass(frozen=True)
class LidarDetectorConfig:
    """Parameters of `LidarDetector`. Those that are node parameters (`detector.*`) take
    their defaults from the lidar_detector spec: the offline tools run what the node runs."""

    # Sensor and crop.
    sensor_height_m: float = _d("sensor_height_m")  # ground is expected this far below
    min_range_m: float = _d("min_range_m")  # closer returns are the vehicle itself
    max_range_m: float = _d("max_range_m")  # sparser than this, clusters are unreliable
    roi_x_m: tuple[float, float] = (-80.0, 80.0)  # region of interest, lidar frame
    roi_y_m: tuple[float, float] = (-40.0, 40.0)
    roi_z_m: tuple[float, float] = (-4.0, 4.0)  # absolute z crop (reflections, sky returns)

    # Ground removal.
    ground_cell_m: float = _d("ground_cell_m")  # grid of lowest points
    ground_threshold_m: float = _d("ground_threshold_m")  # this close above ground: ground
    ground_flatness_m: float = 0.25  # a ground cell's points span at most this height
    ground_max_step_m: float = 0.5  # ... and its lowest point is this close above its neighbours'
    ground_neighbourhood_cells: int = 5  # window whose ground cells give other cells' ground
    ground_max_rise_m: float = 2.0  # ground may lie this far above the plane (embankments)
    ground_max_drop_m: float = 0.5  # ... and this far below it (dips; lower is noise)
    ground_max_slope_deg: float = 12.0  # a steeper fitted plane is rejected (kept flat)
    # Plane fit stages (radius m, band m): cell minima within the radius and within the band
    # of the previous plane; near cells first, so the road under the car dominates.
    ground_fit_stages: tuple[tuple[float, float], ...] = ((12.0, 0.5), (25.0, 0.3))
    max_object_height_m: float = 3.2  # points higher above ground are ignored (trees, signs)

    # Downsampling and clustering.
    voxel_size_m: float = _d("voxel_size_m")
    cluster_tolerance_m: float = _d("cluster_tolerance_m")  # 2D grid cell: this close always join;
    # farther than 2*sqrt(2) times this never do (8-connected cells)
    cluster_far_ranges_m: tuple[float, ...] = (20.0,)  # beyond each, one more cell of
    # reach (returns are sparser far away; 0.2 m cells would split a car at 30 m)
    min_cluster_points: int = _d("min_cluster_points")
    max_cluster_points: int = _d("max_cluster_points")
    max_object_length_m: float = _d("max_object_length_m")  # longer: structure
    min_object_height_m: float = _d("min_object_height_m")  # lower: kerbs, litter

    # Box fitting and classes.
    yaw_coarse_step_deg: float = 5.0
    yaw_fine_step_deg: float = 1.0
    lshape_min_distance_m: float = 0.01  # d0 of the closeness criterion
    class_priors: dict[str, ClassPrior] = field(
        default_factory=lambda: dict(DEFAULT_CLASS_PRIORS))
    min_class_score: float = _d("min_class_score")  # below this the class is "unknown"
    # Elevation of the sensor's highest beam (HDL-64E: 2.0, VLP-32C: 15.0, OS1: 22.5). Objects
    # whose top reaches it are cut off: their height is only a lower bound, so they cannot be
    # told from poles and trunks and only "truck" stays possible. None or NaN (for ROS
    # parameters, which cannot be None): not judged.
    sensor_top_elevation_deg: float | None = _d("sensor_top_elevation_deg")
    truncation_margin_deg: float = 0.6  # a top this close to the highest beam is cut off
    # Vertical gap between neighbouring beams (HDL-64E upper block: ~0.4 degrees): a far
    # object's top may lie up to range * tan(gap) above its highest return, so the class
    # priors' height minima are judged against the height plus that. 0: not judged.
    beam_gap_deg: float = _d("beam_gap_deg")
    min_class_points: int = 15  # fewer points than this cannot be told apart: "unknown"
    edge_band_m: float = 0.2  # "near the outline" for the edge-fraction shape cue
    # A car seen only from one side or end is completed to this length and width,
    # growing away from the sensor, so its centre is where the car is, not its visible face.
    complete_car_boxes: bool = _d("complete_car_boxes")
    car_typical_size_m: tuple[float, float] = (3.9, 1.65)  # KITTI mean car length, width
    # A smaller object (not a car or truck) whose centre lies inside a car's (completed) or
    # a truck's box grown by this much is a piece of that vehicle split off by occlusion,
    # and is dropped. 0: kept.
    car_fragment_margin_m: float = _d("car_fragment_margin_m")
    return_point_indices: bool = False  # fill Object3D.point_indices (costs ~1 ms)

    # Drivable corridor and static structure. The road is the smooth ground connected to
    # the ground under the vehicle: cells whose points span at most `road_flatness_m` and
    # whose lowest point steps at most `road_max_step_m` from a road neighbour (a kerb is
    # a ~0.1 m step), closed over `road_close_cells` so cars on it do not cut holes.
    # Objects whose centre is off the road ("off_road") and not in `off_road_classes`
    # are dropped; unknown shapes that look like structure (walls, fences, hedges:
    # long and thin or longer than a truck; canopies: hanging above the ground) are
    # dropped everywhere. False keeps every cluster (the behaviour before).
    reject_structure: bool = _d("reject_structure")
    road_flatness_m: float = 0.12
    road_max_step_m: float = _d("road_max_step_m")
    road_close_cells: int = 3
    road_margin_cells: int = 2  # ground cells next to the road that count as road
    # (cells apart, allowance factor) of the step test; ((1, 1.0), (2, 2.0)) also finds a
    # kerb whose rise is split over two cells, but real roads' bumps then break the road
    road_step_shifts: tuple[tuple[int, float], ...] = ((1, 1.0),)
    road_fill_cells: float = 0.0  # empty cells this close to returns take their height
    road_seed_m: tuple[float, float] = (8.0, 8.0)  # ground cells within (|x|, |y|) of
    # the sensor seed the road (a sidewalk or verge that close joins it)
    off_road_classes: tuple[str, ...] = ("pedestrian", "cyclist")
    structure_max_width_m: float = 0.35  # a longer object this thin is a wall or a fence
    structure_min_length_m: float = 1.8
    structure_max_gap_m: float = 0.6  # an unknown object this far above the ground hangs
    structure_pole_footprint_m: float = 1.0  # unknown objects shorter than this are ...
    structure_pole_min_height_m: float = 2.0  # ... poles or trunks when taller than this,
    structure_clutter_max_height_m: float = 1.0  # ... and clutter when lower than this
    structure_min_points: int = 30  # an unknown object with fewer returns is clutter ...
    structure_min_points_range_m: float = 15.0  # ... at this range (fewer farther out)
    on_road_classes: tuple[str, ...] = ("unknown",)  # need the road itself, not its margin
    # A small pedestrian-, cyclist- or unknown-shaped object whose mean return intensity
    # reaches this is street furniture with retroreflective sheeting (bollards, posts,
    # signs). The intensity scale is the sensor's (KITTI's reflectance: 0..1). 0: off.
    reflector_min_intensity: float = _d("reflector_min_intensity")
    # Learned road-user gate: logistic regression on `CLUSTER_FEATURES` (weights then
    # bias, features standardised by `gate_mean`/`gate_scale`); clusters scoring below
    # `gate_threshold` are dropped. Empty: no gate. Trained per sensor (the HDL-64E
    # weights come from `edge-llm-ros`'s tools/training/lidar_gate.py).
    gate: str = _d("gate")  # name of a shipped gate (perception/lidar_gates.py), e.g. "kitti_hdl64"
    gate_weights: tuple[float, ...] = ()
    gate_mean: tuple[float, ...] = ()
    gate_scale: tuple[float, ...] = ()
    gate_threshold: float = _d("gate_threshold")
    gate_classes: tuple[str, ...] = ("unknown", "truck")  # classes the gate may drop: the
    # ones structure is mistaken for (walls and hedges pass for trucks)
    return_features: bool = False  # fill Object3D.features (training the gate)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **core: Any) -> LidarDetectorConfig:
        """From a lidar_detector node's parameters (`detector.*`), plus core-only fields."""
        fields = {name.split(".", 1)[1]: value for name, value in params.items()
                  if name.startswith("detector.")}
        return cls(**fields, **core)

    def __post_init__(self) -> None:
        positive = ("sensor_height_m", "max_range_m", "ground_cell_m", "ground_threshold_m",
                    "voxel_size_m", "cluster_tolerance_m", "max_object_height_m",
                    "max_object_length_m", "yaw_coarse_step_deg", "yaw_fine_step_deg",
                    "lshape_min_distance_m")
        for name in positive:
            if not getattr(self, name) > 0.0:
                raise ValueError(f"LidarDetectorConfig.{name} must be > 0, "
                                 f"got {getattr(self, name)}")
        for name in ("roi_x_m", "roi_y_m", "roi_z_m"):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"LidarDetectorConfig.{name} must be (low, high) with "
                                 f"low < high, got {(lo, hi)}")
        if not 0.0 <= self.min_range_m < self.max_range_m:
            raise ValueError("LidarDetectorConfig needs 0 <= min_range_m < max_range_m")
        if self.ground_neighbourhood_cells < 1 or self.ground_neighbourhood_cells % 2 == 0:
            raise ValueError("LidarDetectorConfig.ground_neighbourhood_cells must be odd, >= 1")
        if not 1 <= self.min_cluster_points <= self.max_cluster_points:
            raise ValueError("LidarDetectorConfig needs 1 <= min_cluster_points "
                             "<= max_cluster_points")
        n_gate = len(CLUSTER_FEATURES)
        if self.gate and not self.gate_weights:
            from edge_llm_ros.perception.lidar_gates import GATES

            if self.gate not in GATES:
                raise ValueError(f"LidarDetectorConfig.gate: unknown gate {self.gate!r}; "
                                 f"shipped: {', '.join(sorted(GATES)) or 'none'}")
            for key, value in GATES[self.gate].items():
                object.__setattr__(self, key, tuple(value))
        if self.gate_weights and not (len(self.gate_weights) == n_gate + 1
                                      and len(self.gate_mean) == len(self.gate_scale) == n_gate):
            raise ValueError(f"LidarDetectorConfig gate needs {n_gate + 1} weights and "
                             f"{n_gate} means and scales (CLUSTER_FEATURES), got "
                             f"{len(self.gate_weights)}, {len(self.gate_mean)}, "
                             f"{len(self.gate_scale)}")
        top = self.sensor_top_elevation_deg
        if top is not None and math.isfinite(top) and not -90.0 < top < 90.0:
            raise ValueError(f"LidarDetectorConfig.sensor_top_elevation_deg must be in "
                             f"(-90, 90) degrees, got {top}")
        unknown = set(self.class_priors) - set(CLASS_NAMES)
        if unknown:
            raise ValueError(f"class_priors has unknown classes {sorted(unknown)}")


@dataclass(frozen=True)
class LidarDetections:
    """Result of one `detect` call; `timing_ms` per stage plus "total"."""

    objects: list[Object3D]
    timing_ms: dict[str, float]
    ground_plane: tuple[float, float, float]  # z = a*x + b*y + c, lidar frame
    n_input: int
    n_cropped: int  # points inside range and region of interest
    n_ground: int
    n_voxels: int
    n_clusters: int  # before the size filters


@dataclass(frozen=True)
class GroundEstimate:
    """Ground removal's view of a point set (per point, same order as given)."""

    height_m: np.ndarray  # height above the local ground
    ground_z_m: np.ndarray  # local ground z under the point
    is_ground: np.ndarray  # height below `ground_threshold_m`
    plane: tuple[float, float, float]  # z = a*x + b*y + c fitted to the lowest points
    road_level: np.ndarray | None = None  # per point: 2 drivable corridor, 1 its margin, 0 off


STAGES: tuple[str, ...] = ("crop", "ground", "voxel", "cluster", "box", "classify")


def _trapezoid(v: np.ndarray, r: tuple[float, float, float, float]) -> np.ndarray:
    """1 inside [core_lo, core_hi], linear down to 0 at lo and hi (inclusive core)."""
    lo, core_lo, core_hi, hi = r
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(v >= core_lo, 1.0, np.clip((v - lo) / (core_lo - lo), 0.0, 1.0))
        down = np.where(v <= core_hi, 1.0, np.clip((hi - v) / (hi - core_hi), 0.0, 1.0))
    return np.minimum(up, down)


def classify_sizes(sizes_m: np.ndarray, priors: dict[str, ClassPrior] | None = None,
                   min_score: float = 0.3, top_fraction: np.ndarray | None = None,
                   truncated: np.ndarray | None = None,
                   edge_fraction: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """(K, 3) length, width, height (+ optional shape cues) -> class names and scores.

    The score of a class is the product of its length, width and height
    memberships, times the top-fraction and edge-fraction memberships where
    the prior has them and the cue is given; a `truncated` object (top cut off by the
    sensor's field of view, so its height is only a lower bound) scores 0 for
    classes that cannot be that tall, and its height counts as "at least" for
    the others (above the class's hard minimum). The best class wins if its score
    reaches `min_score`; an "unknown" object's score is 1 - best class score.
    """
    priors = priors if priors is not None else DEFAULT_CLASS_PRIORS
    sizes_m = np.asarray(sizes_m, dtype=np.float64).reshape(-1, 3)
    names = list(priors)
    if not names or sizes_m.shape[0] == 0:
        return ["unknown"] * sizes_m.shape[0], np.zeros(sizes_m.shape[0])
    scores = class_prior_scores(sizes_m, priors, top_fraction, truncated, edge_fraction)
    best = np.argmax(scores, axis=1)
    best_score = scores[np.arange(len(best)), best]
    known = best_score >= min_score
    classes = [names[b] if k else "unknown" for b, k in zip(best, known, strict=True)]
    return classes, np.where(known, best_score, 1.0 - best_score)


def class_prior_scores(sizes_m: np.ndarray, priors: dict[str, ClassPrior],
                       top_fraction: np.ndarray | None = None,
                       truncated: np.ndarray | None = None,
                       edge_fraction: np.ndarray | None = None,
                       height_slack_m: np.ndarray | None = None) -> np.ndarray:
    """(K, len(priors)) membership of each box in each class prior (`classify_sizes`).

    `height_slack_m` (per box) is how much of an object's top the beams may miss (a
    beam gap at the object's range): the height ranges' minima are lowered by it."""
    sizes_m = np.asarray(sizes_m, dtype=np.float64).reshape(-1, 3)
    names = list(priors)
    cols: list[np.ndarray] = []
    height = sizes_m[:, 2]
    if height_slack_m is not None:  # judge the height the object may have had
        height = height + np.asarray(height_slack_m, dtype=np.float64)
    for n in names:
        pr = priors[n]
        h_member = _trapezoid(np.minimum(height, np.maximum(sizes_m[:, 2], pr.height[2])),
                              pr.height)
        if truncated is not None and pr.may_be_truncated:  # height is only a lower bound
            h_member = np.where(truncated & (sizes_m[:, 2] <= pr.height[2]),
                                np.maximum(h_member, 1.0), h_member)
            h_member = np.where(truncated & (sizes_m[:, 2] < pr.height[0]), 0.0, h_member)
        sc = _trapezoid(sizes_m[:, 0], pr.length) * _trapezoid(sizes_m[:, 1], pr.width) * h_member
        if pr.top_fraction is not None and top_fraction is not None:
            sc = sc * _trapezoid(np.asarray(top_fraction, dtype=np.float64), pr.top_fraction)
        if pr.edge_fraction is not None and edge_fraction is not None:
            sc = sc * _trapezoid(np.asarray(edge_fraction, dtype=np.float64), pr.edge_fraction)
        if not pr.may_be_truncated and truncated is not None:
            sc = np.where(truncated, 0.0, sc)
        cols.append(sc)
    return np.stack(cols, axis=1) if cols else np.zeros((sizes_m.shape[0], 0))


def _segment_bounds(labels: np.ndarray, n: int, *values: np.ndarray) -> np.ndarray:
    """(n, 2 * len(values)) per-label min and max of each value array (inf/-inf if empty)."""
    out = np.empty((n, 2 * len(values)))
    for j, v in enumerate(values):
        v = np.asarray(v, dtype=np.float64)  # ufunc.at is ~30x slower on mixed dtypes
        out[:, 2 * j] = np.inf
        out[:, 2 * j + 1] = -np.inf
        np.minimum.at(out[:, 2 * j], labels, v)
        np.maximum.at(out[:, 2 * j + 1], labels, v)
    return out


def _segment_starts(sorted_labels: np.ndarray, n_segments: int) -> np.ndarray:
    return np.searchsorted(sorted_labels, np.arange(n_segments))


def fit_lshape_yaw(xy: np.ndarray, labels: np.ndarray, n_clusters: int,
                   coarse_step_deg: float = 5.0, fine_step_deg: float = 1.0,
                   d0: float = 0.01) -> np.ndarray:
    """Yaw in [0, pi/2) per cluster maximising the L-shape closeness criterion.

    `xy` (M, 2) points sorted by `labels` (0..n_clusters-1, every label
    present). A coarse grid over 90 degrees, then a fine grid around the
    coarse optimum; all clusters in one array pass each time.
    """
    starts = _segment_starts(labels, n_clusters)
    counts = np.diff(np.append(starts, labels.size))
    x = xy[:, 0:1].astype(np.float64)
    y = xy[:, 1:2].astype(np.float64)

    def closeness(cos_t: np.ndarray, sin_t: np.ndarray) -> np.ndarray:
        # cos_t, sin_t: (M, A) per point and candidate angle -> (K, A) criterion
        c1 = x * cos_t + y * sin_t
        c2 = -x * sin_t + y * cos_t
        out = None
        for c in (c1, c2):
            hi = np.repeat(np.maximum.reduceat(c, starts, axis=0), counts, axis=0)
            lo = np.repeat(np.minimum.reduceat(c, starts, axis=0), counts, axis=0)
            dist = np.minimum(hi - c, c - lo)
            out = dist if out is None else np.minimum(out, dist)
        assert out is not None
        return np.add.reduceat(1.0 / np.maximum(out, d0), starts, axis=0)

    coarse = np.deg2rad(np.arange(0.0, 90.0, coarse_step_deg))
    score = closeness(np.cos(coarse)[None, :], np.sin(coarse)[None, :])
    best = coarse[np.argmax(score, axis=1)]
    half = math.radians(coarse_step_deg)
    offsets = np.arange(-half, half + 1e-9, math.radians(fine_step_deg))
    fine = best[:, None] + offsets[None, :]  # (K, A2)
    fine_pts = np.repeat(fine, counts, axis=0)
    score = closeness(np.cos(fine_pts), np.sin(fine_pts))
    yaw = fine[np.arange(n_clusters), np.argmax(score, axis=1)]
    return np.mod(yaw, math.pi / 2)


def _complete_car_boxes(centers: np.ndarray, sizes: np.ndarray, yaw: np.ndarray,
                        is_car: np.ndarray, typical: tuple[float, float]) -> None:
    """Grow partly seen car boxes (in place) to a typical car, away from the sensor.

    A visible face shorter than a car's width, lying across the line of
    sight, is the car's rear or front: the length axis is then the other one.
    """
    full_len, full_wid = typical
    for j in np.flatnonzero(is_car):
        length, width = float(sizes[j, 0]), float(sizes[j, 1])
        c, s = math.cos(yaw[j]), math.sin(yaw[j])
        ray = centers[j, :2] / max(float(np.hypot(*centers[j, :2])), 1e-6)
        if length >= full_len * 0.8 and width >= full_wid * 0.8:
            continue
        across = abs(c * ray[0] + s * ray[1]) < 0.7
        if length <= 2.4 and across:  # an end face (with a little of the roof or bonnet)
            yaw[j] = yaw[j] + math.pi / 2 if yaw[j] <= 0 else yaw[j] - math.pi / 2
            c, s = math.cos(yaw[j]), math.sin(yaw[j])
            length, width = width, length
        for axis, have, want in (((c, s), length, full_len), ((-s, c), width, full_wid)):
            if have >= want:
                continue
            away = 1.0 if axis[0] * ray[0] + axis[1] * ray[1] >= 0 else -1.0
            shift = (want - have) / 2 * away
            centers[j, 0] += axis[0] * shift
            centers[j, 1] += axis[1] * shift
        sizes[j, 0] = max(length, full_len)
        sizes[j, 1] = max(width, full_wid)


def _car_fragments(centers: np.ndarray, sizes: np.ndarray, yaw: np.ndarray,
                   classes: list[str], kept: np.ndarray, margin_m: float) -> np.ndarray:
    """Per object: a smaller object other than a vehicle whose centre lies inside a kept
    car's or truck's box grown by `margin_m` (a mirror, a wheel, a part split off by
    occlusion)."""
    cls = np.array(classes)
    car = np.flatnonzero(kept & np.isin(cls, ("car", "truck")))
    if car.size == 0:
        return np.zeros(len(classes), dtype=bool)
    d = centers[None, :, :2] - centers[car, None, :2]  # (cars, objects, 2)
    c, s = np.cos(yaw[car])[:, None], np.sin(yaw[car])[:, None]
    u = np.abs(d[..., 0] * c + d[..., 1] * s)
    v = np.abs(-d[..., 0] * s + d[..., 1] * c)
    inside = (u <= sizes[car, 0:1] / 2 + margin_m) & (v <= sizes[car, 1:2] / 2 + margin_m)
    return inside.any(axis=0) & ~np.isin(cls, ("car", "truck")) & (sizes[:, 0] < 2.0)


class LidarDetector:
    """Stateless per sweep: `detect` may be called from any thread, one call at a time."""

    def __init__(self, config: LidarDetectorConfig | None = None) -> None:
        self.config = config if config is not None else LidarDetectorConfig()

    # -------------------------------------------------------------- ground
    def _ground(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                              tuple[float, float, float], np.ndarray]:
        """Per point: height above local ground and the local ground z; the fitted plane.

        A cell is a ground cell when its points are flat (lowest to highest
        within `ground_flatness_m`), its lowest point is at most
        `ground_max_step_m` above the lowest point around it, and it lies
        within the rise/drop band of the plane. Ground cells keep their own
        lowest point as ground height, so kerbs, raised verges and slopes are
        followed; other cells (objects, or ground with an object on it) take
        the mean ground height of the ground cells in the surrounding window,
        or the plane where there are none.
        """
        cfg = self.config
        cs = cfg.ground_cell_m
        x0, y0 = cfg.roi_x_m[0], cfg.roi_y_m[0]
        nx = int(math.ceil((cfg.roi_x_m[1] - x0) / cs))
        ny = int(math.ceil((cfg.roi_y_m[1] - y0) / cs))
        ix = np.clip(((p[:, 0] - x0) / cs).astype(np.int32), 0, nx - 1)
        iy = np.clip(((p[:, 1] - y0) / cs).astype(np.int32), 0, ny - 1)
        cell = ix * ny + iy
        zmin = np.full(nx * ny, np.inf, dtype=np.float32)
        zmax = np.full(nx * ny, -np.inf, dtype=np.float32)
        np.minimum.at(zmin, cell, p[:, 2])
        np.maximum.at(zmax, cell, p[:, 2])

        # Plane through the lowest points, fitted outward from the sensor.
        occupied = np.flatnonzero(np.isfinite(zmin))
        cx = (occupied // ny + 0.5) * cs + x0
        cy = (occupied % ny + 0.5) * cs + y0
        cz = zmin[occupied].astype(np.float64)
        r2 = cx * cx + cy * cy
        plane = np.array([0.0, 0.0, -cfg.sensor_height_m])
        max_grad = math.tan(math.radians(cfg.ground_max_slope_deg))
        for radius, band in cfg.ground_fit_stages:
            resid = cz - (plane[0] * cx + plane[1] * cy + plane[2])
            sel = (r2 < radius * radius) & (np.abs(resid) < band)
            if np.count_nonzero(sel) < 10:
                continue
            A = np.column_stack([cx[sel], cy[sel], np.ones(np.count_nonzero(sel))])
            sol, *_ = np.linalg.lstsq(A, cz[sel], rcond=None)
            if math.hypot(sol[0], sol[1]) <= max_grad:
                plane = sol

        zmin_g = zmin.reshape(nx, ny)
        gx = ((np.arange(nx) + 0.5) * cs + x0)[:, None]
        gy = ((np.arange(ny) + 0.5) * cs + y0)[None, :]
        plane_z = (plane[0] * gx + plane[1] * gy + plane[2]).astype(np.float32)
        nbr_min = ndimage.minimum_filter(zmin_g, size=3, mode="nearest")
        dz = zmin_g - plane_z
        with np.errstate(invalid="ignore"):
            flat = (((zmax.reshape(nx, ny) - zmin_g) <= cfg.ground_flatness_m)
                    & (zmin_g - nbr_min <= cfg.ground_max_step_m)
                    & (dz <= cfg.ground_max_rise_m) & (dz >= -cfg.ground_max_drop_m))
        k = cfg.ground_neighbourhood_cells
        w_sum = ndimage.uniform_filter(flat.astype(np.float32), size=k, mode="constant")
        z_sum = ndimage.uniform_filter(np.where(flat, zmin_g, 0.0).astype(np.float32), size=k,
                                       mode="constant")
        with np.errstate(invalid="ignore", divide="ignore"):
            around = np.where(w_sum > 1e-6, z_sum / w_sum, plane_z)
        local = np.where(flat, zmin_g, around).ravel()
        g = local[cell]
        road = self._road(zmin_g, zmax.reshape(nx, ny), plane_z, gx, gy)
        return (p[:, 2] - g, g, (float(plane[0]), float(plane[1]), float(plane[2])),
                road.ravel()[cell])

    def _road(self, zmin_g: np.ndarray, zmax_g: np.ndarray, plane_z: np.ndarray,
              gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
        """(nx, ny) drivable corridor: smooth ground cells connected (through steps no
        higher than a kerb) to the ground under the vehicle, closed so that objects
        standing on the road do not cut it. Empty cells (no returns) are not road."""
        cfg = self.config
        if not cfg.reject_structure:
            return np.full(zmin_g.shape, 2, dtype=np.uint8)
        observed = np.isfinite(zmin_g)
        with np.errstate(invalid="ignore"):
            smooth = observed & ((zmax_g - zmin_g) <= cfg.road_flatness_m)
            # Rings land metres apart far out: a cell without returns takes the height
            # of the nearest cell with returns (none if that one is an obstacle, or if it
            # is more than `road_fill_cells` away), so a kerb between two rings is still
            # a step and shadows do not join the road to what lies behind them.
            z = np.where(smooth, zmin_g - plane_z, np.nan)
            dist, (ni, nj) = ndimage.distance_transform_edt(~observed, return_indices=True)
            if cfg.road_fill_cells > 0:
                z = np.where(dist <= cfg.road_fill_cells, z[ni, nj], np.nan)
            # step to the neighbours along each axis (`road_step_shifts`), measured from
            # the fitted plane so that a steady slope is no step
            step = np.zeros(z.shape, dtype=np.float32)
            for axis in (0, 1):
                for shift, allow in cfg.road_step_shifts:
                    lo = [slice(None)] * 2
                    hi = [slice(None)] * 2
                    lo[axis] = slice(0, -shift)
                    hi[axis] = slice(shift, None)
                    d = np.abs(z[tuple(hi)] - z[tuple(lo)]) / allow
                    d = np.where(np.isnan(d), 0.0, d)
                    step[tuple(lo)] = np.maximum(step[tuple(lo)], d)
                    step[tuple(hi)] = np.maximum(step[tuple(hi)], d)
            ok = np.isfinite(z) & (step <= cfg.road_max_step_m)
        # with no fill, cells without returns join whatever is around them (far out the
        # road then reaches everything not walled off by obstacles or kerbs)
        lab, _ = ndimage.label(ok | (~observed if cfg.road_fill_cells <= 0 else False))
        # the road is what joins the ground around the vehicle
        near = (np.abs(gx) <= cfg.road_seed_m[0]) & (np.abs(gy) <= cfg.road_seed_m[1])
        seeds = np.unique(lab[near & ok])
        road = np.isin(lab, seeds[seeds > 0]) & ok
        if cfg.road_close_cells > 0:
            road = ndimage.binary_closing(road, iterations=cfg.road_close_cells)
        # 2: the road itself; 1: its margin (parked cars, what stands at the kerb)
        level = road.astype(np.uint8) * 2
        if cfg.road_margin_cells > 0:
            margin = ndimage.binary_dilation(road, iterations=cfg.road_margin_cells)
            level[margin & ~road] = 1
        return level

    def estimate_ground(self, points: np.ndarray) -> GroundEstimate:
        """Ground heights for (N, >=3) points (no cropping: points outside the region
        of interest use its border cells). What `detect` removes as ground."""
        p = np.asarray(points)[:, :3].astype(np.float32)
        h, g, plane, road = self._ground(p)
        return GroundEstimate(h, g, h < self.config.ground_threshold_m, plane, road)

    # -------------------------------------------------------------- features
    @staticmethod
    def _features(pl: np.ndarray, k: int, n_pts: np.ndarray, centers: np.ndarray,
                  sizes: np.ndarray, top_frac: np.ndarray, edge_frac: np.ndarray,
                  gap: np.ndarray, intensity: np.ndarray, road_level: np.ndarray,
                  classes: list[str], scores: np.ndarray, top_pt: np.ndarray) -> np.ndarray:
        """(k, len(CLUSTER_FEATURES)) per-cluster features, before boxes are completed."""
        n_sel = np.maximum(np.bincount(pl, minlength=k), 1)
        i_mean = np.bincount(pl, weights=intensity, minlength=k) / n_sel
        i_sq = np.bincount(pl, weights=intensity * intensity, minlength=k) / n_sel
        rng = np.hypot(centers[:, 0], centers[:, 1])
        length, width, height = sizes[:, 0], sizes[:, 1], sizes[:, 2]
        area = np.maximum((length + width) * height, 0.05)
        unknown = np.array([c == "unknown" for c in classes], dtype=bool)
        return np.column_stack([
            np.log(np.maximum(n_pts, 1)), rng, length, width, height, top_frac, edge_frac,
            gap, i_mean, np.sqrt(np.maximum(i_sq - i_mean * i_mean, 0.0)),
            np.bincount(pl, weights=road_level >= 2, minlength=k) / n_sel,
            (np.bincount(pl, weights=road_level >= 1, minlength=k) > 0).astype(np.float64),
            np.log(np.maximum(n_pts * np.maximum(rng, 1.0) ** 2 / area, 1e-3)),
            np.where(unknown, 1.0 - scores, scores),
            np.bincount(pl, weights=top_pt, minlength=k) / n_sel,
        ])

    # -------------------------------------------------------------- detect
    def detect(self, points_xyzi: np.ndarray) -> LidarDetections:
        """Detect objects in one sweep: (N, >=3) float array, lidar frame."""
        cfg = self.config
        t0 = time.perf_counter()
        marks = [t0]
        pts = np.asarray(points_xyzi)
        if pts.ndim != 2 or (pts.shape[0] and pts.shape[1] < 3):
            raise ValueError(f"points must be (N, >=3), got shape {pts.shape}")
        n_input = int(pts.shape[0])
        p = pts[:, :3].astype(np.float32, copy=False)
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        r2 = x * x + y * y
        keep = ((r2 >= cfg.min_range_m ** 2) & (r2 <= cfg.max_range_m ** 2)
                & (x >= cfg.roi_x_m[0]) & (x < cfg.roi_x_m[1])
                & (y >= cfg.roi_y_m[0]) & (y < cfg.roi_y_m[1])
                & (z >= cfg.roi_z_m[0]) & (z <= cfg.roi_z_m[1]))  # NaN compares False
        idx = np.flatnonzero(keep)
        p = p[idx]
        marks.append(time.perf_counter())

        def result(objects: list[Object3D], plane: tuple[float, float, float],
                   n_ground: int = 0, n_voxels: int = 0, n_clusters: int = 0) -> LidarDetections:
            while len(marks) < len(STAGES) + 1:
                marks.append(marks[-1])
            timing = {s: (marks[i + 1] - marks[i]) * 1e3 for i, s in enumerate(STAGES)}
            timing["total"] = (marks[-1] - t0) * 1e3
            return LidarDetections(objects, timing, plane, n_input, int(idx.size), n_ground,
                                   n_voxels, n_clusters)

        flat = (0.0, 0.0, -cfg.sensor_height_m)
        if idx.size < cfg.min_cluster_points:
            return result([], flat)

        # ---- ground
        h, g, plane, road_pt = self._ground(p)
        obstacle = (h >= cfg.ground_threshold_m) & (h <= cfg.max_object_height_m)
        n_ground = int(np.count_nonzero(h < cfg.ground_threshold_m))
        oi = np.flatnonzero(obstacle)
        q = p[oi]
        qg = g[oi]
        q_road = road_pt[oi]
        q_int = (pts[idx[oi], 3].astype(np.float64) if pts.shape[1] >= 4
                 else np.zeros(oi.size))
        marks.append(time.perf_counter())
        if oi.size < cfg.min_cluster_points:
            return result([], plane, n_ground)

        # ---- voxel: unique voxels; pillars (voxel columns) carry the 2D shape
        vs = cfg.voxel_size_m
        qmin = q.min(axis=0)
        vi = ((q - qmin) / vs).astype(np.int64)
        dims = vi.max(axis=0) + 1
        key = (vi[:, 0] * dims[1] + vi[:, 1]) * dims[2] + vi[:, 2]
        ukey, vox_of_pt = np.unique(key, return_inverse=True)
        n_vox = ukey.size
        col = ukey // dims[2]  # sorted, so equal columns are adjacent
        pil_of_vox = np.cumsum(np.concatenate(([0], col[1:] != col[:-1])))
        n_pil = int(pil_of_vox[-1]) + 1
        pil_of_pt = pil_of_vox[vox_of_pt]
        pil_n = np.bincount(pil_of_pt, minlength=n_pil)
        pxy = np.empty((n_pil, 2), dtype=np.float64)
        pxy[:, 0] = np.bincount(pil_of_pt, weights=q[:, 0], minlength=n_pil) / pil_n
        pxy[:, 1] = np.bincount(pil_of_pt, weights=q[:, 1], minlength=n_pil) / pil_n
        marks.append(time.perf_counter())

        # ---- cluster: 8-connected components of a 2D occupancy grid
        cc = cfg.cluster_tolerance_m
        pad = len(cfg.cluster_far_ranges_m)  # spare cells for the far-range dilation
        gmin = pxy.min(axis=0) - pad * cc
        gi = ((pxy - gmin) / cc).astype(np.int64)
        gshape = tuple(int(v) + 1 + pad for v in gi.max(axis=0))
        occ = np.zeros(gshape, dtype=bool)
        occ[gi[:, 0], gi[:, 1]] = True
        # Far away, returns are sparser: widen the join distance by marking the cells
        # around far pillars too (a dilation restricted to them).
        pr = np.hypot(pxy[:, 0], pxy[:, 1])
        for reach, start in enumerate(cfg.cluster_far_ranges_m, start=1):
            far = np.flatnonzero(pr > start)
            for dx in range(-reach, reach + 1):
                for dy in range(-reach, reach + 1):
                    if dx or dy:
                        occ[gi[far, 0] + dx, gi[far, 1] + dy] = True
        lab, n_lab = ndimage.label(occ, structure=np.ones((3, 3), dtype=bool))
        pil_lab = lab[gi[:, 0], gi[:, 1]] - 1  # 0-based
        pt_lab = pil_lab[pil_of_pt]
        n_pts = np.bincount(pt_lab, minlength=n_lab)
        # cheap axis-aligned extents first: drop specks and walls before fitting
        lo = np.full((n_lab, 3), np.inf, dtype=np.float32)
        hi = np.full((n_lab, 3), -np.inf, dtype=np.float32)
        for a in range(3):
            np.minimum.at(lo[:, a], pt_lab, q[:, a])
            np.maximum.at(hi[:, a], pt_lab, q[:, a])
        ground_z = np.bincount(pt_lab, weights=qg, minlength=n_lab) / np.maximum(n_pts, 1)
        diag = np.hypot(hi[:, 0] - lo[:, 0], hi[:, 1] - lo[:, 1])
        tall = hi[:, 2] - np.minimum(ground_z, lo[:, 2])
        good = ((n_pts >= cfg.min_cluster_points) & (n_pts <= cfg.max_cluster_points)
                & (diag <= cfg.max_object_length_m * 1.5) & (tall >= cfg.min_object_height_m))
        keep_lab = np.flatnonzero(good)
        k = keep_lab.size
        marks.append(time.perf_counter())
        if k == 0:
            return result([], plane, n_ground, n_vox, n_lab)

        # ---- box: L-shape yaw on pillar centroids, extents from the raw points
        remap = np.full(n_lab, -1, dtype=np.int64)
        remap[keep_lab] = np.arange(k)
        c_of_pil = remap[pil_lab]
        sel = np.flatnonzero(c_of_pil >= 0)
        order = sel[np.argsort(c_of_pil[sel], kind="stable")]
        yaw = fit_lshape_yaw(pxy[order], c_of_pil[order], k, cfg.yaw_coarse_step_deg,
                             cfg.yaw_fine_step_deg, cfg.lshape_min_distance_m)
        p_new = remap[pt_lab]
        psel = np.flatnonzero(p_new >= 0)
        pl = p_new[psel]
        qs = q[psel]
        cos_y, sin_y = np.cos(yaw), np.sin(yaw)
        px = qs[:, 0].astype(np.float64)
        py = qs[:, 1].astype(np.float64)
        u = px * cos_y[pl] + py * sin_y[pl]
        w = -px * sin_y[pl] + py * cos_y[pl]
        bounds = _segment_bounds(pl, k, u, w)
        ext_u = bounds[:, 1] - bounds[:, 0]
        ext_w = bounds[:, 3] - bounds[:, 2]
        mid_u = (bounds[:, 0] + bounds[:, 1]) / 2
        mid_w = (bounds[:, 2] + bounds[:, 3]) / 2
        swap = ext_w > ext_u  # length is the longer side
        length = np.where(swap, ext_w, ext_u)
        width = np.where(swap, ext_u, ext_w)
        box_yaw = np.where(swap, yaw + math.pi / 2, yaw)
        box_yaw = np.where(box_yaw > math.pi / 2, box_yaw - math.pi, box_yaw)
        cx = mid_u * cos_y - mid_w * sin_y
        cy = mid_u * sin_y + mid_w * cos_y
        bottom = np.minimum(ground_z[keep_lab], lo[keep_lab, 2])
        top = hi[keep_lab, 2].astype(np.float64)
        height = top - bottom
        sizes = np.column_stack([length, width, height])
        centers = np.column_stack([cx, cy, (top + bottom) / 2])
        # Shape cues: how long the top third is (a rider or a head is short, a car's
        # cabin long), and whether the top is cut off by the sensor's upper beam.
        top_pt = qs[:, 2] >= (top - height / 3.0)[pl]
        along = np.where(swap[pl], w, u)
        tb = _segment_bounds(pl[top_pt], k, along[top_pt])
        top_frac = (tb[:, 1] - tb[:, 0]) / np.maximum(length, 1e-6)
        # Solid objects (car bodies) return from their outline; bushes, bike racks
        # and groups of parked motorcycles fill their box: share of low points near an edge.
        low = qs[:, 2] < (bottom + 0.6 * height)[pl]
        edge_d = np.minimum(np.minimum(u - bounds[pl, 0], bounds[pl, 1] - u),
                            np.minimum(w - bounds[pl, 2], bounds[pl, 3] - w))
        n_low = np.bincount(pl[low], minlength=k)
        edge_frac = np.bincount(pl[low], weights=(edge_d[low] <= cfg.edge_band_m),
                                minlength=k) / np.maximum(n_low, 1)
        edge_frac[n_low == 0] = 1.0
        truncated = np.zeros(k, dtype=bool)  # unknown field of view: nothing judged cut off
        if cfg.sensor_top_elevation_deg is not None and math.isfinite(
                cfg.sensor_top_elevation_deg):
            slope = qs[:, 2] / np.sqrt(np.maximum(qs[:, 0] ** 2 + qs[:, 1] ** 2, 1e-6))
            top_slope = np.full(k, -np.inf, dtype=slope.dtype)  # ufunc.at is only fast
            np.maximum.at(top_slope, pl, slope)  # when the dtypes match
            limit = math.radians(cfg.sensor_top_elevation_deg - cfg.truncation_margin_deg)
            truncated = top_slope >= math.tan(limit)
        marks.append(time.perf_counter())

        # ---- classify
        slack = None
        if cfg.beam_gap_deg > 0.0:  # a far object's top may fall between two beams
            slack = np.hypot(centers[:, 0], centers[:, 1]) * math.tan(
                math.radians(cfg.beam_gap_deg))
        prior = class_prior_scores(sizes, cfg.class_priors, top_frac, truncated, edge_frac,
                                   slack)
        names = list(cfg.class_priors)
        if names:
            best = np.argmax(prior, axis=1)
            best_score = prior[np.arange(k), best]
            known = best_score >= cfg.min_class_score
            classes = [names[b] if ok else "unknown" for b, ok in zip(best, known, strict=True)]
            scores = np.where(known, best_score, 1.0 - best_score)
        else:
            classes, scores = ["unknown"] * k, np.zeros(k)
        few = n_pts[keep_lab] < cfg.min_class_points
        for j in np.flatnonzero(few):
            if classes[j] != "unknown":
                classes[j] = "unknown"
                scores[j] = 1.0 - scores[j]
        want_features = bool(cfg.gate_weights) or cfg.return_features
        feats = (self._features(pl, k, n_pts[keep_lab], centers, sizes, top_frac, edge_frac,
                                lo[keep_lab, 2] - ground_z[keep_lab], q_int[psel],
                                q_road[psel], classes, scores, top_pt)
                 if want_features else None)
        long_ok = length <= cfg.max_object_length_m
        if cfg.reject_structure:
            n_sel = np.maximum(np.bincount(pl, minlength=k), 1)
            road_level = q_road[psel]
            near_road = np.bincount(pl, weights=road_level >= 1, minlength=k) > 0
            on_road = np.bincount(pl, weights=road_level >= 2, minlength=k) / n_sel
            cls = np.array(classes)
            unknown = cls == "unknown"
            # what does not touch the road or its margin is dropped (a large object's
            # cells are not road, and its far side is in its shadow); an unknown shape
            # must stand on the road itself
            off_road = (~near_road & ~np.isin(cls, list(cfg.off_road_classes))) | (
                np.isin(cls, list(cfg.on_road_classes)) & (on_road < 0.5))
            # walls and fences: a long flat face; one longer than a truck's rear and not
            # standing on the road itself passes for a truck's side but is not one
            flat_face = width < cfg.structure_max_width_m
            thin = flat_face & ((unknown & (length > cfg.structure_min_length_m))
                                | ((cls == "truck") & (length > 3.0) & (on_road < 0.5)))
            gap = lo[keep_lab, 2] - ground_z[keep_lab]
            hanging = unknown & (gap > cfg.structure_max_gap_m)
            # poles, trunks, posts (tall, small footprint) and bollards, litter, kerb
            # stones (low, small): an unknown obstacle must be something to drive into
            small = length < cfg.structure_pole_footprint_m
            pole = unknown & small & (height > cfg.structure_pole_min_height_m)
            # returns thin out with range squared: a far car has ~20 points at 40 m
            r2 = np.maximum(centers[:, 0] ** 2 + centers[:, 1] ** 2, 1.0)
            min_pts = np.maximum(cfg.min_cluster_points, cfg.structure_min_points
                                 * cfg.structure_min_points_range_m ** 2 / r2)
            clutter = unknown & ((small & (height < cfg.structure_clutter_max_height_m))
                                 | (n_pts[keep_lab] < min_pts))
            # bollards, delineator posts, signs: retroreflective sheeting returns far more
            # of the beam than skin, cloth or a bicycle do
            signs = np.zeros(k, dtype=bool)
            if cfg.reflector_min_intensity > 0.0:
                i_mean = np.bincount(pl, weights=q_int[psel], minlength=k) / n_sel
                signs = (np.isin(cls, ("pedestrian", "cyclist", "unknown"))
                         & (length < cfg.structure_pole_footprint_m * 1.5)
                         & (i_mean >= cfg.reflector_min_intensity))
            long_ok &= ~(off_road | thin | hanging | pole | clutter | signs)
        if cfg.gate_weights and feats is not None:
            gated = np.isin(np.array(classes), list(cfg.gate_classes))
            long_ok &= ~gated | (gate_probability(feats, cfg) >= cfg.gate_threshold)
        if cfg.complete_car_boxes:
            is_car = np.array([c == "car" for c in classes]) & long_ok
            if is_car.any():
                _complete_car_boxes(centers, sizes, box_yaw, is_car, cfg.car_typical_size_m)
        if cfg.car_fragment_margin_m > 0.0:
            long_ok &= ~_car_fragments(centers, sizes, box_yaw, classes, long_ok,
                                       cfg.car_fragment_margin_m)
        members: list[np.ndarray | None] = [None] * k
        if cfg.return_point_indices:
            o = np.argsort(pl, kind="stable")
            split = np.searchsorted(pl[o], np.arange(1, k))
            members = list(np.split(idx[oi[psel[o]]], split))
        objects = [
            Object3D(center_m=centers[j], size_m=sizes[j], yaw_rad=float(box_yaw[j]),
                        class_name=classes[j], score=float(scores[j]),
                        point_count=int(n_pts[keep_lab[j]]), point_indices=members[j],
                        features=feats[j] if cfg.return_features and feats is not None
                        else None)
            for j in range(k) if long_ok[j]
        ]
        marks.append(time.perf_counter())
        return result(objects, plane, n_ground, n_vox, n_lab)


def gate_probability(features: np.ndarray, config: LidarDetectorConfig) -> np.ndarray:
    """Road-user probability per cluster from the configured logistic gate."""
    w = np.asarray(config.gate_weights, dtype=np.float64)
    z = (features - np.asarray(config.gate_mean)) / np.asarray(config.gate_scale)
    return 1.0 / (1.0 + np.exp(-(z @ w[:-1] + w[-1])))


def transform_objects(objects: Sequence[Object3D],
                      T_target_from_lidar: np.ndarray) -> list[Object3D]:
    """Move objects into a target frame given the 4x4 transform target <- lidar.

    Centres are transformed; yaw is the heading of the box's length axis
    after rotation, projected onto the target's xy plane, so the target frame
    should have z up (base_link, odom, map), not a camera optical frame.
    Sizes and point indices are unchanged.
    """
    T = np.asarray(T_target_from_lidar, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError(f"T_target_from_lidar must be 4x4, got shape {T.shape}")
    R, t = T[:3, :3], T[:3, 3]
    out = []
    for obj in objects:
        heading = R @ np.array([math.cos(obj.yaw_rad), math.sin(obj.yaw_rad), 0.0])
        yaw = math.atan2(heading[1], heading[0])
        if yaw > math.pi / 2:
            yaw -= math.pi
        elif yaw <= -math.pi / 2:
            yaw += math.pi
        out.append(replace(obj, center_m=R @ np.asarray(obj.center_m, np.float64) + t,
                           yaw_rad=yaw))
    return out
