"""What a user looks at: the pipeline's messages turned into visualisation.

3D boxes and text as visualization_msgs/MarkerArray, the camera image annotated with
2D detections, projected fused boxes and the decision, as sensor_msgs/Image; types
Foxglove and RViz both read. A functional core without rclpy: `edge-llm-ros view`
runs it on a recorded bag, the foxglove_viz node on a running pipeline.
"""

from edge_llm_ros.viz.boxes import VizBox, boxes_from_objects, boxes_from_scene, decision_text
from edge_llm_ros.viz.visualizer import INPUT_SUFFIXES, VIZ_TOPICS, Visualizer, VizOutput

__all__ = [
    "INPUT_SUFFIXES",
    "VIZ_TOPICS",
    "VizBox",
    "VizOutput",
    "Visualizer",
    "boxes_from_objects",
    "boxes_from_scene",
    "decision_text",
]
