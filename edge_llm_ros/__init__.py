"""edge_llm_ros: on-board language reasoning for vehicles on ROS 2.

Everything here but `edge_llm_ros.nodes` (and the generated `edge_llm_ros.msg`)
is plain Python with no rclpy import, so it runs and tests without ROS.
"""

from pkgutil import extend_path

# The generated `edge_llm_ros.msg` lives only in the colcon install; when the
# source tree is imported first (python -m from the repository, an editable
# pip install), the install's package directory still provides it.
__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
