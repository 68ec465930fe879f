"""The visualiser's timing without a camera detector: each image is drawn with the boxes
of its own instant, whichever comes first, on a real KITTI frame and its labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_llm_ros.bag import build_typestore
from edge_llm_ros.perception.kitti import parse_kitti_calib
from edge_llm_ros.tools.evaluation.perception import read_kitti_labels
from edge_llm_ros.tools.offline.perceive import CameraGeometry
from edge_llm_ros.viz.ros_messages import header, image_message
from edge_llm_ros.viz.visualizer import SYNC_TOLERANCE_NS, Visualizer

TS = build_typestore()
T0 = 1_700_000_000_000_000_000
STEP = 100_000_000  # 10 Hz


@pytest.fixture(scope="module")
def frame(kitti_labelled_dir: Path) -> tuple[np.ndarray, list[Any], CameraGeometry]:
    calib = parse_kitti_calib(kitti_labelled_dir / "calib" / "000002.txt")
    boxes, _ = read_kitti_labels(kitti_labelled_dir / "label_2" / "000002.txt", calib)
    rgb = cv2.imread(str(kitti_labelled_dir / "image_2" / "000002.png"))[..., ::-1]
    return np.ascontiguousarray(rgb), [b for b in boxes if b.class_name], \
        CameraGeometry.from_kitti(calib)


def _truth(stamp: int, boxes: list[Any]) -> Any:
    t, pkg = TS.types, "edge_llm_ros/msg/"
    vec3, point = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Point"]
    return t[pkg + "Object3DArray"](header=header(TS, stamp, "lidar"), objects=[
        t[pkg + "Object3D"](id=i, class_name=b.class_name, score=1.0,
                            center_m=point(x=b.center_m[0], y=b.center_m[1], z=b.center_m[2]),
                            size_m=vec3(x=b.size_m[0], y=b.size_m[1], z=b.size_m[2]),
                            yaw_rad=b.yaw_rad, velocity_mps=vec3(x=0.0, y=0.0, z=0.0),
                            point_count=0) for i, b in enumerate(boxes)],
        processing_time_ms=0.0)


def _camera_info(geometry: CameraGeometry, width: int, height: int) -> Any:
    t = TS.types
    return t["sensor_msgs/msg/CameraInfo"](
        header=header(TS, T0, "camera"), height=height, width=width,
        distortion_model="plumb_bob", d=np.zeros(5), k=geometry.K.reshape(-1),
        r=np.eye(3).reshape(-1),
        p=np.hstack([geometry.K, np.zeros((3, 1))]).reshape(-1), binning_x=0, binning_y=0,
        roi=t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                  do_rectify=False))


def _boxes_drawn(out: Any, rgb: np.ndarray) -> bool:
    """Whether anything was drawn below the banner (the banner is always there)."""
    return not np.array_equal(out.image_rgb[60:], rgb[60:])


def test_each_image_gets_the_boxes_of_its_instant_in_either_order(
        frame: tuple[np.ndarray, list[Any], CameraGeometry]) -> None:
    rgb, cars, geometry = frame
    viz = Visualizer(TS, {"lidar": geometry.T_camera_from_lidar}, wait_for_detections=False)
    viz.on_message("camera_info", _camera_info(geometry, rgb.shape[1], rgb.shape[0]))

    def image(stamp: int) -> Any:
        return image_message(TS, rgb, stamp, "camera")

    def truth(stamp: int, boxes: list[Any]) -> list[Any]:
        return [o for o in viz.on_message("ground_truth", _truth(stamp, boxes))
                if o.role == "image"]

    # image first: held until the sweep of its instant, then drawn with its cars
    assert viz.on_message("image", image(T0)) == []
    (out,) = truth(T0, cars)
    assert out.stamp_ns == T0 and _boxes_drawn(out, rgb)
    # the sweep first (nothing there): the image of that instant is drawn at once, empty
    assert truth(T0 + STEP, []) == []
    (out,) = viz.on_message("image", image(T0 + STEP + SYNC_TOLERANCE_NS // 2))
    assert not _boxes_drawn(out, rgb)
    # an image whose sweep never comes is drawn with the last boxes when a later one does
    assert viz.on_message("image", image(T0 + 2 * STEP)) == []
    (out,) = truth(T0 + 3 * STEP, cars)
    assert out.stamp_ns == T0 + 2 * STEP and not _boxes_drawn(out, rgb)
    # and the last image of a bag is not lost
    assert viz.on_message("image", image(T0 + 5 * STEP)) == []
    (out,) = viz.finish()
    assert out.stamp_ns == T0 + 5 * STEP and _boxes_drawn(out, rgb)
    assert viz.finish() == []
