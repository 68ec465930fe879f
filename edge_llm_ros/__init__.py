"""edge_llm_ros: on-board language reasoning for vehicles on ROS 2.

Everything here but `edge_llm_ros.nodes` (and the generated `edge_llm_ros.msg`)
is plain Python with no rclpy import, so it runs and tests without ROS.
"""

__version__ = "0.1.0"
