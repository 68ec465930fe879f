"""KITTI (object layout or raw drive) -> a rosbag2 MCAP bag the pipeline replays as is.

Topics are the ones the nodes subscribe to by default (root namespace):
    /lidar/points        sensor_msgs/PointCloud2  x, y, z, intensity float32; frame velodyne
    /camera/image_raw    sensor_msgs/Image        bgr8 (as OpenCV decodes the PNG); cam2_rect
    /camera/camera_info  sensor_msgs/CameraInfo   K, P from P2; R identity; no distortion
    /tf_static           tf2_msgs/TFMessage       the tree below, offered transient-local
    /odom                nav_msgs/Odometry        raw drives with oxts/ only: speed and yaw
                                                  rate, pose in "map" (kitti_oxts.py)

The transform tree (parent -> child), each edge straight from the calibration:
    base_link -> velodyne   the road point under the Velodyne (1.73 m up, axes aligned),
                            as `edge-llm-ros perceive` defines base_link for KITTI
    velodyne -> cam0        Tr_velo_to_cam: camera 0 before rectification
    cam0 -> cam0_rect       R0_rect: the rectified camera 0 frame (KITTI's reference frame)
    cam0_rect -> cam2_rect  camera 2's offset, K^-1 P2[:, 3] (6 cm: the colour camera)

`cam2_rect` is the optical frame (x right, y down, z forward) of image_02 as stored:
KITTI's images are already rectified, so a point X in cam2_rect lands on the pixel
K @ X, with K = P2[:, :3]. CameraInfo therefore says: no distortion, R identity (the
rectifying rotation is in the tree, between cam0 and cam0_rect) and P = P2 verbatim,
ROS's stereo convention with camera 0 as the rig's first camera (P2's fourth column
is the offset from it), so KITTI's projection can be read back from the bag.

Frames of the object layout come from different drives with different calibrations:
/tf_static is written again (stamped with that frame) whenever the extrinsics change,
and a listener that keeps the latest transform per child follows.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from rosbags.typesys.store import Typestore

from edge_llm_ros.bag import BagRecorder, build_typestore, serialize
from edge_llm_ros.fusion.tf_tree import (
    StaticTransform,
    invert,
    nearest_rotation,
    transform_from_matrix,
)
from edge_llm_ros.perception.kitti import KittiFormatError, read_kitti_bin
from edge_llm_ros.tools.importers.kitti_oxts import OxtsSample, PlanarPose, read_oxts
from edge_llm_ros.tools.importers.kitti_source import (
    DEFAULT_RATE_HZ,
    KittiFrame,
    KittiImportError,
    KittiRig,
    KittiSource,
    Layout,
    read_source,
)

TOPIC_POINTS = "/lidar/points"
TOPIC_IMAGE = "/camera/image_raw"
TOPIC_CAMERA_INFO = "/camera/camera_info"
TOPIC_TF_STATIC = "/tf_static"

FRAME_BASE = "base_link"
FRAME_LIDAR = "velodyne"
FRAME_CAM0 = "cam0"
FRAME_CAM0_RECT = "cam0_rect"
FRAME_CAMERA = "cam2_rect"
FRAME_MAP = "map"  # east-north plane from the drive's first OXTS sample
TOPIC_ODOM = "/odom"

# A KITTI Velodyne sits 1.73 m above the road (the data set's paper); base_link is the
# road below it, the same as tools/offline/perceive.py's KITTI_LIDAR_HEIGHT_M.
KITTI_LIDAR_HEIGHT_M = 1.73

IMAGE_ENCODING = "bgr8"
_FLOAT32 = 7  # sensor_msgs/PointField.FLOAT32

# What tf2's static broadcaster offers, so a late subscriber still gets the tree.
TF_STATIC_QOS_YAML = """- history: keep_last
  depth: 1
  reliability: reliable
  durability: transient_local
  deadline: {sec: 9223372036, nsec: 854775807}
  lifespan: {sec: 9223372036, nsec: 854775807}
  liveliness: automatic
  liveliness_lease_duration: {sec: 9223372036, nsec: 854775807}
  avoid_ros_namespace_conventions: false
