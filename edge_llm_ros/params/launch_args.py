"""Launch arguments: the ones several launch files share (declared once here),
and launch arguments turned into typed, checked parameter values.

Shared by the launch files. `launch` itself is not installable here, so this
module imports it only inside the functions that build launch actions; the rest
is plain Python, tested directly (and read by the static launch-file checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from edge_llm_ros.params.core import ConfigError, ParamValue, coerce_value
from edge_llm_ros.params.specs import node_spec


def as_bool(argument: str, text: str) -> bool:
    """A true/false launch argument, spelled the ways launch conditions accept."""
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ConfigError(f"launch argument {argument}:={text!r} must be true or false")


def typed_overrides(node_kind: str, values: dict[str, tuple[str, str]]) -> dict[str, ParamValue]:
    """Parameters set by launch arguments ({parameter: (argument, text)}), typed by the spec.

    An empty argument is left out, so the parameter files keep their value.
    """
    specs = {spec.name: spec for spec in node_spec(node_kind)}
    overrides: dict[str, ParamValue] = {}
    for param, (argument, text) in values.items():
        if text == "":
            continue
        spec = specs[param]
        try:
            raw = text if spec.element_type is str else yaml.safe_load(text)
            overrides[param] = coerce_value(spec, raw, node_kind)
        except (ConfigError, yaml.YAMLError) as exc:
            raise ConfigError(f"launch argument {argument}:={text!r}: {exc}") from exc
    return overrides


@dataclass(frozen=True)
class SharedArgument:
    """A launch argument several launch files declare the same way."""

    name: str
    description: str
    default: str = ""
    #: Default as a file in this package's share directory, e.g. ("config", "bag.yaml").
    share_default: tuple[str, ...] = ()


#: Arguments of the pipeline launch files: the including files forward them to
#: vehicle.launch.py unchanged. (vehicle.launch.py's own use_sim_time differs: auto.)
SHARED_ARGUMENTS: dict[str, SharedArgument] = {a.name: a for a in (
    SharedArgument("config", "Parameter file of the on-board nodes (its /** section applies "
                   "to every edge_llm_ros node, the sensor sources included).",
                   share_default=("config", "vehicle.yaml")),
    SharedArgument("namespace", "ROS namespace of the vehicle: its sensor topics and every "
                   "node."),
    SharedArgument("use_sim_time", "Pipeline nodes follow the sensor source's time on /clock.",
                   default="true"),
    SharedArgument("autostart", "Bring the managed nodes (those that load a model: "
                   "camera_detector, reasoner, remote_planner) to active: configure (load and "
                   "warm the model), then activate. false leaves them unconfigured for a "
                   "lifecycle manager (<node>/change_state).", default="true"),
    SharedArgument("record", "Record the run's topics (sensors and pipeline outputs) to a new "
                   "rosbag2 bag with bag_recorder.", default="false"),
    SharedArgument("record_path", "Bag directory to create when record:=true; must not exist. "
                   "Empty: edge_llm_ros_<date>-<time> in the working directory."),
    SharedArgument("bag_config", "Parameter file of bag_replay and bag_recorder.",
                   share_default=("config", "bag.yaml")),
    SharedArgument("foxglove", "Start foxglove_viz: a live Foxglove WebSocket view of the run "
                   "(connect Foxglove to ws://<host>:<port>; host, port and the rest are its "
                   "parameters, from the /**/foxglove_viz section of `config`).",
                   default="false"),
)}

#: What a launch file that includes vehicle.launch.py declares and passes on to it.
PIPELINE_ARGUMENTS: tuple[str, ...] = (
    "config", "namespace", "use_sim_time", "autostart", "record", "record_path", "bag_config",
    "foxglove",
)

#: Parameters a launch file gives a managed node it starts as launch_ros
#: LifecycleNode: launch drives the transitions (its autostart), so the node must
#: not bring itself up as well.
LAUNCH_DRIVES_LIFECYCLE: dict[str, bool] = {"autostart": False}


VIEWER_EXTRINSICS = ("camera_from_lidar", "base_from_lidar")


def viewer_extrinsics(config: str) -> dict[str, ParamValue]:
    """foxglove_viz's camera <- lidar and base <- lidar: scene_fusion's in `config`, so a
    vehicle's calibration is written once (in scene_fusion's section) and the projected
    boxes in the viewer land where fusion put them."""
    from edge_llm_ros.params.specs import node_defaults

    fusion = node_defaults("scene_fusion", config or None)
    return {name: fusion[name] for name in VIEWER_EXTRINSICS}


def declare_shared_arguments(*names: str) -> list[Any]:
    """DeclareLaunchArgument actions for SHARED_ARGUMENTS, by name."""
    from launch.actions import DeclareLaunchArgument
    from launch.substitutions import PathJoinSubstitution
    from launch_ros.substitutions import FindPackageShare

    actions = []
    for name in names:
        argument = SHARED_ARGUMENTS[name]
        default: Any = argument.default
        if argument.share_default:
            default = PathJoinSubstitution([FindPackageShare("edge_llm_ros"),
                                            *argument.share_default])
        actions.append(DeclareLaunchArgument(name, default_value=default,
                                             description=argument.description))
    return actions


def forward_arguments(*names: str) -> dict[str, Any]:
    """launch_arguments of an include that passes these arguments on unchanged."""
    from launch.substitutions import LaunchConfiguration

    return {name: LaunchConfiguration(name) for name in names}
