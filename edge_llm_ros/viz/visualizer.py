"""From the pipeline's messages, in the order they come, to visualisation messages.

One state machine for both uses: `edge-llm-ros view` feeds it a recorded bag, the
foxglove_viz node feeds it live subscriptions. An image is annotated once, when the
2D detections of that very image arrive (so boxes and pixels belong together), with the
newest fused scene and decision at that moment (the simulator's ground truth while no
scene has come); without a camera detector (`wait_for_detections` False) it is annotated
with the boxes of its own instant (within SYNC_TOLERANCE_NS), waiting for them if they
come after it, and `finish()` flushes the last one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from edge_llm_ros.fusion.tf_tree import StaticTfTree, TfError, matrix_from_transform
from edge_llm_ros.viz.boxes import VizBox, boxes_from_objects, boxes_from_scene, decision_text
from edge_llm_ros.viz.overlay import annotate, image_to_rgb
from edge_llm_ros.viz.ros_messages import (
    IMAGE,
    MARKER_ARRAY,
    box_markers,
    image_message,
    static_transforms,
    text_markers,
)

#: Input role -> topic name (relative, so /car1/scene/summary is found too) and type.
INPUT_SUFFIXES: dict[str, tuple[str, str]] = {
    "image": ("camera/image_raw", "sensor_msgs/msg/Image"),
    "camera_info": ("camera/camera_info", "sensor_msgs/msg/CameraInfo"),
    "detections": ("perception/detections_2d", "edge_llm_ros/msg/Detection2DArray"),
    "lidar_objects": ("perception/objects_3d", "edge_llm_ros/msg/Object3DArray"),
    "ground_truth": ("ground_truth/objects", "edge_llm_ros/msg/Object3DArray"),
    "scene": ("scene/summary", "edge_llm_ros/msg/SceneSummary"),
    "decision": ("decision", "edge_llm_ros/msg/Decision"),
    "tf_static": ("tf_static", "tf2_msgs/msg/TFMessage"),
}
#: Output role -> topic and type. /viz/objects: the fused, tracked objects the reasoner
#: sees (ids, speed, TTC); /viz/lidar_objects and /viz/ground_truth: the lidar detector's
#: and the simulator's boxes; /viz/decision: the decision as text above the ego vehicle.
VIZ_TOPICS: dict[str, tuple[str, str]] = {
    "objects": ("/viz/objects", MARKER_ARRAY),
    "lidar_objects": ("/viz/lidar_objects", MARKER_ARRAY),
    "ground_truth": ("/viz/ground_truth", MARKER_ARRAY),
    "decision": ("/viz/decision", MARKER_ARRAY),
    "image": ("/viz/image_annotated", IMAGE),
}
#: The sensor mounting, for a 3D view that shows the lidar frame's boxes and points beside
#: base_link's.
TF_STATIC = "/tf_static"
#: Boxes (a scene, ground truth) this close to an image's stamp are of its instant.
SYNC_TOLERANCE_NS = 50_000_000
#: How long (in sensor time) an image waits for its detections, and detections for their
#: image: a loaded camera detector answers a second or more late; at most IMAGE_BUFFER
#: of either are held.
HOLD_NS = 3_000_000_000
IMAGE_BUFFER = 64


def role_of(topic: str) -> str | None:
    """The input role of a topic name (any namespace), None for topics not visualised."""
    if topic.startswith("/viz/"):
        return None
    for role, (suffix, _) in INPUT_SUFFIXES.items():
        if topic.rstrip("/").endswith("/" + suffix) or topic == suffix:
            return role
    return None


def _keep(buffer: OrderedDict[int, Any], stamp: int, message: Any,
          on_drop: Callable[[], None]) -> None:
    """Buffer `message` by stamp, dropping what is older than HOLD_NS before the newest,
    and the oldest beyond IMAGE_BUFFER."""
    buffer[stamp] = message
    newest = max(buffer)
    while buffer and (len(buffer) > IMAGE_BUFFER or next(iter(buffer)) < newest - HOLD_NS):
        buffer.popitem(last=False)
        on_drop()


def stamp_ns(message: Any) -> int:
    s = message.header.stamp
    return int(s.sec) * 1_000_000_000 + int(s.nanosec)


@dataclass(frozen=True)
class SensorRig:
    """The sensor frames and scene_fusion's extrinsics (4x4, T_a_from_b maps b to a)."""

    T_camera_from_lidar: np.ndarray
    T_base_from_lidar: np.ndarray
    lidar_frame: str = "lidar"
    base_frame: str = "base_link"
    camera_frame: str = "camera_optical"

    def camera_from(self) -> dict[str, np.ndarray]:
        """Frame -> transform into the camera optical frame (lidar and base frames)."""
        T_cl = np.asarray(self.T_camera_from_lidar, dtype=float).reshape(4, 4)
        T_bl = np.asarray(self.T_base_from_lidar, dtype=float).reshape(4, 4)
        return {self.lidar_frame: T_cl, self.base_frame: T_cl @ np.linalg.inv(T_bl)}

    def base_from(self) -> dict[str, np.ndarray]:
        """Sensor frame -> its mounting in the base frame (what /tf_static says)."""
        T_cl = np.asarray(self.T_camera_from_lidar, dtype=float).reshape(4, 4)
        T_bl = np.asarray(self.T_base_from_lidar, dtype=float).reshape(4, 4)
        return {self.lidar_frame: T_bl, self.camera_frame: T_bl @ np.linalg.inv(T_cl)}

    def tf_static(self, typestore: Typestore, stamp_ns: int) -> Any:
        """The mounting as a tf2_msgs/TFMessage for /tf_static."""
        return static_transforms(typestore, stamp_ns, self.base_frame, self.base_from())


