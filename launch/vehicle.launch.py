"""The on-board pipeline of edge_llm_ros.

    ros2 launch edge_llm_ros vehicle.launch.py namespace:=car1
    ros2 launch edge_llm_ros vehicle.launch.py sensor_source:=simulator seed:=3
    ros2 launch edge_llm_ros vehicle.launch.py record:=true record_path:=/data/run1
    ros2 launch edge_llm_ros vehicle.launch.py foxglove:=true  # Foxglove: ws://127.0.0.1:8765
    ros2 launch edge_llm_ros vehicle.launch.py vehicle_id:=car1 offload:=false
    ros2 launch edge_llm_ros vehicle.launch.py read_instructions:=false  # the remote reads them
    ros2 launch edge_llm_ros vehicle.launch.py autostart:=false   # a lifecycle manager takes over

Sensor data comes from the vehicle's drivers (sensor_source:=none), from the built-in
simulator (sensor_source:=simulator), or from a parent launch file (replay.launch.py,
gazebo.launch.py). Every source publishes the same relative topics, so `namespace`
applies to sensors and pipeline alike.

Parameters come from files only: a launch argument left empty sets nothing, so
config/*.yaml stays the one place that holds defaults. Arguments that do set a
parameter are typed and range-checked against edge_llm_ros.params before any node
starts.

The nodes that load a model (camera_detector, reasoner, instruction_interpreter) are
lifecycle nodes: launch
configures and activates them (autostart:=false leaves them unconfigured).
"""

from __future__ import annotations

import os
import time

from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node, PushRosNamespace, SetParameter
from launch_ros.substitutions import FindPackageShare

from edge_llm_ros.params.launch_args import (
    LAUNCH_DRIVES_LIFECYCLE,
    as_bool,
    declare_shared_arguments,
    typed_overrides,
    viewer_extrinsics,
)


def _onboard_nodes(config: str, camera_model: str, reasoner_model: str,
                   reasoner_backend: str, instruction: str, offload: bool,
                   vehicle_id: str, autostart: bool, read_instructions: bool,
                   source_config: str = "") -> list[Node]:
    """The on-board pipeline, in data-flow order; use_sim_time comes from the group.

    Adding a node is one block here. `executable` and `name` are both the node kind,
    whose section in config/vehicle.yaml is `/**/<kind>` (test/launch checks both).
    Nodes that load a model are LifecycleNode, brought to active when `autostart`.
    `source_config` (the simulator's file with sensor_source:=simulator) goes to the
    camera_detector too: it names the simulator-trained camera model.
    """
    camera_overrides = typed_overrides(
        "camera_detector", {"model_path": ("camera_model", camera_model)}
    )
    camera_files = [config, source_config] if source_config else [config]
    nodes: list[Node] = []
    nodes.append(
        LifecycleNode(
            package="edge_llm_ros",
            executable="camera_detector",
            name="camera_detector",
            namespace="",
            parameters=[*camera_files, camera_overrides, LAUNCH_DRIVES_LIFECYCLE],
            autostart=autostart,
            output="screen",
        )
    )
    nodes.append(
        Node(
            package="edge_llm_ros",
            executable="lidar_detector",
            name="lidar_detector",
            parameters=[config],
            output="screen",
        )
    )
    nodes.append(
        Node(
            package="edge_llm_ros",
            executable="scene_fusion",
            name="scene_fusion",
            parameters=[config],
            output="screen",
        )
    )
    reasoner_overrides = typed_overrides(
        "reasoner",
        {
            "model.path": ("reasoner_model", reasoner_model),
            "model.backend": ("reasoner_backend", reasoner_backend),
            "instruction": ("instruction", instruction),
        },
    )
    nodes.append(
        LifecycleNode(
            package="edge_llm_ros",
            executable="reasoner",
            name="reasoner",
            namespace="",
            parameters=[config, reasoner_overrides, LAUNCH_DRIVES_LIFECYCLE],
            autostart=autostart,
            output="screen",
        )
    )
    if read_instructions:
        nodes.append(
            LifecycleNode(
                package="edge_llm_ros",
                executable="instruction_interpreter",
                name="instruction_interpreter",
                namespace="",
                parameters=[config, typed_overrides("instruction_interpreter", {
                    "instruction": ("instruction", instruction)}), LAUNCH_DRIVES_LIFECYCLE],
                autostart=autostart,
                output="screen",
            )
        )
    if offload:
        offload_overrides = typed_overrides(
            "offload_manager", {"vehicle_id": ("vehicle_id", vehicle_id)}
        )
        nodes.append(
            Node(
                package="edge_llm_ros",
                executable="offload_manager",
                name="offload_manager",
                parameters=[config, offload_overrides],
                output="screen",
            )
        )
    return nodes


