"""pip install of the edge_llm_ros library and the `edge-llm-ros` command.

colcon (ament_cmake, see CMakeLists.txt) is the build that also generates the
messages in msg/; this file lets the pure-Python core and the command line be
installed with pip, for use on files without a ROS workspace.
"""

from setuptools import find_packages, setup

setup(
    name="edge_llm_ros",
    version="0.1.0",
    description="On-board language reasoning for vehicles on ROS 2",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["edge_llm_ros", "edge_llm_ros.*"]),
    package_data={"edge_llm_ros": ["sim/scenarios/*.yaml"]},
    install_requires=["numpy", "pyyaml", "rosbags", "mcap", "mujoco", "mujoco-lidar"],
    entry_points={"console_scripts": ["edge-llm-ros = edge_llm_ros.tools.cli:main"]},
)
