"""Scene fusion settings, with defaults that match the built-in simulator.

Durations are milliseconds (as ROS parameters are), distances metres, speeds
metres/second. Extrinsics are 4x4 homogeneous transforms `T_a_from_b` that
take points in frame b to frame a; the node fills them from its parameters or
TF, the defaults are the simulator's mounts (edge_llm_ros.sim.rig).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_llm_ros.fusion.association import DEFAULT_CLASS_GROUPS
from edge_llm_ros.params.specs import default_of

# Class sizes (length, width, height) for camera-only objects, which have no
# metric extent of their own: the simulator's ground-truth boxes.
DEFAULT_SIZES_M: dict[str, tuple[float, float, float]] = {
    "car": (4.5, 1.8, 1.5),
    "pedestrian": (0.6, 0.6, 1.75),
    "cyclist": (1.8, 0.6, 1.7),
    "truck": (8.0, 2.5, 3.2),
    "bus": (12.0, 2.5, 3.2),
    "motorcycle": (2.1, 0.8, 1.5),
}
UNKNOWN_SIZE_M = (1.0, 1.0, 1.5)

# Detector class names mapped onto the names TrackedObject uses (COCO "person").
DEFAULT_CLASS_ALIASES: dict[str, str] = {"person": "pedestrian", "bicycle": "cyclist",
                                         "motorbike": "motorcycle"}


def _d(name: str) -> Any:
    """The scene_fusion spec's default of a parameter (declared once, there)."""
    return default_of("scene_fusion", name)


def _transform_default(name: str) -> np.ndarray:
    return np.asarray(_d(name), dtype=float).reshape(4, 4)


