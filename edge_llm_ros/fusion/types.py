"""Plain-Python inputs and outputs of scene fusion.

They mirror the ROS messages field for field (TrackedObject, SceneSummary,
EgoState, StageLatency, Object3D, Detection2D) so the node converts without
thinking, while the core stays importable and testable without rclpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# TrackedObject.LANE_* (uint8).
LANE_EGO = 0
LANE_LEFT = 1
LANE_RIGHT = 2
LANE_OFF_ROAD = 3
LANE_UNKNOWN = 255

# SceneSummary.MODE_*.
MODE_FUSED = "fused"
MODE_CAMERA_ONLY = "camera_only"
MODE_LIDAR_ONLY = "lidar_only"
MODE_NONE = "none"
PERCEPTION_MODES = (MODE_FUSED, MODE_CAMERA_ONLY, MODE_LIDAR_ONLY, MODE_NONE)


@dataclass(frozen=True)
class Object3DIn:
    """One lidar object (Object3D) in the lidar frame (x forward, y left, z up)."""

    center_m: tuple[float, float, float] | np.ndarray
    size_m: tuple[float, float, float] | np.ndarray  # length (x), width (y), height (z)
    yaw_rad: float
    class_name: str
    score: float
    point_count: int = 0


@dataclass(frozen=True)
class Detection2DIn:
    """One camera detection (Detection2D); box corners in source-image pixels."""

    class_id: int
    class_name: str
    score: float
    box_px: tuple[float, float, float, float] | np.ndarray  # x_min, y_min, x_max, y_max


@dataclass
class EgoStateOut:
    """EgoState."""

    speed_mps: float = 0.0
    acceleration_mps2: float = 0.0
    yaw_rate_radps: float = 0.0
    speed_limit_mps: float = 0.0  # 0 when unknown
    lane_index: int = -1  # from the right-most lane (0); -1 unknown


@dataclass
class TrackedObjectOut:
    """TrackedObject, in base_link at the summary stamp (x forward, y left, z up)."""

    track_id: int
    class_name: str
    confidence: float
    position_m: tuple[float, float, float]
    size_m: tuple[float, float, float]  # length, width, height
    velocity_mps: tuple[float, float, float]  # absolute velocity in base_link axes
    distance_m: float  # from the ego front bumper along the path (negative: alongside/behind)
    relative_speed_mps: float  # closing speed along the path, >0 closing
    time_to_collision_s: float = math.inf
    lane_relation: int = LANE_UNKNOWN
    seen_by_camera: bool = False
    seen_by_lidar: bool = False


@dataclass
class StageLatencyOut:
    """StageLatency; pipeline_latency_ms is NaN when the stage's output time is unknown."""

    stage: str
    processing_time_ms: float
    pipeline_latency_ms: float


@dataclass
class SceneSummaryOut:
    """SceneSummary; header.stamp = stamp_ns, frame_id "base_link"."""

    stamp_ns: int
    ego: EgoStateOut
    objects: list[TrackedObjectOut] = field(default_factory=list)
    perception_mode: str = MODE_NONE
    camera_fresh: bool = False
    lidar_fresh: bool = False
    odometry_fresh: bool = False
    stage_latencies: list[StageLatencyOut] = field(default_factory=list)
