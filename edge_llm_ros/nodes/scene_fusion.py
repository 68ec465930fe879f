"""scene_fusion node: 2D detections + lidar objects + odometry -> SceneSummary,
stamped with the newest sensor time it used, published as soon as a new sweep
can be fused (publish_on sensor, see fusion/trigger.py) or at a fixed rate;
degrades to camera_only / lidar_only / none when a stream stops, and says so.
With extrinsics_source tf, camera <- lidar comes from /tf_static (fusion/extrinsics.py);
until the tree joins the inputs' frames the camera is left out (lidar_only)."""

from __future__ import annotations

import time

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo

from edge_llm_ros import msg
from edge_llm_ros.diagnostics import Level
from edge_llm_ros.fusion import FusionConfig, SceneFuser
from edge_llm_ros.fusion.config import as_transform
from edge_llm_ros.fusion.extrinsics import Extrinsics, TfExtrinsics
from edge_llm_ros.fusion.tf_tree import TfError, matrix_from_transform
from edge_llm_ros.fusion.trigger import SummaryTrigger, TriggerConfig
from edge_llm_ros.nodes.base import EdgeNode
from edge_llm_ros.nodes.convert import detection_arrays, object_arrays, stamp_to_ns, summary_to_msg
from edge_llm_ros.params import ConfigError

# What tf2's static listener asks for: a late joiner still gets every broadcaster's tree.
TF_STATIC_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)


def tf_message_type(node_name: str) -> type:
    """tf2_msgs/TFMessage, imported only when asked for: the PyPI wheels lack tf2_msgs."""
    try:
        from tf2_msgs.msg import TFMessage
    except ImportError as exc:
        raise ConfigError(
            f"node '{node_name}': parameter 'extrinsics_source': tf needs tf2_msgs ({exc}); a "
            "ROS installation has it, scripts/setup.sh builds a stand-in into install/ "
            "(source install/setup.bash)") from exc
    return TFMessage


def fusion_config(params: dict, node_name: str) -> FusionConfig:
    try:
        return FusionConfig.from_params(params)
    except ValueError as exc:
        raise ConfigError(f"node '{node_name}': {exc}") from exc


