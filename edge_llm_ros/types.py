"""One plain-Python record per concept the package passes around (no rclpy here).

Each mirrors the ROS message of the same name in msg/ field for field (plus a
few extras a message does not carry, marked as such), so the core stays
importable and testable without ROS and edge_llm_ros/nodes/convert.py converts
without thinking. Node modules refer to the messages as `msg.X` so the names
never clash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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

# Decision.ACTION_* in index order: the name at index i is ACTION_<NAME> = i.
ACTION_NAMES: tuple[str, ...] = (
    "keep_lane", "slow_down", "stop", "yield", "change_lane_left", "change_lane_right",
    "pull_over",
)
ACTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(ACTION_NAMES)}

# Decision.SOURCE_*.
SOURCE_ONBOARD_MODEL = 0
SOURCE_FALLBACK_RULE = 1
SOURCE_REMOTE_INFORMED = 2
SOURCE_NAMES = {SOURCE_ONBOARD_MODEL: "model", SOURCE_FALLBACK_RULE: "fallback",
                SOURCE_REMOTE_INFORMED: "remote_informed"}

# RemotePlan.STATUS_*.
STATUS_OK, STATUS_BUSY, STATUS_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Detection2D:
    """One camera detection; box corners in source-image pixels."""

    class_id: int  # index into the model's class list
    class_name: str  # after the detector's class map
    score: float  # 0..1
    box_px: tuple[float, float, float, float] | np.ndarray  # x_min, y_min, x_max, y_max


@dataclass(frozen=True)
class Object3D:
    """One 3D object: an oriented box with a class guess, in the frame of its source.

    `size_m` is length (along `yaw_rad`), width, height; yaw is about +z from +x
    (the lidar detector keeps it in (-pi/2, pi/2]: a box alone says nothing about
    heading). `score` is the class confidence (0..1). `point_indices` (not in the
    message, optional) index the points given to the lidar detector; `features` are
    its per-cluster gate features when asked for (perception.lidar.CLUSTER_FEATURES).
    """

    center_m: tuple[float, float, float] | np.ndarray
    size_m: tuple[float, float, float] | np.ndarray
    yaw_rad: float
    class_name: str
    score: float
    point_count: int = 0
    point_indices: np.ndarray | None = None
    features: np.ndarray | None = None  # not in the message: the lidar gate's cluster features

    def corners(self) -> np.ndarray:
        """(8, 3) box corners: bottom face then top face, counter-clockwise from above."""
        length, width, height = self.size_m
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        fx = np.array([1, -1, -1, 1, 1, -1, -1, 1]) * length / 2
        fy = np.array([1, 1, -1, -1, 1, 1, -1, -1]) * width / 2
        fz = np.array([-1, -1, -1, -1, 1, 1, 1, 1]) * height / 2
        return np.column_stack([self.center_m[0] + c * fx - s * fy,
                                self.center_m[1] + s * fx + c * fy, self.center_m[2] + fz])


@dataclass
class EgoState:
    speed_mps: float = 0.0
    acceleration_mps2: float = 0.0
    yaw_rate_radps: float = 0.0
    speed_limit_mps: float = 0.0  # 0 when unknown
    lane_index: int = -1  # from the right-most lane (0); -1 unknown
    lanes_left_our_way: int = -1  # lanes left of the ego lane going our way; -1 unknown


@dataclass
class TrackedObject:
    """In base_link at the summary stamp (x forward, y left, z up)."""

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
class StageLatency:
    """pipeline_latency_ms is NaN when the stage's output time is unknown."""

    stage: str
    processing_time_ms: float
    pipeline_latency_ms: float


@dataclass
class SceneSummary:
    """header.stamp = stamp_ns, frame_id "base_link"."""

    stamp_ns: int
    ego: EgoState
    objects: list[TrackedObject] = field(default_factory=list)
    perception_mode: str = MODE_NONE
    camera_fresh: bool = False
    lidar_fresh: bool = False
    odometry_fresh: bool = False
    stage_latencies: list[StageLatency] = field(default_factory=list)


@dataclass
class Decision:
    """stamp_ns is the scene's (sensor) stamp; `action` is a name from ACTION_NAMES."""

    stamp_ns: int
    action: str
    target_speed_mps: float
    driver_object_ids: list[int] = field(default_factory=list)
    rationale: str = ""
    source: int = SOURCE_FALLBACK_RULE
    fallback_reason: str = ""
    deadline_ms: float = 0.0
    latency_ms: float = 0.0
    remote_plan_id: str = ""
    # Not in the message: where the time went (bench, eval, decide --json).
    settled_ms: float = float("nan")  # scene in -> action settled by the model
    generated_tokens: int = 0

    @property
    def action_index(self) -> int:
        return ACTION_INDEX[self.action]

    def to_dict(self) -> dict:
        return {
            "stamp_ns": self.stamp_ns, "action": self.action,
            "target_speed_mps": round(float(self.target_speed_mps), 2),
            "driver_object_ids": list(self.driver_object_ids), "rationale": self.rationale,
            "source": SOURCE_NAMES[self.source], "fallback_reason": self.fallback_reason,
            "deadline_ms": self.deadline_ms, "latency_ms": round(self.latency_ms, 2),
            "settled_ms": None if self.settled_ms != self.settled_ms else round(self.settled_ms, 2),
            "generated_tokens": self.generated_tokens, "remote_plan_id": self.remote_plan_id,
        }


@dataclass(frozen=True)
class PlannedStep:
    action: int  # ACTION_INDEX value (Decision.ACTION_*)
    target_speed_mps: float
    duration_s: float


@dataclass
class RemotePlan:
    """The remote planner's answer; untrusted on board until validated (reasoning.advice)."""

    request_id: str
    vehicle_id: str
    status: int  # STATUS_*
    stamp_ns: int  # the request's scene stamp
    request_sent_at_ns: int  # the request's sent_at, echoed (vehicle clock)
    steps: Sequence[PlannedStep] = field(default_factory=list)
    rationale: str = ""
    time_to_live_s: float = 0.0
    remote_compute_ms: float = 0.0
    model_id: str = ""


@dataclass(frozen=True)
class PlanRequest:
    """What the remote planner needs of a PlanRequest (the keyframe is checked by the node)."""

    request_id: str
    vehicle_id: str
    scene: SceneSummary
    instruction: str
    planning_deadline_ms: float
    sent_at_ns: int  # vehicle clock
    received_ns: int  # remote clock (not in the message)
    payload_tier: int = 0
    keyframe_note: str = ""  # what the keyframe held (or why it was unusable), for the rationale
