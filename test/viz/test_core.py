"""The visualisation core on real records: KITTI's labelled boxes as markers (poses,
sizes, colours, labels survive CDR), and projected into the real image with the real
calibration, where they must cover the labelled 2D boxes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_llm_ros.bag import build_typestore, deserialize, serialize
from edge_llm_ros.perception.kitti import parse_kitti_calib
from edge_llm_ros.tools.evaluation.perception import KittiBox, read_kitti_labels
from edge_llm_ros.tools.offline.perceive import CameraGeometry
from edge_llm_ros.viz.boxes import VizBox, boxes_from_objects, class_colour_rgb
from edge_llm_ros.viz.overlay import annotate, image_to_rgb, projected_corners
from edge_llm_ros.viz.ros_messages import (
    CUBE,
    DELETEALL,
    MARKER_ARRAY,
    TEXT_VIEW_FACING,
    box_markers,
    image_message,
)
from edge_llm_ros.viz.visualizer import SensorRig

TS = build_typestore()
FRAMES = [f"{i:06d}" for i in range(11)]


def _labelled(kitti_dir: Path, frame: str) -> tuple[list[KittiBox], Any]:
    calib = parse_kitti_calib(kitti_dir / "calib" / f"{frame}.txt")
    boxes, _ = read_kitti_labels(kitti_dir / "label_2" / f"{frame}.txt", calib)
    return [b for b in boxes if b.class_name is not None], calib


def _object_array(boxes: list[KittiBox], stamp_ns: int) -> Any:
    """The labels as the lidar detector would publish them (Object3DArray, lidar frame)."""
    t, pkg = TS.types, "edge_llm_ros/msg/"
    point, vec3 = t["geometry_msgs/msg/Point"], t["geometry_msgs/msg/Vector3"]
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    header = t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](
        sec=sec, nanosec=nanosec), frame_id="lidar")
    objects = [t[pkg + "Object3D"](
        id=i, class_name=b.class_name, score=1.0,
        center_m=point(x=float(b.center_m[0]), y=float(b.center_m[1]), z=float(b.center_m[2])),
        size_m=vec3(x=float(b.size_m[0]), y=float(b.size_m[1]), z=float(b.size_m[2])),
        yaw_rad=float(b.yaw_rad), velocity_mps=vec3(x=0.0, y=0.0, z=0.0), point_count=0)
        for i, b in enumerate(boxes)]
    return t[pkg + "Object3DArray"](header=header, objects=objects, processing_time_ms=0.0)


def test_labelled_objects_become_cubes_with_their_pose_size_colour_and_label(
        kitti_labelled_dir: Path) -> None:
    boxes, _ = _labelled(kitti_labelled_dir, "000002")
    assert boxes
    array = _object_array(boxes, 1_700_000_000_123_456_789)
    raw = serialize(TS, box_markers(TS, boxes_from_objects(array), 1_700_000_000_123_456_789,
                                    "lidar", "lidar_objects"), MARKER_ARRAY)
    markers = deserialize(TS, raw, MARKER_ARRAY).markers
    assert markers[0].action == DELETEALL  # nothing of an earlier frame lingers
    cubes = [m for m in markers[1:] if m.type == CUBE]
    texts = [m for m in markers[1:] if m.type == TEXT_VIEW_FACING]
    assert len(cubes) == len(texts) == len(boxes)
    for box, cube, text in zip(boxes, cubes, texts, strict=True):
        assert cube.header.frame_id == "lidar"
        assert (cube.header.stamp.sec, cube.header.stamp.nanosec) == (1_700_000_000, 123_456_789)
        p, s, q = cube.pose.position, cube.scale, cube.pose.orientation
        assert [p.x, p.y, p.z] == pytest.approx(box.center_m.tolist(), abs=1e-4)
        assert [s.x, s.y, s.z] == pytest.approx(box.size_m.tolist(), abs=1e-4)
        yaw = 2.0 * math.atan2(q.z, q.w)
        assert math.cos(yaw - box.yaw_rad) == pytest.approx(1.0, abs=1e-6)
        assert (q.x, q.y) == (0.0, 0.0)
        rgb = class_colour_rgb(box.class_name)
        assert [round(cube.color.r * 255), round(cube.color.g * 255),
                round(cube.color.b * 255)] == list(rgb)
        assert 0.0 < cube.color.a < 1.0
        assert text.text.startswith(box.class_name)
        assert text.pose.position.z > p.z + s.z / 2  # the label floats above its box


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_projected_labels_cover_their_labelled_image_boxes(kitti_labelled_dir: Path) -> None:
    """KITTI labels a 3D box and, by hand, its 2D box: the projection of the 3D box with
    the real calibration must land on it (the image box of a box seen at an angle is the
    hull of its corners, so a good projection matches closely)."""
    ious = []
    for frame in FRAMES:
        boxes, calib = _labelled(kitti_labelled_dir, frame)
        geometry = CameraGeometry.from_kitti(calib)
        image = cv2.imread(str(kitti_labelled_dir / "image_2" / f"{frame}.png"))
        height, width = image.shape[:2]
        viz = [VizBox("lidar", i, b.class_name or "", tuple(b.center_m), tuple(b.size_m),
                      b.yaw_rad, "") for i, b in enumerate(boxes)]
        corners = projected_corners(viz, {"lidar": geometry.T_camera_from_lidar}, geometry.K,
                                    width, height)
        for box, uv in zip(boxes, corners, strict=True):
            x0, y0, x1, y1 = box.box_px
            if x0 < 5 or x1 > width - 5:  # cut by the image edge: its label box is too
                continue
            assert uv is not None, (frame, box)
            ious.append(_iou(box.box_px, (uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(),
                                          uv[:, 1].max())))
    assert len(ious) >= 20
    assert float(np.median(ious)) > 0.95 and min(ious) > 0.6, sorted(ious)


def test_a_box_behind_the_camera_or_in_an_unknown_frame_is_not_drawn(kitti_dir: Path) -> None:
    geometry = CameraGeometry.from_kitti(parse_kitti_calib(kitti_dir / "000002.txt"))
    T = {"lidar": geometry.T_camera_from_lidar}
    behind = VizBox("lidar", 0, "car", (-10.0, 0.0, -0.8), (4.0, 1.8, 1.5), 0.0, "")
    ahead = VizBox("lidar", 1, "car", (12.0, 0.0, -0.8), (4.0, 1.8, 1.5), 0.0, "")
    elsewhere = VizBox("map", 2, "car", (12.0, 0.0, -0.8), (4.0, 1.8, 1.5), 0.0, "")
    corners = projected_corners([behind, ahead, elsewhere], T, geometry.K, 1242, 375)
    assert corners[0] is None and corners[2] is None
    assert corners[1] is not None and corners[1].shape == (8, 2)


def test_annotated_kitti_frame_shows_the_boxes_in_class_colours_and_the_banner(
        kitti_labelled_dir: Path) -> None:
    boxes, calib = _labelled(kitti_labelled_dir, "000002")
    geometry = CameraGeometry.from_kitti(calib)
    rgb = cv2.cvtColor(cv2.imread(str(kitti_labelled_dir / "image_2" / "000002.png")),
                       cv2.COLOR_BGR2RGB)
    # the frame goes through sensor_msgs/Image as bgr8, as a camera driver may send it
    bgr_msg = image_message(TS, np.ascontiguousarray(rgb[..., ::-1]), 0, "camera")
    bgr_msg.encoding = "bgr8"
    decoded = image_to_rgb(deserialize(TS, serialize(TS, bgr_msg, "sensor_msgs/msg/Image"),
                                       "sensor_msgs/msg/Image"))
    assert np.array_equal(decoded, rgb)
    viz = boxes_from_objects(_object_array(boxes, 0))
    out = annotate(decoded, (), viz, {"lidar": geometry.T_camera_from_lidar}, geometry.K,
                   ["keep_lane -> 12.0 m/s | model, 40 ms of 150"])
    assert out.shape == rgb.shape and not np.array_equal(out, rgb)
    assert np.array_equal(decoded, rgb), "the input image is left as it was"
    # the banner darkens the top rows; the projected edges carry the class colour
    assert out[:8].mean() < 60 < rgb[:8].mean()
    car = class_colour_rgb("car")
    assert np.count_nonzero(np.all(out == car, axis=-1)) > 200
    assert np.count_nonzero(np.all(rgb == car, axis=-1)) < 20


def test_unsupported_image_encoding_is_named() -> None:
    msg = image_message(TS, np.zeros((4, 6, 3), dtype=np.uint8), 0, "camera")
    msg.encoding = "yuv422"
    with pytest.raises(ValueError, match="yuv422"):
        image_to_rgb(msg)


def test_the_rig_tree_and_the_projection_agree_on_kitti(kitti_dir: Path) -> None:
    """/tf_static (base_from) and the projection (camera_from) come from the same
    extrinsics: a point through base -> camera one way equals the other."""
    calib = parse_kitti_calib(kitti_dir / "000002.txt")
    geometry = CameraGeometry.from_kitti(calib)
    base_from_lidar = np.eye(4)
    base_from_lidar[2, 3] = 1.73  # the Velodyne's height over the road
    rig = SensorRig(geometry.T_camera_from_lidar, base_from_lidar, camera_frame="cam2")
    to_camera, mounts = rig.camera_from(), rig.base_from()
    assert to_camera["base_link"] @ mounts["cam2"] == pytest.approx(np.eye(4), abs=1e-9)
    assert to_camera["lidar"] == pytest.approx(to_camera["base_link"] @ mounts["lidar"])
    tf = deserialize(TS, serialize(TS, rig.tf_static(TS, 7), "tf2_msgs/msg/TFMessage"),
                     "tf2_msgs/msg/TFMessage")
    cam = next(t.transform for t in tf.transforms if t.child_frame_id == "cam2")
    # KITTI's camera 2 sits about 0.27 m ahead of the Velodyne, 1.65 m above the road
    assert cam.translation.x == pytest.approx(0.27, abs=0.05)
    assert cam.translation.z == pytest.approx(1.73 - 0.08, abs=0.05)
    assert math.hypot(cam.rotation.x, cam.rotation.y, cam.rotation.z,
                      cam.rotation.w) == pytest.approx(1.0)
