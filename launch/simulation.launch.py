"""The on-board pipeline fed by the built-in simulator: no GPU, no Gazebo.

    ros2 launch edge_llm_ros simulation.launch.py
    ros2 launch edge_llm_ros simulation.launch.py scenario:=my_scenario.yaml seed:=7

The simulator publishes the vehicle's sensor topics, ground truth and sim time on
/clock; the pipeline runs on that clock (use_sim_time:=true). This is
vehicle.launch.py with sensor_source:=simulator, where the simulator node is defined.
"""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    vehicle = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("edge_llm_ros"), "launch", "vehicle.launch.py"])
        ),
        launch_arguments={
            "sensor_source": "simulator",
            "scenario": LaunchConfiguration("scenario"),
            "seed": LaunchConfiguration("seed"),
            "simulator_config": LaunchConfiguration("simulator_config"),
            "config": LaunchConfiguration("config"),
            "namespace": LaunchConfiguration("namespace"),
            "use_sim_time": LaunchConfiguration("use_sim_time"),
            "record": LaunchConfiguration("record"),
            "record_path": LaunchConfiguration("record_path"),
            "bag_config": LaunchConfiguration("bag_config"),
        }.items(),
    )
    return LaunchDescription(
        [
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
            DeclareLaunchArgument(
                "config",
                default_value=PathJoinSubstitution(
                    [FindPackageShare("edge_llm_ros"), "config", "vehicle.yaml"]
                ),
                description="Parameter file of the on-board nodes (its /** section applies to "
                "every edge_llm_ros node, the simulator included).",
            ),
            DeclareLaunchArgument(
                "namespace",
                default_value="",
                description="ROS namespace of the simulated vehicle: simulator and pipeline.",
            ),
            DeclareLaunchArgument(
                "use_sim_time",
                default_value="true",
                description="Pipeline nodes follow the simulator time on /clock.",
            ),
            DeclareLaunchArgument(
                "record",
                default_value="false",
                description="Record the run (sensor topics, ground truth, pipeline outputs) to "
                "a new rosbag2 bag.",
            ),
            DeclareLaunchArgument(
                "record_path",
                default_value="",
                description="Bag directory to create when record:=true; must not exist. Empty: "
                "edge_llm_ros_<date>-<time> in the working directory.",
            ),
            DeclareLaunchArgument(
                "bag_config",
                default_value=PathJoinSubstitution(
                    [FindPackageShare("edge_llm_ros"), "config", "bag.yaml"]
                ),
                description="Parameter file of bag_recorder (record:=true).",
            ),
            GroupAction([vehicle]),
        ]
    )
