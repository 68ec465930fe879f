"""Replay a recorded rosbag2 bag through the on-board pipeline.

    ros2 launch edge_llm_ros replay.launch.py bag:=/data/run1
    ros2 launch edge_llm_ros replay.launch.py bag:=run1.mcap rate:=0.5 loop:=true

bag_replay publishes the bag's sensor topics and its time on /clock; the pipeline
(vehicle.launch.py) runs on that clock (use_sim_time:=true), so its timing follows
the recording. rate, loop and start_offset_s left empty keep the values of
config/bag.yaml (or `bag_config`).
"""

from __future__ import annotations

import os

from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

from edge_llm_ros.params import ConfigError
from edge_llm_ros.params.launch_args import (
    PIPELINE_ARGUMENTS,
    declare_shared_arguments,
    forward_arguments,
    typed_overrides,
)


def _launch_setup(context: LaunchContext) -> list[GroupAction]:
    bag = LaunchConfiguration("bag").perform(context)
    if not bag:
        raise ConfigError("launch argument bag:= is empty: give the bag to replay")
    overrides = typed_overrides(
        "bag_replay",
        {
            # Absolute, so the node finds the bag whatever its working directory.
            "bag_path": ("bag", os.path.abspath(os.path.expanduser(bag))),
            "rate": ("rate", LaunchConfiguration("rate").perform(context)),
            "loop": ("loop", LaunchConfiguration("loop").perform(context)),
            "start_offset_s": (
                "start_offset_s",
                LaunchConfiguration("start_offset_s").perform(context),
            ),
        },
    )
    # The bag's time is the clock, so bag_replay itself runs on wall time.
    replay = Node(
        package="edge_llm_ros",
        executable="bag_replay",
        name="bag_replay",
        parameters=[
            LaunchConfiguration("config").perform(context),
            LaunchConfiguration("bag_config").perform(context),
            overrides,
            {"use_sim_time": False},
        ],
        output="screen",
    )
    return [GroupAction([PushRosNamespace(LaunchConfiguration("namespace")), replay])]


def generate_launch_description() -> LaunchDescription:
    vehicle = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("edge_llm_ros"), "launch", "vehicle.launch.py"])
        ),
        launch_arguments={
            "sensor_source": "none",
            **forward_arguments(*PIPELINE_ARGUMENTS),
        }.items(),
    )
    return LaunchDescription(
        [
            *declare_shared_arguments(*PIPELINE_ARGUMENTS),
            DeclareLaunchArgument(
                "bag",
                description="rosbag2 bag to replay: a bag directory (sqlite3 or MCAP) or one "
                ".mcap file.",
            ),
            DeclareLaunchArgument(
                "rate",
                default_value="",
                description="Playback speed factor (2.0 plays twice as fast); empty keeps the "
                "parameter file value.",
            ),
            DeclareLaunchArgument(
                "loop",
                default_value="",
                description="Replay the bag again when it ends (true/false); empty keeps the "
                "parameter file value.",
            ),
            DeclareLaunchArgument(
                "start_offset_s",
                default_value="",
                description="Skip this much of the bag's beginning, seconds; empty keeps the "
                "parameter file value.",
            ),
            OpaqueFunction(function=_launch_setup),
            GroupAction([vehicle]),
        ]
    )
