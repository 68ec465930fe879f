"""Built-in driving simulator: the CI and demo sensor source (no ROS inside).

MuJoCo holds the world (road, ego vehicle, scripted road users), renders the
camera and, through mujoco-lidar, casts the lidar sweep; ground truth of every
object comes with each frame. `edge_llm_ros.nodes.simulator` puts it on topics.

Headless rendering needs an OpenGL backend chosen before mujoco is imported,
so this package defaults MUJOCO_GL to "egl" (Mesa llvmpipe works on CPUs).
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")

# Submodules load on first use (PEP 562), so `edge_llm_ros.sim.rig` (numpy only) can be
# imported by parameter and fusion code without loading MuJoCo.
_EXPORTS = {
    "ACTOR_CLASSES": "scenario", "DEFAULT_SIZES_M": "scenario", "Scenario": "scenario",
    "ScenarioError": "scenario", "list_scenarios": "scenario", "load_scenario": "scenario",
    "scenario_from_dict": "scenario", "CameraConfig": "sensors", "CameraModel": "sensors",
    "LidarConfig": "sensors", "LidarModel": "sensors", "GroundTruthObject": "simulator",
    "SimFrame": "simulator", "Simulator": "simulator",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edge_llm_ros.sim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"edge_llm_ros.sim.{module}"), name)


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
