"""simulator node: the built-in MuJoCo driving simulator on ROS topics.

Publishes what a real vehicle's drivers would (camera image and info, lidar
sweep, odometry, the sensors' mounting on /tf_static, latched) plus ground truth
and /clock. Stamps are sim time counted from the wall-clock moment the node
started, so nodes with and without use_sim_time see consistent stamps when
realtime_factor is 1.
"""

from __future__ import annotations

import time
from typing import Any

from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from edge_llm_ros import msg
from edge_llm_ros.fusion.tf_tree import StaticTransform, transform_from_matrix
from edge_llm_ros.nodes.base import SourceNode
from edge_llm_ros.nodes.convert import (
    camera_info_msg,
    make_header,
    ns_to_time,
    object3d_array_msg,
    object3d_msg,
    odometry_msg,
    rgb_image_to_msg,
    transform_stamped_msg,
    xyzi_to_pointcloud2,
)
from edge_llm_ros.nodes.msgtypes import import_message_type
from edge_llm_ros.params import ConfigError
from edge_llm_ros.sim import (
    CameraConfig,
    LidarConfig,
    ScenarioError,
    SimFrame,
    Simulator,
    load_scenario,
)
from edge_llm_ros.sim.tf_static import sensor_transforms

#: What tf2's static broadcaster offers: published once, kept for late subscribers.
TF_STATIC_LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                   durability=DurabilityPolicy.TRANSIENT_LOCAL)