def camera_transforms(T_camera_from_lidar: np.ndarray, T_base_from_lidar: np.ndarray,
                      lidar_frame: str = "lidar", base_frame: str = "base_link"
                      ) -> dict[str, np.ndarray]:
    """Frame -> 4x4 transform into the camera optical frame, for the lidar and base frames
    (scene_fusion's extrinsics)."""
    return SensorRig(T_camera_from_lidar, T_base_from_lidar, lidar_frame,
                     base_frame).camera_from()


@dataclass(frozen=True)
class VizOutput:
    """One visualisation message: its role, topic, type, sensor stamp and the message
    (a rosbags object); annotated images keep their pixels too, for PNG files."""

    role: str
    topic: str
    msgtype: str
    stamp_ns: int
    message: Any
    image_rgb: np.ndarray | None = None


class Visualizer:
    """Feed it (role, message) in arrival order; it returns what to show."""

    def __init__(self, typestore: Typestore, T_camera_from: dict[str, np.ndarray],
                 wait_for_detections: bool = True) -> None:
        self.typestore = typestore
        self.T_camera_from = T_camera_from
        self.wait_for_detections = wait_for_detections
        self.K: np.ndarray | None = None
        self.scene: Any | None = None
        self.decision: Any | None = None
        self.ground_truth: list[VizBox] | None = None  # drawn only while no scene came
        self._ground_truth_stamp: int | None = None
        self._pending: Any | None = None  # an image waiting for the boxes of its time
        # Images waiting for their detections, and detections that came before their image.
        self._images: OrderedDict[int, Any] = OrderedDict()
        self._detections: OrderedDict[int, Any] = OrderedDict()
        self.skipped: dict[str, int] = {}  # why inputs were not shown -> count
        # /tf_static as it came (a KITTI import's tree, say): where it joins a box's frame
        # to the image's, it wins over the configured extrinsics.
        self.tree = StaticTfTree()

    def _out(self, role: str, stamp: int, message: Any, rgb: np.ndarray | None = None
             ) -> VizOutput:
        topic, msgtype = VIZ_TOPICS[role]
        return VizOutput(role, topic, msgtype, stamp, message, rgb)

    def on_message(self, role: str, message: Any) -> list[VizOutput]:
        """The visualisation `message` (of input role `role`) gives rise to."""
        if role == "tf_static":
            for t in message.transforms:
                v, q = t.transform.translation, t.transform.rotation
                try:
                    self.tree.set(str(t.header.frame_id), str(t.child_frame_id),
                                  matrix_from_transform((v.x, v.y, v.z), (q.x, q.y, q.z, q.w)))
                except TfError as exc:
                    self._skip(f"transform: {exc}")
            return []
        if role == "camera_info":
            self.K = np.asarray(message.k, dtype=float).reshape(3, 3)
            return []
        if role == "image":
            if not self.wait_for_detections:
                return self._image_without_detections(message)
            detections = self._detections.pop(stamp_ns(message), None)
            if detections is not None:  # they came first (a large image travels slower)
                return self._annotated(message, detections.detections)
            _keep(self._images, stamp_ns(message), message,
                  lambda: self._skip("image without detections"))
            return []
        if role == "detections":
            image = self._images.pop(stamp_ns(message), None)
            if image is None:
                _keep(self._detections, stamp_ns(message), message,
                      lambda: self._skip("detections without their image"))
                return []
            return self._annotated(image, message.detections)
        if role in ("lidar_objects", "ground_truth"):
            boxes = boxes_from_objects(message)
            frame = str(message.header.frame_id)
            out = [self._out(role, stamp_ns(message), box_markers(
                self.typestore, boxes, stamp_ns(message), frame, role))]
            if role != "ground_truth":
                return out
            if self.scene is not None:  # fusion runs: its objects are what images show
                self.ground_truth = boxes
                return out
            return self._boxes_came(stamp_ns(message), lambda: setattr(
                self, "ground_truth", boxes)) + out
        if role == "scene":
            frame = str(message.header.frame_id) or "base_link"
            out = [self._out("objects", stamp_ns(message), box_markers(
                self.typestore, boxes_from_scene(message), stamp_ns(message), frame,
                "tracked"))]
            return self._boxes_came(stamp_ns(message), lambda: setattr(
                self, "scene", message)) + out
        if role == "decision":
            self.decision = message
            frame = str(message.header.frame_id) or "base_link"
            return [self._out("decision", stamp_ns(message), text_markers(
                self.typestore, decision_text(message), stamp_ns(message), frame, "decision"))]
        raise ValueError(f"unknown input role '{role}' (known: {', '.join(INPUT_SUFFIXES)})")

    def finish(self) -> list[VizOutput]:
        """What is still held back (the last image of a bag) with what is known now."""
        image, self._pending = self._pending, None
        return self._annotated(image, ()) if image is not None else []

    def _boxes_stamp(self) -> int | None:
        """Stamp of the boxes an image would show now: the scene's, else ground truth's."""
        if self.scene is not None:
            return stamp_ns(self.scene)
        return self._ground_truth_stamp

    def _image_without_detections(self, image: Any) -> list[VizOutput]:
        """Annotate now if the boxes known are of this image's time, else hold the image
        until they come (the sweep of the same instant may follow it)."""
        out = self.finish()
        have = self._boxes_stamp()
        if have is not None and abs(have - stamp_ns(image)) <= SYNC_TOLERANCE_NS:
            return out + self._annotated(image, ())
        self._pending = image
        return out

    def _boxes_came(self, stamp: int, update: Callable[[], None]) -> list[VizOutput]:
        """New boxes at `stamp`: an image held for boxes of its time is annotated with the
        old ones if these are later than its time, with these if they are of its time."""
        out: list[VizOutput] = []
        image = self._pending
        if image is not None and stamp > stamp_ns(image) + SYNC_TOLERANCE_NS:
            out = self.finish()
        update()
        if self.scene is None:
            self._ground_truth_stamp = stamp
        image = self._pending
        if image is not None and abs(stamp - stamp_ns(image)) <= SYNC_TOLERANCE_NS:
            out += self.finish()
        return out

    def camera_from(self, camera_frame: str) -> dict[str, np.ndarray]:
        """Frame -> transform into `camera_frame`: from /tf_static where it joins them,
        else the configured extrinsics."""
        out = dict(self.T_camera_from)
        if camera_frame in self.tree.frames:
            for frame in self.tree.frames:
                T = self.tree.lookup(camera_frame, frame)
                if T is not None:
                    out[frame] = T
        return out

    def banner(self) -> list[str]:
        """The lines written over the image: the newest decision and scene."""
        lines = []
        if self.decision is not None:
            lines.append(decision_text(self.decision))
        if self.scene is not None:
            s = self.scene
            lines.append(f"scene {s.perception_mode}: {len(s.objects)} tracked, ego "
                         f"{float(s.ego.speed_mps):.1f} m/s")
        elif self.ground_truth is not None:
            lines.append(f"ground truth: {len(self.ground_truth)} objects (no scene yet)")
        return lines

    def _annotated(self, image: Any, detections: Any) -> list[VizOutput]:
        try:
            rgb = image_to_rgb(image)
        except ValueError as exc:
            self._skip(str(exc))
            return []
        # without fusion (a bare simulator) the boxes it knows are there
        boxes = (boxes_from_scene(self.scene) if self.scene is not None
                 else self.ground_truth or [])
        canvas = annotate(rgb, detections, boxes, self.camera_from(str(image.header.frame_id)),
                          self.K, self.banner())
        stamp = stamp_ns(image)
        message = image_message(self.typestore, canvas, stamp, str(image.header.frame_id))
        return [self._out("image", stamp, message, canvas)]

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