def _launch_setup(context: LaunchContext) -> list[GroupAction]:
    config = LaunchConfiguration("config").perform(context)
    namespace = LaunchConfiguration("namespace").perform(context)
    sensor_source = LaunchConfiguration("sensor_source").perform(context)
    sim_time_text = LaunchConfiguration("use_sim_time").perform(context)
    if sim_time_text.strip().lower() == "auto":
        use_sim_time = sensor_source == "simulator"
    else:
        use_sim_time = as_bool("use_sim_time", sim_time_text)

    # Sensor sources own the clock (/clock), so they always run on wall time.
    sources: list[Node] = []
    source_config = ""
    if sensor_source == "simulator":
        source_config = LaunchConfiguration("simulator_config").perform(context)
        scenario = LaunchConfiguration("scenario").perform(context)
        seed = LaunchConfiguration("seed").perform(context)
        simulator_overrides = typed_overrides(
            "simulator", {"scenario": ("scenario", scenario), "seed": ("seed", seed)}
        )
        sources.append(
            Node(
                package="edge_llm_ros",
                executable="simulator",
                name="simulator",
                parameters=[
                    config,
                    source_config,
                    simulator_overrides,
                    {"use_sim_time": False},
                ],
                output="screen",
            )
        )

    pipeline = _onboard_nodes(
        config,
        LaunchConfiguration("camera_model").perform(context),
        LaunchConfiguration("reasoner_model").perform(context),
        LaunchConfiguration("reasoner_backend").perform(context),
        LaunchConfiguration("instruction").perform(context),
        as_bool("offload", LaunchConfiguration("offload").perform(context)),
        LaunchConfiguration("vehicle_id").perform(context),
        as_bool("autostart", LaunchConfiguration("autostart").perform(context)),
        as_bool("read_instructions", LaunchConfiguration("read_instructions").perform(context)),
        source_config,
    )

    if as_bool("record", LaunchConfiguration("record").perform(context)):
        # Like `ros2 bag record`: a new time-stamped bag in the working directory.
        record_path = LaunchConfiguration("record_path").perform(context) or time.strftime(
            "edge_llm_ros_%Y_%m_%d-%H_%M_%S"
        )
        pipeline.append(
            Node(
                package="edge_llm_ros",
                executable="bag_recorder",
                name="bag_recorder",
                parameters=[
                    config,
                    LaunchConfiguration("bag_config").perform(context),
                    {"output_path": os.path.abspath(os.path.expanduser(record_path))},
                ],
                output="screen",
            )
        )

    if as_bool("foxglove", LaunchConfiguration("foxglove").perform(context)):
        # A live view of the run; its host, port, ... come from config's foxglove_viz section,
        # its extrinsics from scene_fusion's (one calibration).
        pipeline.append(
            Node(
                package="edge_llm_ros",
                executable="foxglove_viz",
                name="foxglove_viz",
                parameters=[config, viewer_extrinsics(config)],
                output="screen",
            )
        )

    return [
        GroupAction(
            [
                PushRosNamespace(namespace),
                *sources,
                SetParameter(name="use_sim_time", value=use_sim_time),
                *pipeline,
            ]
        )
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            *declare_shared_arguments(
                "config", "namespace", "autostart", "record", "record_path", "bag_config",
                "foxglove",
            ),
            DeclareLaunchArgument(
                "use_sim_time",
                default_value="auto",
                description="Pipeline nodes follow /clock (true/false); auto: true with "
                "sensor_source:=simulator, false with real drivers.",
            ),
            DeclareLaunchArgument(
                "read_instructions",
                default_value="true",
                description="Run the instruction stage (instruction_interpreter: free text -> "
                "operator/intent) on board; false when the remote host runs it "
                "(remote.launch.py read_instructions:=true) or to drive on the keyword parser.",
            ),
            DeclareLaunchArgument(
                "sensor_source",
                default_value="none",
                choices=["none", "simulator"],
                description="Where sensor data comes from: none (the vehicle drivers or a parent "
                "launch file publish it) or simulator (start the built-in simulator).",
            ),
            DeclareLaunchArgument(
                "simulator_config",
                default_value=PathJoinSubstitution(
                    [FindPackageShare("edge_llm_ros"), "config", "simulator.yaml"]
                ),
                description="Parameter file of the built-in simulator (sensor_source:=simulator).",
            ),
            DeclareLaunchArgument(
                "scenario",
                default_value="",
                description="Simulator scenario: a packaged name or a scenario YAML path; empty "
                "keeps the parameter file value (sensor_source:=simulator).",
            ),
            DeclareLaunchArgument(
                "seed",
                default_value="",
                description="Simulator random seed; empty keeps the parameter file value "
                "(sensor_source:=simulator).",
            ),
            DeclareLaunchArgument(
                "camera_model",
                default_value="",
                description="camera_detector model (.pt, .onnx or .engine; a path, or a bare "
                "name such as yolo11n.pt that Ultralytics downloads on a connected machine); "
                "empty keeps the parameter file's value (config/simulator.yaml's simulator "
                "model with sensor_source:=simulator; otherwise the packaged simulator model, "
                "with a warning).",
            ),
            DeclareLaunchArgument(
                "reasoner_model",
                default_value="",
                description="reasoner model: a GGUF file (llama_cpp) or a Hugging Face checkpoint "
                "folder (tensorrt_edgellm); empty keeps the parameter file's value (the tuned "
                "model built at setup by default).",
            ),
            DeclareLaunchArgument(
                "reasoner_backend",
                default_value="",
                description="reasoner runtime: llama_cpp, tensorrt_edgellm or rules; empty keeps "
                "the parameter file's value.",
            ),
            DeclareLaunchArgument(
                "instruction",
                default_value="",
                description="Operator instruction in force at start, plain language (later ones "
                "on operator/instruction); empty keeps the parameter file's value.",
            ),
            DeclareLaunchArgument(
                "offload",
                default_value="true",
                description="Start offload_manager: heavy planning goes to a remote_planner "
                "(remote.launch.py on another host) whenever the link allows.",
            ),
            DeclareLaunchArgument(
                "vehicle_id",
                default_value="",
                description="This vehicle's id in PlanRequests (unique per vehicle); empty keeps "
                "the parameter file's value.",
            ),
            OpaqueFunction(function=_launch_setup),
        ]
    )
