"""The on-board pipeline fed by the built-in simulator: no GPU, no Gazebo.

    ros2 launch edge_llm_ros simulation.launch.py
    ros2 launch edge_llm_ros simulation.launch.py scenario:=my_scenario.yaml seed:=7
    ros2 launch edge_llm_ros simulation.launch.py foxglove:=true  # live view, Foxglove

The simulator publishes the vehicle's sensor topics, ground truth and sim time on
/clock; the pipeline runs on that clock (use_sim_time:=true). This is
vehicle.launch.py with sensor_source:=simulator, where the simulator node is defined.
"""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

from edge_llm_ros.params.launch_args import (
    PIPELINE_ARGUMENTS,
    declare_shared_arguments,
    forward_arguments,
)


def generate_launch_description() -> LaunchDescription:
    vehicle = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("edge_llm_ros"), "launch", "vehicle.launch.py"])
        ),
        launch_arguments={
            "sensor_source": "simulator",
            **forward_arguments(*PIPELINE_ARGUMENTS, "scenario", "seed", "simulator_config"),
        }.items(),
    )
    return LaunchDescription(
        [
            *declare_shared_arguments(*PIPELINE_ARGUMENTS),
            DeclareLaunchArgument(
                "scenario",
                default_value="",
                description="Scenario: a packaged name (edge-llm-ros sim --list) or a scenario "
                "YAML path; empty keeps the parameter file value.",
            ),
            DeclareLaunchArgument(
                "seed",
                default_value="",
                description="Random seed (the same seed replays the same run); empty keeps the "
                "parameter file value.",
            ),
            DeclareLaunchArgument(
                "simulator_config",
                default_value=PathJoinSubstitution(
                    [FindPackageShare("edge_llm_ros"), "config", "simulator.yaml"]
                ),
                description="Parameter file of the simulator.",
            ),
            GroupAction([vehicle]),
        ]
    )