def as_transform(value: Any, name: str) -> np.ndarray:
    """A rigid 4x4 transform from a (4,4) array or 16 row-major numbers (a ROS parameter)."""
    t = np.asarray(value, dtype=float)
    if t.size != 16:
        raise ValueError(f"{name} must be 4x4 (or 16 row-major numbers), got shape {t.shape}")
    t = t.reshape(4, 4).copy()
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} has non-finite entries")
    if not np.allclose(t[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError(f"{name} last row must be 0 0 0 1, got {t[3].tolist()}")
    r = t[:3, :3]
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0.0:
        raise ValueError(f"{name} rotation is not a proper rotation matrix")
    t.flags.writeable = False
    return t


@dataclass(frozen=True, eq=False)  # eq=False: numpy fields make field-wise == ambiguous
class FusionConfig:
    """Every knob of scene fusion; defaults fit the built-in simulator at 10 Hz. Knobs that
    are scene_fusion node parameters take their defaults from its spec."""

    # --- freshness and timing
    camera_freshness_ms: float = _d("camera_freshness_ms")  # older at summary time: stale
    lidar_freshness_ms: float = _d("lidar_freshness_ms")  # ditto lidar; ~3 sweeps at 10 Hz
    odometry_freshness_ms: float = _d("odometry_freshness_ms")  # ditto odometry
    sync_tolerance_ms: float = _d("sync_tolerance_ms")  # frame/sweep pairing
    max_future_ms: float = _d("max_future_ms")  # ahead of now: rejected
    odometry_history_s: float = 5.0  # ego poses kept for motion compensation
    time_jump_reset_ms: float = 3000.0  # a stamp this far behind its stream resets all; 0: never

    # --- calibration (4x4, T_a_from_b maps points in b to a)
    T_camera_from_lidar: np.ndarray = field(
        default_factory=lambda: _transform_default("camera_from_lidar"))
    T_base_from_lidar: np.ndarray = field(
        default_factory=lambda: _transform_default("base_from_lidar"))

    # --- camera <-> lidar association
    association_min_iou: float = _d("association_min_iou")  # lidar box vs camera box
    class_groups: tuple[frozenset[str], ...] = DEFAULT_CLASS_GROUPS
    class_aliases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CLASS_ALIASES))
    camera_class_weight: float = 3.0  # a camera label counts this much more than a lidar guess
    camera_confirm_range_m: float = _d("camera_confirm_range_m")  # 0: off
    camera_confirm_corridor_m: float = _d("camera_confirm_corridor_m")

    # --- measurement noise (1 sigma)
    lidar_position_std_m: float = 0.25  # cluster centre noise
    camera_range_rel_std: float = 0.08  # flat-ground range error, fraction of the range
    camera_range_min_std_m: float = 0.5
    camera_lateral_std_m: float = 0.3
    camera_only_max_range_m: float = 80.0  # flat-ground ranges beyond this are not trusted
    default_sizes_m: Mapping[str, tuple[float, float, float]] = field(
        default_factory=lambda: dict(DEFAULT_SIZES_M))

    # --- tracker
    confirm_hits: int = _d("confirm_hits")  # a track is reported after this many updates
    max_misses: int = _d("max_misses")  # confirmed track: dies
    tentative_max_misses: int = 2  # an unconfirmed track dies sooner
    max_coast_ms: float = 1000.0  # any track dies this long after its last update
    gate_chi2: float = 11.83  # Mahalanobis gate, chi-square 2 dof at 99.73 % (3 sigma)
    max_gate_distance_m: float = 8.0  # and never further than this, however uncertain
    accel_std_mps2: float = 2.0  # process noise (white acceleration) of the constant-velocity model
    init_velocity_std_mps: float = 10.0  # velocity uncertainty of a new track
    class_mismatch_cost: float = 4.0  # added to the distance when class families differ
    size_smoothing: float = 0.3  # exponential smoothing factor for size, yaw, height
    confidence_smoothing: float = 0.5
    miss_confidence_decay: float = 0.85

    # --- ego vehicle and road
    ego_length_m: float = 4.5
    ego_width_m: float = _d("ego_width_m")
    ego_front_m: float = _d("ego_front_m")  # rear axle to bumper
    lane_width_m: float = _d("lane_width_m")
    lanes_left: int = 1  # lanes known to exist left / right of the ego lane (no map)
    lanes_right: int = 1
    corridor_margin_m: float = 0.3  # added to each side of the ego width for TTC
    use_path_curvature: bool = True  # bend the path by yaw_rate / speed
    curvature_min_speed_mps: float = 1.0  # below this the path is straight (yaw_rate/v blows up)
    max_curvature_1pm: float = 0.2

    # --- time to collision
    min_closing_speed_mps: float = 0.1
    min_lateral_speed_mps: float = 0.3  # lateral motion below this is noise
    lateral_horizon_s: float = 5.0  # lateral entry/exit predicted no further ahead than this

    # --- output
    max_objects: int = _d("max_objects")

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **core: Any) -> FusionConfig:
        """From a scene_fusion node's parameters (ValueError names a bad one), plus
        core-only fields."""
        camera_from_lidar = as_transform(params["camera_from_lidar"], "camera_from_lidar")
        base_from_lidar = as_transform(params["base_from_lidar"], "base_from_lidar")
        if params["lidar_objects_frame"] == "base_link":
            # objects already in base_link: the 'lidar' frame is base_link itself
            camera_from_lidar = camera_from_lidar @ np.linalg.inv(base_from_lidar)
            base_from_lidar = np.eye(4)
        names = ("camera_freshness_ms", "lidar_freshness_ms", "odometry_freshness_ms",
                 "sync_tolerance_ms", "max_future_ms", "association_min_iou", "confirm_hits",
                 "camera_confirm_range_m", "camera_confirm_corridor_m", "max_misses",
                 "ego_front_m", "ego_width_m", "lane_width_m", "max_objects")
        return cls(T_camera_from_lidar=camera_from_lidar, T_base_from_lidar=base_from_lidar,
                   **{name: params[name] for name in names}, **core)

    def __post_init__(self) -> None:
        object.__setattr__(self, "T_camera_from_lidar",
                           as_transform(self.T_camera_from_lidar, "T_camera_from_lidar"))
        object.__setattr__(self, "T_base_from_lidar",
                           as_transform(self.T_base_from_lidar, "T_base_from_lidar"))
        object.__setattr__(self, "class_groups",
                           tuple(frozenset(c.lower() for c in g) for g in self.class_groups))
        positive = ("camera_freshness_ms", "lidar_freshness_ms", "odometry_freshness_ms",
                    "max_coast_ms", "gate_chi2", "max_gate_distance_m", "accel_std_mps2",
                    "init_velocity_std_mps", "lidar_position_std_m", "camera_range_min_std_m",
                    "camera_lateral_std_m", "camera_only_max_range_m", "ego_length_m",
                    "ego_width_m", "lane_width_m", "lateral_horizon_s", "odometry_history_s")
        for name in positive:
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"{name} must be a finite number > 0, got {v}")
        non_negative = ("sync_tolerance_ms", "max_future_ms", "camera_range_rel_std",
                        "class_mismatch_cost", "corridor_margin_m", "curvature_min_speed_mps",
                        "max_curvature_1pm", "min_closing_speed_mps", "min_lateral_speed_mps",
                        "camera_class_weight", "time_jump_reset_ms", "camera_confirm_range_m",
                        "camera_confirm_corridor_m")
        for name in non_negative:
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        for name in ("size_smoothing", "confidence_smoothing", "miss_confidence_decay"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {v}")
        if not 0.0 <= self.association_min_iou <= 1.0:
            raise ValueError(f"association_min_iou must be in [0, 1], got "
                             f"{self.association_min_iou}")
        for name in ("confirm_hits", "max_misses", "tentative_max_misses", "max_objects"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lanes_left < 0 or self.lanes_right < 0:
            raise ValueError("lanes_left and lanes_right must be >= 0")

    def size_for(self, class_name: str) -> tuple[float, float, float]:
        return self.default_sizes_m.get(class_name, UNKNOWN_SIZE_M)
