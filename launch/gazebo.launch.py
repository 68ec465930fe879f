"""The on-board pipeline fed by Gazebo (gz sim, Harmonic or newer) through ros_gz_bridge.

    ros2 launch edge_llm_ros gazebo.launch.py
    ros2 launch edge_llm_ros gazebo.launch.py headless:=true world:=/path/to/world.sdf

Starts `gz sim -r <world>` (running, not paused), ros_gz_bridge's parameter_bridge
with config/gz_bridge.yaml (camera, camera info, lidar points, odometry and /clock
onto the same topics as every other sensor source), and vehicle.launch.py on sim
time. Closing Gazebo ends the launch. Needs Gazebo and ros_gz_bridge installed
(e.g. ros-jazzy-ros-gz); the rest of the package does not.
"""

from __future__ import annotations

from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    GroupAction,
    IncludeLaunchDescription,
    OpaqueFunction,
    Shutdown,
)
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

from edge_llm_ros.params.launch_args import (
    PIPELINE_ARGUMENTS,
    as_bool,
    declare_shared_arguments,
    forward_arguments,
)


def _launch_setup(context: LaunchContext) -> list[ExecuteProcess | GroupAction]:
    command = ["gz", "sim", "-r"]
    if as_bool("headless", LaunchConfiguration("headless").perform(context)):
        # Server only; sensors render offscreen through EGL (needs the ogre2 engine).
        command += ["-s", "--headless-rendering"]
    command.append(LaunchConfiguration("world").perform(context))
    gazebo = ExecuteProcess(
        cmd=command,
        output="screen",
        on_exit=[Shutdown(reason="gz sim exited")],
    )
    # Gazebo owns the clock and stamps the messages; the bridge only converts them.
    bridge = Node(
        package="ros_gz_bridge",
        executable="parameter_bridge",
        name="gz_bridge",
        parameters=[{"config_file": LaunchConfiguration("bridge_config").perform(context)}],
        output="screen",
    )
    return [gazebo, GroupAction([PushRosNamespace(LaunchConfiguration("namespace")), bridge])]


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
                "world",
                default_value=PathJoinSubstitution(
                    [FindPackageShare("edge_llm_ros"), "worlds", "road.sdf"]
                ),
                description="SDF world to simulate; its sensor topics must match bridge_config.",
            ),
            DeclareLaunchArgument(
                "headless",
                default_value="false",
                description="Run the Gazebo server only (no GUI), rendering sensors offscreen.",
            ),
            DeclareLaunchArgument(
                "bridge_config",
                default_value=PathJoinSubstitution(
                    [FindPackageShare("edge_llm_ros"), "config", "gz_bridge.yaml"]
                ),
                description="ros_gz_bridge topic mapping (its config_file parameter).",
            ),
            OpaqueFunction(function=_launch_setup),
            GroupAction([vehicle]),
        ]
    )
