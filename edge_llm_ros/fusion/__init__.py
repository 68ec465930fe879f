"""Scene fusion: lidar objects + camera detections + odometry -> SceneSummary (no ROS).

`SceneFuser` is the entry point; the node converts messages to the records
in `edge_llm_ros.types` and back. Submodules: projection (3D -> image), association
(camera <-> lidar), egomotion (odometry frame), tracker (Kalman + Hungarian),
scene (path, TTC, lanes), bench (speed).
"""

from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.fusion.fuser import SceneFuser

__all__ = ["FusionConfig", "SceneFuser"]
