"""Built-in driving simulator: the CI and demo sensor source (no ROS inside).

MuJoCo holds the world (road, ego vehicle, scripted road users), renders the
camera and, through mujoco-lidar, casts the lidar sweep; ground truth of every
object comes with each frame. `edge_llm_ros.nodes.simulator` puts it on topics.

Headless rendering needs an OpenGL backend chosen before mujoco is imported,
so this package defaults MUJOCO_GL to "egl" (Mesa llvmpipe works on CPUs).
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from edge_llm_ros.sim.scenario import (  # noqa: E402
    ACTOR_CLASSES,
    DEFAULT_SIZES_M,
    Scenario,
    ScenarioError,
    list_scenarios,
    load_scenario,
    scenario_from_dict,
)
from edge_llm_ros.sim.sensors import CameraConfig, CameraModel, LidarConfig, LidarModel  # noqa: E402
from edge_llm_ros.sim.simulator import GroundTruthObject, SimFrame, Simulator  # noqa: E402

__all__ = [
    "ACTOR_CLASSES",
    "DEFAULT_SIZES_M",
    "CameraConfig",
    "CameraModel",
    "GroundTruthObject",
    "LidarConfig",
    "LidarModel",
    "Scenario",
    "ScenarioError",
    "SimFrame",
    "Simulator",
    "list_scenarios",
    "load_scenario",
    "scenario_from_dict",
]