class SimulatorNode(SourceNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("simulator", node_name, **kwargs)
        p = self.params
        try:
            self.scenario = load_scenario(str(p["scenario"]))
        except ScenarioError as exc:
            raise ConfigError(f"node '{self.get_name()}': parameter 'scenario': {exc}") from exc
        camera = CameraConfig.from_params(p)
        lidar = LidarConfig.from_params(p)
        self.sim = Simulator(self.scenario, seed=int(p["seed"]), camera=camera, lidar=lidar,
                             rate_hz=float(p["rate_hz"]))
        self.frames = {
            "world": str(p["frames.world"]),
            "base_link": str(p["frames.base_link"]),
            "lidar": str(p["frames.lidar"]),
            "camera": str(p["frames.camera"]),
        }
        self.image_pub = self.create_source_publisher(Image, "camera/image_raw")
        self.info_pub = self.create_source_publisher(CameraInfo, "camera/camera_info")
        self.points_pub = self.create_source_publisher(PointCloud2, "lidar/points")
        self.odom_pub = self.create_source_publisher(Odometry, "odom")
        self.truth_pub = self.create_source_publisher(msg.Object3DArray, "ground_truth/objects")
        self.clock_pub = (
            self.create_publisher(Clock, "/clock", 10) if p["publish_clock"] else None
        )
        # The mounts the sensor models use (a disabled sensor's default mount included).
        self.sensor_transforms: list[StaticTransform] = sensor_transforms(
            self.frames["base_link"], self.frames["lidar"], self.frames["camera"],
            lidar_mount_xyz_m=(lidar or LidarConfig()).mount_xyz_m,
            camera_mount_xyz_m=(camera or CameraConfig()).mount_xyz_m)
        self.tf_static_pub, self._tf_message_type = self._create_tf_static_publisher()
        self.time_origin_ns = time.time_ns()
        self.ticks = 0
        self._init_source("simulator")
        self.get_logger().info(
            f"scenario '{self.scenario.name}' ({self.scenario.duration_s:.0f} s, seed {p['seed']}) "
            f"at {p['rate_hz']} Hz, realtime factor {p['realtime_factor']}"
        )

    def _create_tf_static_publisher(self) -> tuple[Any, type | None]:
        """/tf_static, latched; none where tf2_msgs is missing (it is no PyPI wheel; setup
        builds a stand-in), with a warning: the sensor topics still go out."""
        try:
            tf_message_type = import_message_type("tf2_msgs/msg/TFMessage")
        except ImportError as exc:
            self.get_logger().warning(f"not publishing /tf_static: no tf2_msgs here ({exc})")
            return None, None
        return (self.create_source_publisher(tf_message_type, "/tf_static",
                                             TF_STATIC_LATCHED_QOS), tf_message_type)

    def publish_tf_static(self, stamp_ns: int) -> None:
        """The sensors' mounting, once: the latched message reaches later subscribers too."""
        if self.tf_static_pub is None or self._tf_message_type is None:
            return
        transforms = [transform_stamped_msg(e.parent, e.child, *transform_from_matrix(
            e.parent_from_child), stamp_ns) for e in self.sensor_transforms]
        self.tf_static_pub.publish(self._tf_message_type(transforms=transforms))

    def _run(self) -> None:
        factor = float(self.params["realtime_factor"])
        latency_s = float(self.params["sensor_latency_ms"]) / 1000.0
        period_s = 1.0 / float(self.params["rate_hz"])
        skip_late_camera = bool(self.params["camera.skip_late_frames"])
        wall_start = time.monotonic()
        self.time_origin_ns = time.time_ns()
        sim_elapsed_s = 0.0
        try:
            # Stamped with the first tick, so it is never later than the sensor data.
            self.publish_tf_static(self.time_origin_ns)
            while not self._stop.is_set():
                if self.sim.done:
                    if not self.params["loop"]:
                        self.get_logger().info(f"scenario finished after {self.ticks} ticks")
                        break
                    self.sim.reset()
                    # The next loop starts now: stamps stay on the wall clock even when
                    # the last loop ran behind it (never earlier than the last stamp).
                    self.time_origin_ns = max(time.time_ns(),
                                              self.time_origin_ns + int(sim_elapsed_s * 1e9))
                    sim_elapsed_s = 0.0
                    wall_start = time.monotonic()
                # Simulate and render the next tick ahead of its moment, then deliver
                # it sensor_latency_ms after that moment, as a real driver would: the
                # data is stamped with the moment it describes, and a renderer slower
                # than a real sensor does not age it (unless it cannot keep up at all).
                # The world does not wait for the renderer: when this host is already
                # past the next tick's delivery moment, that tick goes out without a
                # camera frame (counted), as a camera driver drops frames, instead of
                # every later frame arriving later and later.
                late = (factor > 0.0 and skip_late_camera and time.monotonic()
                        > wall_start + (self.sim.time_s + period_s) / factor + latency_s)
                if late:
                    self.health.add_count("camera_frames_skipped_late")
                started = time.perf_counter()
                frame = self.sim.step(render_camera=not late)
                step_ms = (time.perf_counter() - started) * 1e3
                if factor > 0.0:
                    wait_s = (wall_start + frame.time_s / factor + latency_s
                              - time.monotonic())
                    if wait_s > 0 and self._stop.wait(wait_s):
                        break
                self._publish(frame, step_ms)
                sim_elapsed_s = frame.time_s
                self.ticks += 1
        except Exception as exc:  # a crash in the sim thread must not pass silently
            self.exit_code = 1
            self.report_error("simulation_failed", repr(exc))
        finally:
            self.finished.set()

    def _publish(self, frame: SimFrame, step_ms: float) -> None:
        started = time.perf_counter()
        stamp_ns = self.time_origin_ns + int(round(frame.time_s * 1e9))
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=ns_to_time(stamp_ns)))
        f = self.frames
        if frame.image_rgb is not None and self.sim.camera_model is not None:
            header = make_header(stamp_ns, f["camera"])
            self.image_pub.publish(rgb_image_to_msg(frame.image_rgb, header))
            cam = self.sim.camera_model
            self.info_pub.publish(camera_info_msg(cam.K, cam.width_px, cam.height_px, header))
        if frame.points_lidar is not None:
            self.points_pub.publish(
                xyzi_to_pointcloud2(frame.points_lidar, make_header(stamp_ns, f["lidar"]))
            )
        x_m, y_m, yaw_rad = frame.ego_pose_world
        self.odom_pub.publish(
            odometry_msg(x_m, y_m, yaw_rad, frame.ego_speed_mps, frame.ego_yaw_rate_radps,
                         make_header(stamp_ns, f["world"]), f["base_link"])
        )
        objects = [
            object3d_msg(o.id, o.class_name, o.center_base_m, o.size_m, o.yaw_base_rad,
                         o.velocity_base_mps, o.lidar_point_count)
            for o in frame.objects
        ]
        self.truth_pub.publish(object3d_array_msg(objects, make_header(stamp_ns, f["base_link"])))
        processing_ms = step_ms + (time.perf_counter() - started) * 1e3
        # Sensor data is stamped with the tick's sim time; latency is measured
        # on the node's clock (sim time under use_sim_time).
        self.report_timing(processing_ms, ns_to_time(stamp_ns))

    def close(self) -> None:
        super().close()
        self.sim.close()
