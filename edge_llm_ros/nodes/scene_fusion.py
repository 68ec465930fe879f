"""scene_fusion node: 2D detections + lidar objects + odometry -> SceneSummary,
stamped with the newest sensor time it used, published as soon as a new sweep
can be fused (publish_on sensor, see fusion/trigger.py) or at a fixed rate;
degrades to camera_only / lidar_only / none when a stream stops, and says so."""

from __future__ import annotations

import time

import numpy as np
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo

from edge_llm_ros import msg
from edge_llm_ros.diagnostics import Level
from edge_llm_ros.fusion import FusionConfig, SceneFuser
from edge_llm_ros.fusion.trigger import SummaryTrigger, TriggerConfig
from edge_llm_ros.nodes.base import EdgeNode
from edge_llm_ros.nodes.convert import detection_arrays, object_arrays, stamp_to_ns, summary_to_msg
from edge_llm_ros.params import ConfigError


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

    def on_odometry(self, message: Odometry) -> None:
        self.fuser.add_odometry(stamp_to_ns(message.header.stamp), message.twist.twist.linear.x,
                                message.twist.twist.angular.z)

    def on_detections(self, message: msg.Detection2DArray) -> None:
        boxes, class_names, scores = detection_arrays(message)
        self.fuser.add_camera_arrays(
            stamp_to_ns(message.header.stamp), boxes, class_names, scores,
            (int(message.image_width_px), int(message.image_height_px)),
            float(message.processing_time_ms), self._now_ns())
        if self._trigger is not None:
            self._trigger.on_camera(stamp_to_ns(message.header.stamp), self._now_ns())
            self._publish_if_due()

    def on_objects(self, message: msg.Object3DArray) -> None:
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
