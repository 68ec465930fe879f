"""numpy <-> ROS message conversions (cv_bridge is not on PyPI, and these are
the few layouts the package needs)."""

from __future__ import annotations

import array
import math
from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Quaternion, Vector3
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from edge_llm_ros.msg import Object3D, Object3DArray


def ns_to_time(stamp_ns: int) -> Time:
    return Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


def make_header(stamp_ns: int, frame_id: str) -> Header:
    return Header(stamp=ns_to_time(stamp_ns), frame_id=frame_id)


def _as_byte_array(data: np.ndarray) -> array.array:
    """uint8[] fields take array('B') without a per-element check."""
    out = array.array("B")
    out.frombytes(np.ascontiguousarray(data).data)
    return out


def rgb_image_to_msg(image_rgb: np.ndarray, header: Header) -> Image:
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) uint8 image, got {image_rgb.shape} {image_rgb.dtype}"
        )
    height, width = image_rgb.shape[:2]
    msg = Image(header=header, height=height, width=width, encoding="rgb8", is_bigendian=0,
                step=width * 3)
    msg.data = _as_byte_array(image_rgb)
    return msg


def camera_info_msg(K: np.ndarray, width_px: int, height_px: int, header: Header) -> CameraInfo:
    """Pinhole camera without distortion (the simulator's camera)."""
    P = np.zeros((3, 4))
    P[:, :3] = K
    return CameraInfo(
        header=header, width=int(width_px), height=int(height_px),
        distortion_model="plumb_bob", d=[0.0] * 5,
        k=[float(v) for v in np.asarray(K, dtype=float).reshape(-1)],
        r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p=[float(v) for v in P.reshape(-1)],
    )


XYZI_FIELDS = [
    PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
    for i, name in enumerate(("x", "y", "z", "intensity"))
]


def xyzi_to_pointcloud2(points_xyzi: np.ndarray, header: Header) -> PointCloud2:
    """(N, 4) float32 x, y, z, intensity -> an unorganised PointCloud2."""
    points = np.ascontiguousarray(points_xyzi, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 4:
        raise ValueError(f"expected (N, 4) points, got {points.shape}")
    msg = PointCloud2(
        header=header, height=1, width=points.shape[0], fields=XYZI_FIELDS,
        is_bigendian=False, point_step=16, row_step=16 * points.shape[0],
        is_dense=bool(np.isfinite(points).all()),
    )
    msg.data = _as_byte_array(points.view(np.uint8))
    return msg


def yaw_to_quaternion(yaw_rad: float) -> Quaternion:
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw_rad / 2.0), w=math.cos(yaw_rad / 2.0))


def odometry_msg(
    x_m: float, y_m: float, yaw_rad: float, speed_mps: float, yaw_rate_radps: float,
    header: Header, child_frame_id: str,
) -> Odometry:
    msg = Odometry(header=header, child_frame_id=child_frame_id)
    msg.pose.pose.position = Point(x=float(x_m), y=float(y_m), z=0.0)
    msg.pose.pose.orientation = yaw_to_quaternion(float(yaw_rad))
    msg.twist.twist.linear = Vector3(x=float(speed_mps), y=0.0, z=0.0)
    msg.twist.twist.angular = Vector3(x=0.0, y=0.0, z=float(yaw_rate_radps))
    return msg


def object3d_msg(
    object_id: int, class_name: str, center_m: Sequence[float], size_m: Sequence[float],
    yaw_rad: float, velocity_mps: Sequence[float], point_count: int, score: float = 1.0,
) -> Object3D:
    return Object3D(
        id=int(object_id), class_name=str(class_name), score=float(score),
        center_m=Point(x=float(center_m[0]), y=float(center_m[1]), z=float(center_m[2])),
        size_m=Vector3(x=float(size_m[0]), y=float(size_m[1]), z=float(size_m[2])),
        yaw_rad=float(yaw_rad),
        velocity_mps=Vector3(
            x=float(velocity_mps[0]), y=float(velocity_mps[1]), z=float(velocity_mps[2])
        ),
        point_count=int(point_count),
    )


def object3d_array_msg(objects: Sequence[Object3D], header: Header,
                       processing_time_ms: float = 0.0) -> Object3DArray:
    return Object3DArray(header=header, objects=list(objects),
                         processing_time_ms=float(processing_time_ms))