"""


@dataclass
class ImportReport:
    """What an import wrote and what it skipped (reason -> frame names)."""

    bag: Path
    layout: Layout
    stamps_from: str
    frames_written: int = 0
    tf_static_messages: int = 0
    odometry_messages: int = 0
    first_stamp_ns: int = 0
    last_stamp_ns: int = 0
    skipped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)

    @property
    def frames_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    def as_dict(self) -> dict[str, Any]:
        return {"bag": str(self.bag), "layout": self.layout, "stamps_from": self.stamps_from,
                "frames_written": self.frames_written, "frames_skipped": self.frames_skipped,
                "skipped": {k: list(v) for k, v in self.skipped.items()},
                "tf_static_messages": self.tf_static_messages,
                "odometry_messages": self.odometry_messages,
                "duration_s": round((self.last_stamp_ns - self.first_stamp_ns) / 1e9, 3),
                "notes": list(self.notes)}


def camera_offset_m(P2: np.ndarray) -> np.ndarray:
    """Camera 2's position term t in P2 = K [I | t]: cam2 = cam0_rect + t."""
    return np.linalg.solve(np.asarray(P2)[:, :3], np.asarray(P2)[:, 3])


def _rigid(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = nearest_rotation(rotation)
    m[:3, 3] = translation
    return m


def rig_transforms(rig: KittiRig) -> list[StaticTransform]:
    """The four edges of the tree (parent_from_child), see the module docstring. Printed
    rotations are orthonormal only to ~1e-7: each is snapped to the nearest rotation."""
    velo_to_cam0 = _rigid(rig.Tr_velo_to_cam[:, :3], rig.Tr_velo_to_cam[:, 3])
    rect_from_cam0 = _rigid(rig.R0_rect, np.zeros(3))
    base_T_velo = np.eye(4)
    base_T_velo[2, 3] = KITTI_LIDAR_HEIGHT_M
    rect_T_cam2 = np.eye(4)
    rect_T_cam2[:3, 3] = -camera_offset_m(rig.P2)
    return [StaticTransform(FRAME_BASE, FRAME_LIDAR, base_T_velo),
            StaticTransform(FRAME_LIDAR, FRAME_CAM0, invert(velo_to_cam0)),
            StaticTransform(FRAME_CAM0, FRAME_CAM0_RECT, invert(rect_from_cam0)),
            StaticTransform(FRAME_CAM0_RECT, FRAME_CAMERA, rect_T_cam2)]


class _Messages:
    """Builds the rosbags message objects of one typestore."""

    def __init__(self, typestore: Typestore) -> None:
        self.ts = typestore
        self.t = typestore.types

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        sec, nanosec = divmod(stamp_ns, 1_000_000_000)
        return self.t["std_msgs/msg/Header"](
            stamp=self.t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
            frame_id=frame_id)

    def points(self, stamp_ns: int, xyzi: np.ndarray) -> bytes:
        field_type = self.t["sensor_msgs/msg/PointField"]
        fields = [field_type(name=n, offset=4 * i, datatype=_FLOAT32, count=1)
                  for i, n in enumerate(("x", "y", "z", "intensity"))]
        n = len(xyzi)
        msg = self.t["sensor_msgs/msg/PointCloud2"](
            header=self.header(stamp_ns, FRAME_LIDAR), height=1, width=n, fields=fields,
            is_bigendian=False, point_step=16, row_step=16 * n,
            data=np.ascontiguousarray(xyzi, dtype="<f4").view(np.uint8).reshape(-1),
            is_dense=bool(np.isfinite(xyzi[:, :3]).all()))
        return serialize(self.ts, msg, "sensor_msgs/msg/PointCloud2")

    def image(self, stamp_ns: int, bgr: np.ndarray) -> bytes:
        h, w = bgr.shape[:2]
        msg = self.t["sensor_msgs/msg/Image"](
            header=self.header(stamp_ns, FRAME_CAMERA), height=h, width=w,
            encoding=IMAGE_ENCODING, is_bigendian=0, step=3 * w,
            data=np.ascontiguousarray(bgr).reshape(-1))
        return serialize(self.ts, msg, "sensor_msgs/msg/Image")

    def camera_info(self, stamp_ns: int, rig: KittiRig, width: int, height: int) -> bytes:
        roi = self.t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0,
                                                         width=0, do_rectify=False)
        msg = self.t["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp_ns, FRAME_CAMERA), height=height, width=width,
            distortion_model="plumb_bob", d=np.zeros(5), k=rig.P2[:, :3].reshape(-1).copy(),
            r=np.eye(3).reshape(-1), p=rig.P2.reshape(-1).copy(), binning_x=0, binning_y=0,
            roi=roi)
        return serialize(self.ts, msg, "sensor_msgs/msg/CameraInfo")

    def odometry(self, stamp_ns: int, sample: OxtsSample, pose: PlanarPose) -> bytes:
        g = self.t
        x, y, yaw = pose(sample)
        msg = g["nav_msgs/msg/Odometry"](
            header=self.header(stamp_ns, FRAME_MAP), child_frame_id=FRAME_BASE,
            pose=g["geometry_msgs/msg/PoseWithCovariance"](
                pose=g["geometry_msgs/msg/Pose"](
                    position=g["geometry_msgs/msg/Point"](x=x, y=y, z=0.0),
                    orientation=g["geometry_msgs/msg/Quaternion"](
                        x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))),
                covariance=np.zeros(36)),
            twist=g["geometry_msgs/msg/TwistWithCovariance"](
                twist=g["geometry_msgs/msg/Twist"](
                    linear=g["geometry_msgs/msg/Vector3"](x=sample.forward_speed_mps, y=0.0,
                                                          z=0.0),
                    angular=g["geometry_msgs/msg/Vector3"](x=0.0, y=0.0,
                                                           z=sample.yaw_rate_radps)),
                covariance=np.zeros(36)))
        return serialize(self.ts, msg, "nav_msgs/msg/Odometry")

    def tf_static(self, stamp_ns: int, edges: list[StaticTransform]) -> bytes:
        g = self.t
        transforms = []
        for e in edges:
            (tx, ty, tz), (qx, qy, qz, qw) = transform_from_matrix(e.parent_from_child)
            transforms.append(g["geometry_msgs/msg/TransformStamped"](
                header=self.header(stamp_ns, e.parent), child_frame_id=e.child,
                transform=g["geometry_msgs/msg/Transform"](
                    translation=g["geometry_msgs/msg/Vector3"](x=tx, y=ty, z=tz),
                    rotation=g["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw))))
        return serialize(self.ts, g["tf2_msgs/msg/TFMessage"](transforms=transforms),
                         "tf2_msgs/msg/TFMessage")


def _read_frame(frame: KittiFrame) -> tuple[np.ndarray, np.ndarray] | str:
    """(scan, image) of a frame, or why it must be skipped."""
    if frame.rig is None:
        return frame.problem or "no calibration"
    if frame.scan is None:
        return "image without scan"
    if frame.image is None:
        return "scan without image"
    try:
        scan = read_kitti_bin(frame.scan)
    except (KittiFormatError, OSError) as exc:
        return f"corrupt scan ({exc})"
    if len(scan) == 0:
        return f"corrupt scan ({frame.scan}: no points)"
    image = cv2.imread(str(frame.image), cv2.IMREAD_COLOR)
    if image is None:
        return f"unreadable image ({frame.image})"
    return scan, image


def _reason_key(reason: str) -> str:
    """'corrupt scan (…details…)' -> 'corrupt scan': the count groups by kind."""
    return reason.split(" (", 1)[0].split(":", 1)[0]


def write_bag(source: KittiSource, out: str | Path,
              log: Callable[[str], None] | None = None) -> ImportReport:
    """Write `source`'s frames to a new MCAP bag at `out`. A frame that cannot be read is
    skipped and counted; if none can, KittiImportError and no bag is left behind."""
    report = ImportReport(Path(out).expanduser(), source.layout, source.stamps_from,
                          notes=list(source.notes))
    typestore = build_typestore()
    messages = _Messages(typestore)
    last_rig: KittiRig | None = None
    with BagRecorder(report.bag, "mcap", typestore) as bag:
        bag.add_topic(TOPIC_TF_STATIC, "tf2_msgs/msg/TFMessage", TF_STATIC_QOS_YAML)
        bag.add_topic(TOPIC_CAMERA_INFO, "sensor_msgs/msg/CameraInfo")
        bag.add_topic(TOPIC_IMAGE, "sensor_msgs/msg/Image")
        bag.add_topic(TOPIC_POINTS, "sensor_msgs/msg/PointCloud2")
        if any(f.oxts is not None for f in source.frames):
            bag.add_topic(TOPIC_ODOM, "nav_msgs/msg/Odometry")
        pose = PlanarPose()
        for frame in source.frames:
            got = _read_frame(frame)
            if isinstance(got, str):
                report.skipped[_reason_key(got)].append(frame.name)
                if log:
                    log(f"skipping frame {frame.name}: {got}")
                continue
            scan, image = got
            assert frame.rig is not None
            first = min(frame.lidar_stamp_ns, frame.camera_stamp_ns,
                        *((frame.oxts_stamp_ns,) if frame.oxts is not None else ()))
            out_msgs: list[tuple[int, str, bytes]] = []
            if last_rig is None or not frame.rig.same_as(last_rig):
                out_msgs.append((first, TOPIC_TF_STATIC,
                                 messages.tf_static(first, rig_transforms(frame.rig))))
                report.tf_static_messages += 1
                last_rig = frame.rig
            h, w = image.shape[:2]
            out_msgs += [
                (frame.camera_stamp_ns, TOPIC_CAMERA_INFO,
                 messages.camera_info(frame.camera_stamp_ns, frame.rig, w, h)),
                (frame.camera_stamp_ns, TOPIC_IMAGE, messages.image(frame.camera_stamp_ns, image)),
                (frame.lidar_stamp_ns, TOPIC_POINTS, messages.points(frame.lidar_stamp_ns, scan)),
            ]
            if frame.oxts is not None:
                try:
                    sample = read_oxts(frame.oxts)
                except ValueError as exc:
                    report.notes.append(f"no odometry for frame {frame.name}: {exc}")
                else:
                    out_msgs.append((frame.oxts_stamp_ns, TOPIC_ODOM,
                                     messages.odometry(frame.oxts_stamp_ns, sample, pose)))
                    report.odometry_messages += 1
            for stamp, topic, raw in sorted(out_msgs, key=lambda m: m[0]):
                bag.write(topic, stamp, raw)
            if report.frames_written == 0:
                report.first_stamp_ns = first
            report.last_stamp_ns = max(report.last_stamp_ns, frame.lidar_stamp_ns,
                                       frame.camera_stamp_ns)
            report.frames_written += 1
        if report.frames_written == 0:
            counts = Counter({k: len(v) for k, v in report.skipped.items()})
            raise KittiImportError(
                f"{source.root}: no frame could be imported ("
                + ", ".join(f"{n} {k}" for k, n in counts.most_common()) + "); no bag written")
    report.skipped = dict(report.skipped)
    return report


def import_kitti(src: str | Path, out: str | Path,
                 layout: Layout | Literal["auto"] = "auto", rate_hz: float = DEFAULT_RATE_HZ,
                 max_frames: int | None = None,
                 log: Callable[[str], None] | None = None, hold: int = 1) -> ImportReport:
    """Read a KITTI folder and write it as a bag (see the module docstring)."""
    out_path = Path(out).expanduser()
    if out_path.exists():
        raise KittiImportError(f"{out_path}: already exists; not overwriting it")
    return write_bag(read_source(src, layout, rate_hz, max_frames, hold), out_path, log)
