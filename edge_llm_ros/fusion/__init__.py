"""Scene fusion: lidar objects + camera detections + odometry -> SceneSummary (no ROS).

`SceneFuser` is the entry point; the node converts messages to the dataclasses
in `types` and back. Submodules: projection (3D -> image), association
(camera <-> lidar), egomotion (odometry frame), tracker (Kalman + Hungarian),
scene (path, TTC, lanes), bench (speed).
"""

from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.fusion.fuser import SceneFuser
from edge_llm_ros.fusion.types import (
    LANE_EGO,
    LANE_LEFT,
    LANE_OFF_ROAD,
    LANE_RIGHT,
    LANE_UNKNOWN,
    MODE_CAMERA_ONLY,
    MODE_FUSED,
    MODE_LIDAR_ONLY,
    MODE_NONE,
    Detection2DIn,
    EgoStateOut,
    Object3DIn,
    SceneSummaryOut,
    StageLatencyOut,
    TrackedObjectOut,
)

__all__ = [
    "LANE_EGO", "LANE_LEFT", "LANE_OFF_ROAD", "LANE_RIGHT", "LANE_UNKNOWN",
    "MODE_CAMERA_ONLY", "MODE_FUSED", "MODE_LIDAR_ONLY", "MODE_NONE",
    "Detection2DIn", "EgoStateOut", "FusionConfig", "Object3DIn", "SceneFuser",
    "SceneSummaryOut", "StageLatencyOut", "TrackedObjectOut",
]
