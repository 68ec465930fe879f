"""Every ROS message <-> plain record (edge_llm_ros.types) or numpy conversion, in one place.

Node modules call these and never build or read a message field by field
themselves (cv_bridge is not on PyPI, so images and clouds are here too).
"""

from __future__ import annotations

import array
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Quaternion, Transform, TransformStamped, Vector3
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from edge_llm_ros import msg
from edge_llm_ros.reasoning.instruction import (
    CAUTION_REASONS,
    LANE_SIDES,
    MAX_CAP_VALUE,
    SOURCE_MODEL,
    UNIT_LABELS,
    InstructionIntent,
)
from edge_llm_ros.reasoning.interpreter import Interpretation
from edge_llm_ros.types import (
    ACTION_INDEX,
    Decision,
    Detection2D,
    EgoState,
    PlannedStep,
    PlanRequest,
    RemotePlan,
    SceneSummary,
    StageLatency,
    TrackedObject,
)


def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time (or anything with sec, nanosec) -> nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


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
    message = Image(header=header, height=height, width=width, encoding="rgb8", is_bigendian=0,
                    step=width * 3)
    message.data = _as_byte_array(image_rgb)
    return message


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
    message = PointCloud2(
        header=header, height=1, width=points.shape[0], fields=XYZI_FIELDS,
        is_bigendian=False, point_step=16, row_step=16 * points.shape[0],
        is_dense=bool(np.isfinite(points).all()),
    )
    message.data = _as_byte_array(points.view(np.uint8))
    return message


def yaw_to_quaternion(yaw_rad: float) -> Quaternion:
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw_rad / 2.0), w=math.cos(yaw_rad / 2.0))


def transform_stamped_msg(parent_frame: str, child_frame: str, translation_m: Sequence[float],
                          quaternion_xyzw: Sequence[float], stamp_ns: int) -> TransformStamped:
    """One /tf_static edge: the child frame's pose in the parent frame (tf2_msgs/TFMessage
    itself is built by the caller, as tf2_msgs is no PyPI wheel and may be missing)."""
    tx, ty, tz = (float(v) for v in translation_m)
    qx, qy, qz, qw = (float(v) for v in quaternion_xyzw)
    return TransformStamped(
        header=make_header(stamp_ns, parent_frame), child_frame_id=child_frame,
        transform=Transform(translation=Vector3(x=tx, y=ty, z=tz),
                            rotation=Quaternion(x=qx, y=qy, z=qz, w=qw)))


def odometry_msg(
    x_m: float, y_m: float, yaw_rad: float, speed_mps: float, yaw_rate_radps: float,
    header: Header, child_frame_id: str,
) -> Odometry:
    message = Odometry(header=header, child_frame_id=child_frame_id)
    message.pose.pose.position = Point(x=float(x_m), y=float(y_m), z=0.0)
    message.pose.pose.orientation = yaw_to_quaternion(float(yaw_rad))
    message.twist.twist.linear = Vector3(x=float(speed_mps), y=0.0, z=0.0)
    message.twist.twist.angular = Vector3(x=0.0, y=0.0, z=float(yaw_rate_radps))
    return message


def object3d_msg(
    object_id: int, class_name: str, center_m: Sequence[float], size_m: Sequence[float],
    yaw_rad: float, velocity_mps: Sequence[float], point_count: int, score: float = 1.0,
) -> msg.Object3D:
    return msg.Object3D(
        id=int(object_id), class_name=str(class_name), score=float(score),
        center_m=Point(x=float(center_m[0]), y=float(center_m[1]), z=float(center_m[2])),
        size_m=Vector3(x=float(size_m[0]), y=float(size_m[1]), z=float(size_m[2])),
        yaw_rad=float(yaw_rad),
        velocity_mps=Vector3(
            x=float(velocity_mps[0]), y=float(velocity_mps[1]), z=float(velocity_mps[2])
        ),
        point_count=int(point_count),
    )


def object3d_array_msg(objects: Sequence[msg.Object3D], header: Header,
                       processing_time_ms: float = 0.0) -> msg.Object3DArray:
    return msg.Object3DArray(header=header, objects=list(objects),
                             processing_time_ms=float(processing_time_ms))


def _xyz(v: Any) -> tuple[float, float, float]:
    return (float(v.x), float(v.y), float(v.z))


# ------------------------------------------------------------------ detections and objects


def detections_to_msg(detections: Sequence[Detection2D], header: Header, image_width_px: int,
                      image_height_px: int, processing_time_ms: float) -> msg.Detection2DArray:
    out = msg.Detection2DArray(header=header, image_width_px=int(image_width_px),
                               image_height_px=int(image_height_px),
                               processing_time_ms=float(processing_time_ms))
    out.detections = [
        msg.Detection2D(class_id=int(d.class_id), class_name=d.class_name, score=float(d.score),
                        x_min_px=float(d.box_px[0]), y_min_px=float(d.box_px[1]),
                        x_max_px=float(d.box_px[2]), y_max_px=float(d.box_px[3]), track_id=-1)
        for d in detections
    ]
    return out


