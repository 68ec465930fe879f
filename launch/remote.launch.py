"""The remote host of edge_llm_ros: the remote planner that serves the vehicles' PlanRequests.

    ros2 launch edge_llm_ros remote.launch.py
    ros2 launch edge_llm_ros remote.launch.py model:=/models/qwen2.5-1.5b-instruct.Q4_K_M.gguf
    ros2 launch edge_llm_ros remote.launch.py backend:=tensorrt_edgellm model:=/models/hf_dir
    ros2 launch edge_llm_ros remote.launch.py autostart:=false   # a lifecycle manager takes over
    ros2 launch edge_llm_ros remote.launch.py read_instructions:=true  # instructions read here

Run it in the vehicles' DDS domain; across hosts without multicast, use the Fast DDS
profiles in config/dds (docs/dds_remote_link.md). The planner answers every request with a
plan, or "busy" when it cannot plan in time, and echoes the vehicles' link probes.
It is a lifecycle node: launch configures (loads the model) and activates it.
"""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

from edge_llm_ros.params.launch_args import (
    LAUNCH_DRIVES_LIFECYCLE,
    as_bool,
    declare_shared_arguments,
    typed_overrides,
)


def _launch_setup(context: LaunchContext) -> list[GroupAction]:
    config = LaunchConfiguration("config").perform(context)
    overrides = typed_overrides(
        "remote_planner",
        {
            "model.path": ("model", LaunchConfiguration("model").perform(context)),
            "model.backend": ("backend", LaunchConfiguration("backend").perform(context)),
            "model.threads": ("threads", LaunchConfiguration("threads").perform(context)),
        },
    )
    autostart = as_bool("autostart", LaunchConfiguration("autostart").perform(context))
    nodes = [
        LifecycleNode(
            package="edge_llm_ros",
            executable="remote_planner",
            name="remote_planner",
            namespace="",
            parameters=[config, overrides, LAUNCH_DRIVES_LIFECYCLE],
            autostart=autostart,
            output="screen",
        )
    ]
    if as_bool("read_instructions", LaunchConfiguration("read_instructions").perform(context)):
        # The instruction stage offloaded: operator/instruction in, operator/intent out, in
        # the vehicles' namespace (launch the vehicle with read_instructions:=false).
        nodes.append(
            LifecycleNode(
                package="edge_llm_ros",
                executable="instruction_interpreter",
                name="instruction_interpreter",
                namespace="",
                parameters=[config, LAUNCH_DRIVES_LIFECYCLE],
                autostart=autostart,
                output="screen",
            )
        )
    return [
        GroupAction(
            [PushRosNamespace(LaunchConfiguration("namespace").perform(context)), *nodes]
        )
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "config",
                default_value=PathJoinSubstitution(
                    [FindPackageShare("edge_llm_ros"), "config", "remote.yaml"]
                ),
                description="Parameter file of the remote planner.",
            ),
            DeclareLaunchArgument(
                "namespace",
                default_value="",
                description="ROS namespace; must match the vehicles' (the link topics are "
                "remote/plan_request, remote/plan_response, remote/probe, remote/probe_echo).",
            ),
            *declare_shared_arguments("autostart"),
            DeclareLaunchArgument(
                "model",
                default_value="",
                description="GGUF file (llama_cpp) or Hugging Face checkpoint folder "
                "(tensorrt_edgellm); empty keeps the parameter file's value.",
            ),
            DeclareLaunchArgument(
                "backend",
                default_value="",
                description="llama_cpp, tensorrt_edgellm or rules; empty keeps the parameter "
                "file's value.",
            ),
            DeclareLaunchArgument(
                "read_instructions",
                default_value="false",
                description="Also run the instruction stage here (instruction_interpreter), "
                "for vehicles launched with read_instructions:=false.",
            ),
            DeclareLaunchArgument(
                "threads",
                default_value="",
                description="CPU threads for llama_cpp; empty keeps the parameter file's value.",
            ),
            OpaqueFunction(function=_launch_setup),
        ]
    )
