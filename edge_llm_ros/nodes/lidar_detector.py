"""lidar_detector node: PointCloud2 -> Object3DArray (ground removal,
clustering, oriented boxes, class from size) in the cloud's frame or a
configured target frame."""

from __future__ import annotations

import time

import numpy as np
from sensor_msgs.msg import PointCloud2

from edge_llm_ros import msg
from edge_llm_ros.nodes.base import EdgeNode
from edge_llm_ros.nodes.convert import object3d_array_msg, object3d_msg
from edge_llm_ros.params import ConfigError
from edge_llm_ros.perception.lidar import LidarDetector, LidarDetectorConfig, transform_objects
from edge_llm_ros.perception.pointcloud import FieldSpec, PointCloudError, decode_xyzi
from edge_llm_ros.stamps import StampGuard


def detector_config(params: dict, node_name: str) -> LidarDetectorConfig:
    try:
        return LidarDetectorConfig.from_params(params)
    except ValueError as exc:
        raise ConfigError(f"node '{node_name}': detector parameters: {exc}") from exc


class LidarDetectorNode(EdgeNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("lidar_detector", node_name, **kwargs)
        p = self.params
        self.detector = LidarDetector(detector_config(p, self.get_name()))
        self.target_frame = str(p["target_frame"])
        self.T_target_from_lidar = np.asarray(p["target_from_lidar"], dtype=float)
        if self.T_target_from_lidar.size != 16:
            raise ConfigError(f"node '{self.get_name()}': parameter 'target_from_lidar' needs "
                              f"16 numbers (4x4 row-major), got {self.T_target_from_lidar.size}")
        self.T_target_from_lidar = self.T_target_from_lidar.reshape(4, 4)
        self.stamps = StampGuard(float(p["max_stamp_age_ms"]), float(p["max_stamp_future_ms"]))
        self.objects_pub = self.create_publisher(msg.Object3DArray, "perception/objects_3d", 10)
        self.create_sensor_subscription(PointCloud2, "lidar/points", self.on_cloud)

    def on_cloud(self, message: PointCloud2) -> None:
        started = time.perf_counter()
        if self.stamp_rejected(message.header.stamp):
            return
        try:
            cloud = decode_xyzi([FieldSpec.of(f) for f in message.fields], message.point_step,
                                message.row_step, message.width, message.height, message.data,
                                bool(message.is_bigendian))
        except PointCloudError as exc:
            self.report_error("malformed_pointcloud", str(exc))
            return
        if cloud.dropped_nonfinite:
            self.health.add_count("nonfinite points dropped", cloud.dropped_nonfinite)
        result = self.detector.detect(cloud.points)
        objects = result.objects
        frame_id = message.header.frame_id
        if self.target_frame:
            objects = transform_objects(objects, self.T_target_from_lidar)
            frame_id = self.target_frame
        processing_ms = (time.perf_counter() - started) * 1e3
        out = object3d_array_msg(
            [object3d_msg(i, o.class_name, o.center_m, o.size_m, o.yaw_rad, (0.0, 0.0, 0.0),
                          o.point_count, o.score) for i, o in enumerate(objects)],
            message.header, processing_ms)
        out.header.frame_id = frame_id
        self.objects_pub.publish(out)
        self.report_timing(processing_ms, message.header.stamp, message.header.frame_id)