def detection_arrays(message: msg.Detection2DArray
                     ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(N, 4) boxes x_min, y_min, x_max, y_max in pixels, class names, (N,) scores: the
    fuser's array input, without a record per detection."""
    dets = message.detections
    boxes = np.array([[d.x_min_px, d.y_min_px, d.x_max_px, d.y_max_px] for d in dets],
                     dtype=float).reshape(-1, 4)
    return boxes, [d.class_name for d in dets], np.array([d.score for d in dets], dtype=float)


def object_arrays(message: msg.Object3DArray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(N, 3) centres, (N, 3) sizes, (N,) yaws, class names, (N,) scores: the fuser's
    array input, without a record per object."""
    objs = message.objects
    centers = np.array([_xyz(o.center_m) for o in objs], dtype=float).reshape(-1, 3)
    sizes = np.array([_xyz(o.size_m) for o in objs], dtype=float).reshape(-1, 3)
    return (centers, sizes, np.array([o.yaw_rad for o in objs], dtype=float),
            [o.class_name for o in objs], np.array([o.score for o in objs], dtype=float))


# ------------------------------------------------------------------ scene summary


def summary_to_msg(summary: SceneSummary) -> msg.SceneSummary:
    ego = summary.ego
    return msg.SceneSummary(
        header=make_header(summary.stamp_ns, "base_link"),
        ego=msg.EgoState(speed_mps=float(ego.speed_mps),
                         acceleration_mps2=float(ego.acceleration_mps2),
                         yaw_rate_radps=float(ego.yaw_rate_radps),
                         speed_limit_mps=float(ego.speed_limit_mps),
                         lane_index=int(ego.lane_index),
                         lanes_left_our_way=int(ego.lanes_left_our_way)),
        objects=[msg.TrackedObject(
            track_id=int(o.track_id), class_name=o.class_name, confidence=float(o.confidence),
            position_m=Point(x=float(o.position_m[0]), y=float(o.position_m[1]),
                             z=float(o.position_m[2])),
            size_m=Vector3(x=float(o.size_m[0]), y=float(o.size_m[1]), z=float(o.size_m[2])),
            velocity_mps=Vector3(x=float(o.velocity_mps[0]), y=float(o.velocity_mps[1]),
                                 z=float(o.velocity_mps[2])),
            distance_m=float(o.distance_m), relative_speed_mps=float(o.relative_speed_mps),
            time_to_collision_s=float(o.time_to_collision_s), lane_relation=int(o.lane_relation),
            seen_by_camera=bool(o.seen_by_camera), seen_by_lidar=bool(o.seen_by_lidar))
            for o in summary.objects],
        perception_mode=summary.perception_mode, camera_fresh=summary.camera_fresh,
        lidar_fresh=summary.lidar_fresh, odometry_fresh=summary.odometry_fresh,
        stage_latencies=[msg.StageLatency(stage=s.stage,
                                          processing_time_ms=float(s.processing_time_ms),
                                          pipeline_latency_ms=float(s.pipeline_latency_ms))
                         for s in summary.stage_latencies])


def summary_from_msg(message: msg.SceneSummary) -> SceneSummary:
    e = message.ego
    return SceneSummary(
        stamp_ns=stamp_to_ns(message.header.stamp),
        ego=EgoState(speed_mps=e.speed_mps, acceleration_mps2=e.acceleration_mps2,
                     yaw_rate_radps=e.yaw_rate_radps, speed_limit_mps=e.speed_limit_mps,
                     lane_index=e.lane_index, lanes_left_our_way=e.lanes_left_our_way),
        objects=[TrackedObject(
            track_id=o.track_id, class_name=o.class_name, confidence=o.confidence,
            position_m=_xyz(o.position_m), size_m=_xyz(o.size_m),
            velocity_mps=_xyz(o.velocity_mps), distance_m=o.distance_m,
            relative_speed_mps=o.relative_speed_mps, time_to_collision_s=o.time_to_collision_s,
            lane_relation=o.lane_relation, seen_by_camera=o.seen_by_camera,
            seen_by_lidar=o.seen_by_lidar) for o in message.objects],
        perception_mode=message.perception_mode, camera_fresh=message.camera_fresh,
        lidar_fresh=message.lidar_fresh, odometry_fresh=message.odometry_fresh,
        stage_latencies=[StageLatency(s.stage, s.processing_time_ms, s.pipeline_latency_ms)
                         for s in message.stage_latencies])


# ------------------------------------------------------------------ decisions and plans


def decision_to_msg(d: Decision, frame_id: str) -> msg.Decision:
    return msg.Decision(
        header=make_header(d.stamp_ns, frame_id), action=ACTION_INDEX[d.action],
        action_name=d.action, target_speed_mps=float(d.target_speed_mps),
        driver_object_ids=[int(i) for i in d.driver_object_ids], rationale=d.rationale,
        source=d.source, fallback_reason=d.fallback_reason, deadline_ms=float(d.deadline_ms),
        latency_ms=float(d.latency_ms), remote_plan_id=d.remote_plan_id)


def plan_to_msg(plan: RemotePlan) -> msg.RemotePlan:
    return msg.RemotePlan(
        header=make_header(plan.stamp_ns, "base_link"), request_id=plan.request_id,
        vehicle_id=plan.vehicle_id, status=plan.status,
        steps=[msg.PlannedStep(action=s.action, target_speed_mps=float(s.target_speed_mps),
                               duration_s=float(s.duration_s)) for s in plan.steps],
        rationale=plan.rationale, time_to_live_s=float(plan.time_to_live_s),
        remote_compute_ms=float(plan.remote_compute_ms), model_id=plan.model_id,
        request_sent_at=ns_to_time(max(plan.request_sent_at_ns, 0)))


def plan_from_msg(message: msg.RemotePlan) -> RemotePlan:
    return RemotePlan(
        request_id=message.request_id, vehicle_id=message.vehicle_id, status=message.status,
        stamp_ns=stamp_to_ns(message.header.stamp),
        request_sent_at_ns=stamp_to_ns(message.request_sent_at),
        steps=tuple(PlannedStep(s.action, s.target_speed_mps, s.duration_s)
                    for s in message.steps),
        rationale=message.rationale, time_to_live_s=message.time_to_live_s,
        remote_compute_ms=message.remote_compute_ms, model_id=message.model_id)


def plan_request_from_msg(message: msg.PlanRequest, received_ns: int,
                          keyframe_note: str = "") -> PlanRequest:
    """The planner's view of a request; the node checks the keyframe (keyframe_note)."""
    return PlanRequest(
        request_id=message.request_id, vehicle_id=message.vehicle_id,
        scene=summary_from_msg(message.scene), instruction=message.operator_instruction[:200],
        planning_deadline_ms=float(message.planning_deadline_ms),
        sent_at_ns=stamp_to_ns(message.sent_at), received_ns=int(received_ns),
        payload_tier=int(message.payload_tier), keyframe_note=keyframe_note)


def interpretation_to_msg(reading: Interpretation, header: Header) -> msg.OperatorIntent:
    i = reading.intent
    out = msg.OperatorIntent(header=header, instruction=reading.instruction)
    out.source = (msg.OperatorIntent.SOURCE_MODEL if reading.source == SOURCE_MODEL
                  else msg.OperatorIntent.SOURCE_REGEX)
    out.speed_cap_value = float(i.speed_cap_value)
    out.speed_cap_unit = UNIT_LABELS.get(i.speed_cap_unit, "")
    out.speed_cap_mps = float(i.speed_cap_mps)
    out.pull_over, out.stop, out.stay_in_lane = i.pull_over, i.stop, i.stay_in_lane
    out.change_lane, out.hurry, out.caution_reason = i.change_lane, i.hurry, i.caution_reason
    out.override_attempt, out.unsafe_request = i.override_attempt, i.unsafe_request
    out.interpret_ms = float(reading.interpret_ms)
    out.note = reading.note[:200]
    return out


def instruction_intent_from_msg(message: msg.OperatorIntent) -> InstructionIntent:
    """The intent a message carries; ValueError for fields outside the vocabulary."""
    unit = {label: code for code, label in UNIT_LABELS.items()}.get(message.speed_cap_unit)
    if unit is None and message.speed_cap_unit:
        raise ValueError(f"unknown speed cap unit {message.speed_cap_unit!r}")
    value = float(message.speed_cap_value)
    if unit and not (math.isfinite(value) and 0 < value <= MAX_CAP_VALUE):
        raise ValueError(f"speed cap {value} {message.speed_cap_unit} out of range")
    if message.change_lane not in ("", *LANE_SIDES):
        raise ValueError(f"unknown lane change {message.change_lane!r}")
    if message.caution_reason not in ("", *CAUTION_REASONS):
        raise ValueError(f"unknown caution reason {message.caution_reason!r}")
    return InstructionIntent(
        speed_cap_value=round(value) if unit else 0, speed_cap_unit=unit or "",
        pull_over=message.pull_over, stop=message.stop, stay_in_lane=message.stay_in_lane,
        change_lane=message.change_lane, hurry=message.hurry,
        caution_reason=message.caution_reason, override_attempt=message.override_attempt,
        unsafe_request=message.unsafe_request)
