"""Fixtures for the bag tests: a typestore, sample messages of every kind, a bag writer."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.typesys.store import Typestore

from edge_llm_ros.bag import BagRecorder, build_typestore, serialize

# One sample: (topic, msgtype, receive stamp ns, message object).
Sample = tuple[str, str, int, Any]

T0_NS = 1_700_000_000_000_000_000  # a realistic epoch stamp
STEP_NS = 50_000_000  # 20 Hz


@pytest.fixture(scope="session")
def typestore() -> Typestore:
    return build_typestore()


def _header(ts: Typestore, stamp_ns: int, frame_id: str) -> Any:
    t = ts.types
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    return t["std_msgs/msg/Header"](
        stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id
    )


def make_samples(ts: Typestore) -> list[Sample]:
    """Standard sensor messages and every interesting edge_llm_ros message, 20 Hz apart.

    Float values are exact in float32 so a round trip compares with ==.
    """
    t = ts.types
    pkg = "edge_llm_ros/msg/"
    vec3, point = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Point"]
    stamp = iter(range(T0_NS, T0_NS + 100 * STEP_NS, STEP_NS))

    def at() -> int:
        return next(stamp)

    samples: list[Sample] = []

    s = at()
    image = t["sensor_msgs/msg/Image"](
        header=_header(ts, s, "camera_optical"),
        height=4,
        width=6,
        encoding="rgb8",
        is_bigendian=0,
        step=18,
        data=np.arange(72, dtype=np.uint8),
    )
    samples.append(("/camera/image_raw", "sensor_msgs/msg/Image", s, image))

    s = at()
    field = t["sensor_msgs/msg/PointField"]
    cloud_points = np.arange(3 * 4, dtype=np.float32).reshape(3, 4)
    cloud = t["sensor_msgs/msg/PointCloud2"](
        header=_header(ts, s, "lidar"),
        height=1,
        width=3,
        fields=[
            field(name=n, offset=4 * i, datatype=field.FLOAT32, count=1)
            for i, n in enumerate(("x", "y", "z", "intensity"))
        ],
        is_bigendian=False,
        point_step=16,
        row_step=48,
        data=np.frombuffer(cloud_points.tobytes(), dtype=np.uint8).copy(),
        is_dense=True,
    )
    samples.append(("/lidar/points", "sensor_msgs/msg/PointCloud2", s, cloud))

    s = at()
    odom = t["nav_msgs/msg/Odometry"](
        header=_header(ts, s, "odom"),
        child_frame_id="base_link",
        pose=t["geometry_msgs/msg/PoseWithCovariance"](
            pose=t["geometry_msgs/msg/Pose"](
                position=point(x=12.5, y=-3.25, z=0.0),
                orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.5, w=0.75),
            ),
            covariance=np.linspace(0.0, 3.5, 36),
        ),
        twist=t["geometry_msgs/msg/TwistWithCovariance"](
            twist=t["geometry_msgs/msg/Twist"](
                linear=vec3(x=8.5, y=0.0, z=0.0), angular=vec3(x=0.0, y=0.0, z=0.125)
            ),
            covariance=np.zeros(36),
        ),
    )
    samples.append(("/odom", "nav_msgs/msg/Odometry", s, odom))

    s = at()
    scene_cls = t[pkg + "SceneSummary"]
    tracked = t[pkg + "TrackedObject"]
    scene = scene_cls(
        header=_header(ts, s, "base_link"),
        ego=t[pkg + "EgoState"](
            speed_mps=13.5,
            acceleration_mps2=-0.5,
            yaw_rate_radps=0.03125,
            speed_limit_mps=13.875,
            lane_index=1,
            lanes_left_our_way=0,
        ),
        objects=[
            tracked(
                track_id=7,
                class_name="car",
                confidence=0.875,
                position_m=point(x=14.0, y=0.25, z=0.5),
                size_m=vec3(x=4.5, y=1.75, z=1.5),
                velocity_mps=vec3(x=-2.0, y=0.0, z=0.0),
                distance_m=11.5,
                relative_speed_mps=6.0,
                time_to_collision_s=1.9375,
                lane_relation=tracked.LANE_EGO,
                seen_by_camera=True,
                seen_by_lidar=True,
            ),
            tracked(
                track_id=9,
                class_name="pedestrian",
                confidence=0.5,
                position_m=point(x=20.0, y=4.0, z=0.0),
                size_m=vec3(x=0.5, y=0.5, z=1.75),
                velocity_mps=vec3(x=0.0, y=-1.25, z=0.0),
                distance_m=19.0,
                relative_speed_mps=-1.0,
                time_to_collision_s=math.inf,
                lane_relation=tracked.LANE_OFF_ROAD,
                seen_by_camera=True,
                seen_by_lidar=False,
            ),
        ],
        perception_mode=scene_cls.MODE_FUSED,
        camera_fresh=True,
        lidar_fresh=True,
        odometry_fresh=False,
        stage_latencies=[
            t[pkg + "StageLatency"](
                stage="camera_detector", processing_time_ms=21.5, pipeline_latency_ms=30.25
            ),
            t[pkg + "StageLatency"](
                stage="scene_fusion", processing_time_ms=2.75, pipeline_latency_ms=41.0
            ),
        ],
    )
    samples.append(("/scene/summary", pkg + "SceneSummary", s, scene))

    s = at()
    decision_cls = t[pkg + "Decision"]
    decision = decision_cls(
        header=_header(ts, s, "base_link"),
        action=decision_cls.ACTION_SLOW_DOWN,
        action_name="slow_down",
        target_speed_mps=8.0,
        driver_object_ids=np.array([7, 9], dtype=np.uint32),
        rationale="car braking ahead in ego lane, TTC 1.9 s",
        source=decision_cls.SOURCE_FALLBACK_RULE,
        fallback_reason="model missed the 150 ms deadline",
        deadline_ms=150.0,
        latency_ms=152.5,
        remote_plan_id="",
    )
    samples.append(("/reasoner/decision", pkg + "Decision", s, decision))

    s = at()
    request_cls = t[pkg + "PlanRequest"]
    time_cls = t["builtin_interfaces/msg/Time"]
    request = request_cls(
        header=_header(ts, s, "base_link"),
        request_id="veh1-000042",
        vehicle_id="veh1",
        scene=scene,
        operator_instruction="stop at the next bus stop",
        payload_tier=request_cls.TIER_SUMMARY_AND_KEYFRAME,
        keyframe=t["sensor_msgs/msg/CompressedImage"](
            header=_header(ts, s, "camera_optical"),
            format="jpeg",
            data=np.frombuffer(b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9", dtype=np.uint8).copy(),
        ),
        planning_deadline_ms=800.0,
        sent_at=time_cls(sec=1_700_000_000, nanosec=250_000_000),
    )
    samples.append(("/offload/plan_request", pkg + "PlanRequest", s, request))

    s = at()
    plan_cls = t[pkg + "RemotePlan"]
    plan = plan_cls(
        header=_header(ts, s, "base_link"),
        request_id="veh1-000042",
        vehicle_id="veh1",
        status=plan_cls.STATUS_OK,
        steps=[
            t[pkg + "PlannedStep"](action=1, target_speed_mps=8.0, duration_s=2.0),
            t[pkg + "PlannedStep"](action=0, target_speed_mps=12.5, duration_s=4.5),
        ],
        rationale="slow for the braking car, then resume",
        time_to_live_s=3.0,
        remote_compute_ms=412.5,
        model_id="remote-llm-7b",
        request_sent_at=time_cls(sec=1_700_000_000, nanosec=250_000_000),
    )
    samples.append(("/remote/plan", pkg + "RemotePlan", s, plan))

    # A second round of the sensor topics, so each topic has several messages.
    for topic, msgtype, _, msg in samples[:3]:
        samples.append((topic, msgtype, at(), msg))
    return samples


@pytest.fixture
def samples(typestore: Typestore) -> list[Sample]:
    return make_samples(typestore)


WriteBag = Callable[..., Path]


@pytest.fixture
def write_bag(typestore: Typestore) -> WriteBag:
    """write_bag(path, storage, samples, typestore=None) -> path: records samples in order."""

    def write(path: Path, storage: str, samples: list[Sample], ts: Typestore | None = None) -> Path:
        ts = ts or typestore
        with BagRecorder(path, storage=storage, typestore=ts) as rec:  # type: ignore[arg-type]
            for topic, msgtype, _, _ in samples:
                rec.add_topic(topic, msgtype)
            for topic, msgtype, stamp, msg in samples:
                rec.write(topic, stamp, serialize(ts, msg, msgtype))
        return path

    return write


def assert_same(expected: Any, actual: Any, where: str = "msg") -> None:
    """Field-by-field exact comparison of rosbags message objects (arrays included)."""
    if dataclasses.is_dataclass(expected) and not isinstance(expected, type):
        assert type(actual).__name__ == type(expected).__name__, where
        for f in dataclasses.fields(expected):
            assert_same(getattr(expected, f.name), getattr(actual, f.name), f"{where}.{f.name}")
    elif isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), where
        assert actual.dtype == expected.dtype, f"{where}: {actual.dtype} != {expected.dtype}"
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected), where
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_same(e, a, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@pytest.fixture
def same() -> Callable[..., None]:
    """The exact message comparison (fixture, as test modules cannot import conftest)."""
    return assert_same
