"""The one list of node kinds: where each class lives and what role it plays.

Parameters come from `edge_llm_ros.params.specs.NODE_SPECS` (one declaration per
parameter); executables in `scripts/nodes/` are named after the kinds here and all
run `main_for`; the runner starts kinds in the order given here. Class paths are
strings, so reading this table imports neither rclpy nor any node.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Roles: sources publish sensor data (simulator, bag replay; real drivers on a
#: vehicle), onboard nodes run on the vehicle, remote ones on the remote host, and
#: tool nodes exist for labs and benchmarks only.
SOURCE, ONBOARD, REMOTE, RECORDER, TOOL = "source", "onboard", "remote", "recorder", "tool"


@dataclass(frozen=True)
class NodeKind:
    kind: str
    class_path: str  # "module:Class"
    role: str


NODE_KINDS: tuple[NodeKind, ...] = (
    NodeKind("simulator", "edge_llm_ros.nodes.simulator:SimulatorNode", SOURCE),
    NodeKind("bag_replay", "edge_llm_ros.nodes.bag_replay:BagReplayNode", SOURCE),
    NodeKind("bag_recorder", "edge_llm_ros.nodes.bag_recorder:BagRecorderNode", RECORDER),
    NodeKind("foxglove_viz", "edge_llm_ros.nodes.foxglove_viz:FoxgloveVizNode", RECORDER),
    NodeKind("camera_detector", "edge_llm_ros.nodes.camera_detector:CameraDetectorNode",
             ONBOARD),
    NodeKind("lidar_detector", "edge_llm_ros.nodes.lidar_detector:LidarDetectorNode", ONBOARD),
    NodeKind("scene_fusion", "edge_llm_ros.nodes.scene_fusion:SceneFusionNode", ONBOARD),
    NodeKind("reasoner", "edge_llm_ros.nodes.reasoner:ReasonerNode", ONBOARD),
    NodeKind("instruction_interpreter",
             "edge_llm_ros.nodes.instruction_interpreter:InstructionInterpreterNode", ONBOARD),
    NodeKind("scene_player", "edge_llm_ros.tools.nodes.scene_player:ScenePlayerNode", TOOL),
    NodeKind("offload_manager", "edge_llm_ros.nodes.offload_manager:OffloadManagerNode",
             ONBOARD),
    NodeKind("remote_planner", "edge_llm_ros.nodes.remote_planner:RemotePlannerNode", REMOTE),
)
BY_KIND: dict[str, NodeKind] = {k.kind: k for k in NODE_KINDS}
ONBOARD_NODES: tuple[str, ...] = tuple(k.kind for k in NODE_KINDS if k.role == ONBOARD)


def node_class(kind: str) -> Any:
    """The node class of a kind (imports its module); KeyError names the known kinds."""
    try:
        module_name, class_name = BY_KIND[kind].class_path.split(":")
    except KeyError:
        raise KeyError(f"unknown node '{kind}'; known: {', '.join(BY_KIND)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def main_for(executable: str, args: list[str] | None = None) -> int:
    """main() of every executable in scripts/nodes/: the file's name is the node kind."""
    from edge_llm_ros.nodes.base import run_single_node

    kind = Path(executable).name
    cls = node_class(kind)
    return run_single_node(lambda: cls(), args, kind)