class SceneFusionNode(EdgeNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("scene_fusion", node_name, **kwargs)
        p = self.params
        self.fuser = SceneFuser(fusion_config(p, self.get_name()))
        self.fuser.set_road_context(speed_limit_mps=float(p["speed_limit_mps"]),
                                    lanes_left_our_way=int(p["lanes_left_our_way"]))
        self._camera_info_key: tuple | None = None
        self.summary_pub = self.create_publisher(msg.SceneSummary, "scene/summary", 10)
        self.create_sensor_subscription(msg.Detection2DArray, "perception/detections_2d",
                                        self.on_detections)
        self.create_sensor_subscription(msg.Object3DArray, "perception/objects_3d", self.on_objects)
        self.create_sensor_subscription(CameraInfo, "camera/camera_info", self.on_camera_info)
        self.create_sensor_subscription(Odometry, "odom", self.on_odometry)
        self._tf: TfExtrinsics | None = None
        self._extrinsics: Extrinsics | None = None
        if p["extrinsics_source"] == "tf":
            self._tf = TfExtrinsics(str(p["base_frame"]),
                                    as_transform(p["base_from_lidar"], "base_from_lidar"))
            self.create_subscription(tf_message_type(self.get_name()), "/tf_static",
                                     self.on_tf_static, TF_STATIC_QOS)
            self.health.set_condition("extrinsics", Level.WARN,
                                      f"camera not fused: {self._tf.waiting_for()}")
            self.get_logger().info("extrinsics from /tf_static: lidar-only fusion until the "
                                   "camera <- lidar chain is known")
        self._reported_rejections: dict[str, int] = {}
        self._trigger: SummaryTrigger | None = None
        if p["publish_on"] == "sensor":
            self._trigger = SummaryTrigger(TriggerConfig.from_params(p))
            # Fires camera_wait_ms after a sweep that is still waiting for its camera frame.
            self._wait_timer = self.create_timer(max(float(p["camera_wait_ms"]), 1.0) / 1000.0,
                                                 self._on_wait_timer)
            self._wait_timer.cancel()
            self.create_timer(1.0 / float(p["rate_hz"]), self._publish_if_due)
        else:
            self.create_timer(1.0 / float(p["rate_hz"]), self.publish_summary)

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def on_camera_info(self, message: CameraInfo) -> None:
        key = (tuple(message.k), message.width, message.height)
        if key == self._camera_info_key:
            return
        try:
            self.fuser.set_camera_model(np.asarray(message.k), message.width, message.height)
        except ValueError as exc:
            self.report_error("bad_camera_info", str(exc))
            return
        self._camera_info_key = key

    def on_tf_static(self, message: object) -> None:
        assert self._tf is not None
        for t in message.transforms:  # type: ignore[attr-defined]
            v, q = t.transform.translation, t.transform.rotation
            try:
                self._tf.tree.set(t.header.frame_id, t.child_frame_id,
                                  matrix_from_transform((v.x, v.y, v.z), (q.x, q.y, q.z, q.w)))
            except TfError as exc:
                self.report_error("bad_tf_static",
                                  f"{t.header.frame_id} -> {t.child_frame_id}: {exc}")
        self._apply_extrinsics()

    def _apply_extrinsics(self) -> bool:
        """Hand fusion the transforms for the current frames; True once they are known."""
        assert self._tf is not None
        found = self._tf.resolve()
        if found is None:
            self.health.set_condition("extrinsics", Level.WARN,
                                      f"camera not fused: {self._tf.waiting_for()}")
            return False
        if not found.same_as(self._extrinsics):
            self.fuser.set_extrinsics(found.T_camera_from_lidar, found.T_base_from_lidar)
            base = (f"{self._tf.base_frame} <- {self._tf.lidar_frame} too" if found.base_from_tf
                    else f"no {self._tf.base_frame} <- {self._tf.lidar_frame} there, "
                    "base_from_lidar parameter used")
            what = "fusing the camera" if self._extrinsics is None else "changed"
            self.get_logger().info(f"extrinsics from /tf_static: {self._tf.camera_frame} <- "
                                   f"{self._tf.lidar_frame} ({base}); {what}")
            self._extrinsics = found
            self.health.clear_condition("extrinsics")
        return True

    def on_odometry(self, message: Odometry) -> None:
        self.fuser.add_odometry(stamp_to_ns(message.header.stamp), message.twist.twist.linear.x,
                                message.twist.twist.angular.z)

    def on_detections(self, message: msg.Detection2DArray) -> None:
        if self._tf is not None:
            if message.header.frame_id != self._tf.camera_frame:
                self._tf.set_frames(camera=message.header.frame_id)
            if not self._apply_extrinsics():
                self.health.add_count("camera_frames_without_extrinsics")
                return
        boxes, class_names, scores = detection_arrays(message)
        self.fuser.add_camera_arrays(
            stamp_to_ns(message.header.stamp), boxes, class_names, scores,
            (int(message.image_width_px), int(message.image_height_px)),
            float(message.processing_time_ms), self._now_ns())
        if self._trigger is not None:
            self._trigger.on_camera(stamp_to_ns(message.header.stamp), self._now_ns())
            self._publish_if_due()

    def on_objects(self, message: msg.Object3DArray) -> None:
        if self._tf is not None and message.header.frame_id != self._tf.lidar_frame:
            self._tf.set_frames(lidar=message.header.frame_id)
            self._apply_extrinsics()
        centers, sizes, yaws, class_names, scores = object_arrays(message)
        self.fuser.add_lidar_arrays(
            stamp_to_ns(message.header.stamp), centers, sizes, yaws, class_names, scores,
            float(message.processing_time_ms), self._now_ns())
        if self._trigger is not None:
            self._trigger.on_lidar(stamp_to_ns(message.header.stamp), self._now_ns())
            if not self._publish_if_due():
                self._wait_timer.reset()  # publish when the camera frame's wait is over

    def _on_wait_timer(self) -> None:
        self._wait_timer.cancel()
        self._publish_if_due()

    def _publish_if_due(self) -> bool:
        if not self._trigger.due(self._now_ns()):
            return False
        self.publish_summary()
        return True

    def publish_summary(self) -> None:
        started = time.perf_counter()
        summary = self.fuser.summarize(self._now_ns())
        message = summary_to_msg(summary)
        self.summary_pub.publish(message)
        if self._trigger is not None:
            self._trigger.published(self._now_ns())
            self.health.counters["camera_waits_timed_out"] = self._trigger.waits_timed_out
        processing_ms = (time.perf_counter() - started) * 1e3
        self.report_timing(processing_ms, message.header.stamp, message.header.frame_id)
        self._report_rejections()
        if summary.perception_mode == msg.SceneSummary.MODE_FUSED:
            self.health.clear_condition("mode")
        else:
            level = (Level.ERROR if summary.perception_mode == msg.SceneSummary.MODE_NONE
                     else Level.WARN)
            self.health.set_condition("mode", level,
                                      f"perception degraded: {summary.perception_mode}")

    def _report_rejections(self) -> None:
        """Bad input the fuser refused (out-of-order stamps, NaNs): log the
        first of each kind, count all in /diagnostics."""
        for reason, count in self.fuser.rejected_counts().items():
            new = count - self._reported_rejections.get(reason, 0)
            if new > 0:
                self._reported_rejections[reason] = count
                for _ in range(new):
                    self.report_error(reason, f"scene fusion rejected input: {reason}")
        for name, value in self.fuser.stats().items():
            self.health.counters[name] = int(value)
