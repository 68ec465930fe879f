"""scene_fusion with extrinsics_source tf over real Fast DDS: lidar only until /tf_static
(replayed from a bag the KITTI importer wrote) joins the lidar and camera frames, then the
camera is fused through that chain; base_link <- velodyne comes from the tree too. The
built-in simulator's latched /tf_static does the same for its rig."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_llm_ros.fusion.projection import box_corners
from edge_llm_ros.perception.kitti import parse_kitti_calib, project_velo_to_image
from edge_llm_ros.tools.importers.kitti_bag import (
    FRAME_CAMERA,
    FRAME_LIDAR,
    KITTI_LIDAR_HEIGHT_M,
    import_kitti,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CAR_CENTER_VELO_M = (15.0, 1.0, -0.98)
CAR_SIZE_M = (4.2, 1.8, 1.5)
WIDTH_PX, HEIGHT_PX = 1242, 375


def _fusion_on_tf(start_edge: Callable[..., Any], listener: Any, *params: str) -> Any:
    """scene_fusion taking its extrinsics from /tf_static, up and publishing; its
    camera_from_lidar parameter is the identity, a mounting that would never see the car."""
    identity = np.eye(4).ravel().tolist()
    fusion = start_edge("run", "--nodes", "scene_fusion",
                        "-p", "scene_fusion.extrinsics_source=tf",
                        "-p", f"scene_fusion.camera_from_lidar={identity}",
                        "-p", "scene_fusion.confirm_hits=1", *params)
    listener.wait_for(lambda: listener.node.count_publishers("/scene/summary") > 0
                      or fusion.popen.poll() is not None, 30, "scene_fusion to come up")
    if fusion.popen.poll() is not None:
        fusion.wait(5)
        pytest.fail(f"scene_fusion exited at start:\n{fusion.output}")
    return fusion


def _status(listener: Any, node: str) -> tuple[str, dict[str, str]]:
    message, values = "", {}
    for array in listener.get("/diagnostics"):
        for status in array.status:
            if status.name.endswith(f": {node}"):
                message, values = status.message, {kv.key: kv.value for kv in status.values}
    return message, values


def test_camera_is_fused_once_tf_static_joins_the_frames(
    kitti_dir: Path, tmp_path: Path, listener: Any, start_edge: Callable[..., Any]
) -> None:
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CameraInfo

    from edge_llm_ros import msg

    bag = tmp_path / "kitti"
    import_kitti(kitti_dir, bag)
    calib = parse_kitti_calib(kitti_dir / "000002.txt")
    corners = box_corners(np.array([CAR_CENTER_VELO_M]), np.array([CAR_SIZE_M]), np.zeros(1))[0]
    uv, _ = project_velo_to_image(corners, calib)  # KITTI's own projection, not the tree's
    x0, y0 = uv.min(axis=0)
    x1, y1 = uv.max(axis=0)

    listener.subscribe("/scene/summary", msg.SceneSummary)
    listener.subscribe("/diagnostics", DiagnosticArray)
    fusion = _fusion_on_tf(start_edge, listener, "-p", "scene_fusion.diagnostics_period_s=0.2")

    node = listener.node
    objects_pub = node.create_publisher(msg.Object3DArray, "/perception/objects_3d", 10)
    detections_pub = node.create_publisher(msg.Detection2DArray, "/perception/detections_2d", 10)
    info_pub = node.create_publisher(CameraInfo, "/camera/camera_info", 10)
    stop = threading.Event()

    def feed() -> None:  # one lidar sweep and its camera frame at 10 Hz, stamped now
        while not stop.is_set():
            sec, nanosec = divmod(time.time_ns(), 1_000_000_000)
            stamp = Time(sec=sec, nanosec=nanosec)
            objects = msg.Object3DArray(objects=[msg.Object3D(id=0, class_name="unknown",
                                                              score=0.5, point_count=300)])
            o = objects.objects[0]
            o.center_m.x, o.center_m.y, o.center_m.z = CAR_CENTER_VELO_M
            o.size_m.x, o.size_m.y, o.size_m.z = CAR_SIZE_M
            objects.header.stamp, objects.header.frame_id = stamp, FRAME_LIDAR
            detections = msg.Detection2DArray(
                image_width_px=WIDTH_PX, image_height_px=HEIGHT_PX,
                detections=[msg.Detection2D(class_name="car", score=0.9, x_min_px=float(x0),
                                            y_min_px=float(y0), x_max_px=float(x1),
                                            y_max_px=float(y1), track_id=-1)])
            detections.header.stamp, detections.header.frame_id = stamp, FRAME_CAMERA
            info = CameraInfo(width=WIDTH_PX, height=HEIGHT_PX,
                              k=[float(v) for v in calib.P2[:, :3].ravel()])
            info.header.stamp, info.header.frame_id = stamp, FRAME_CAMERA
            info_pub.publish(info)
            detections_pub.publish(detections)
            objects_pub.publish(objects)
            time.sleep(0.1)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        def waiting() -> bool:
            message, values = _status(listener, "scene_fusion")
            return ("camera not fused" in message
                    and int(values.get("camera_frames_without_extrinsics", "0")) >= 10)

        listener.wait_for(waiting, 30, lambda: "diagnostics saying the camera waits for "
                          f"/tf_static (last: {_status(listener, 'scene_fusion')})")
        before = listener.get("/scene/summary")
        with_objects = [s for s in before if s.objects]
        assert with_objects and all(s.perception_mode == "lidar_only" for s in with_objects)
        assert not any(o.seen_by_camera for s in before for o in s.objects)

        # /tf_static from the imported bag, replayed transient-local as a bag holds it.
        replay = start_edge("replay", str(bag), "--topics", "/tf_static",
                            "-p", "bag_replay.wait_for_subscribers_s=30")
        assert replay.wait(120) == 0, replay.output
        count_at_tf = len(listener.get("/scene/summary"))

        def fused() -> bool:
            return any(s.perception_mode == "fused" and any(o.seen_by_camera for o in s.objects)
                       for s in listener.get("/scene/summary")[count_at_tf:])

        listener.wait_for(fused, 30, lambda: "a fused summary after /tf_static (last: "
                          f"{listener.get('/scene/summary')[-1:]})")
        listener.wait_for(lambda: "camera not fused" not in _status(listener, "scene_fusion")[0],
                          10, "the extrinsics condition to clear")
    finally:
        stop.set()
        feeder.join(timeout=2)
    after = [s for s in listener.get("/scene/summary")[count_at_tf:] if s.objects]
    car = next(o for s in after for o in s.objects if o.seen_by_camera)
    assert car.class_name == "car"  # the camera's class: the boxes were associated
    # base_link <- velodyne from the tree (1.73 m up), not base_from_lidar's 1.9 m
    assert abs(car.position_m.z - (CAR_CENTER_VELO_M[2] + KITTI_LIDAR_HEIGHT_M)) < 0.05
    assert abs(car.position_m.x - CAR_CENTER_VELO_M[0]) < 0.3
    assert fusion.stop() == 0, fusion.output
    assert "extrinsics from /tf_static: cam2_rect <- velodyne (base_link <- velodyne too)" \
        in fusion.output


def test_fusion_takes_the_extrinsics_from_the_simulators_tf_static(
    listener: Any, start_edge: Callable[..., Any]
) -> None:
    """The simulator's latched /tf_static, received by a scene_fusion started after it: the
    camera <- lidar chain (camera_optical <- base_link -> lidar) and base_link <- lidar both
    come from the tree, not from the parameters (identity here, which would see nothing)."""
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import PointCloud2

    from edge_llm_ros import msg
    from edge_llm_ros.fusion.projection import project_points
    from edge_llm_ros.sim import rig

    width_px, height_px = 160, 120
    car_center_lidar_m = (15.0, 1.0, 0.75 - rig.LIDAR_MOUNT_XYZ_M[2])  # on the road
    car_size_m = (4.2, 1.8, 1.5)
    corners = box_corners(np.array([car_center_lidar_m]), np.array([car_size_m]), np.zeros(1))[0]
    # Where the simulator's camera (its K, its mounting) sees the car.
    uv, in_front = project_points(corners, rig.camera_from_lidar(),
                                  rig.camera_matrix(width_px, height_px))
    assert in_front.all()
    (x0, y0), (x1, y1) = uv.min(axis=0), uv.max(axis=0)

    listener.subscribe("/lidar/points", PointCloud2, _best_effort())
    listener.subscribe("/scene/summary", msg.SceneSummary)
    sim = start_edge("sim", "--scenario", "clear_road", "-p", "simulator.loop=true",
                     "-p", f"simulator.camera.width_px={width_px}",
                     "-p", f"simulator.camera.height_px={height_px}", "--duration", "90")
    listener.wait_for(lambda: listener.get("/lidar/points"), 60, "the simulator's sweeps")
    identity = np.eye(4).ravel().tolist()
    fusion = _fusion_on_tf(start_edge, listener,
                           "-p", f"scene_fusion.base_from_lidar={identity}")

    node = listener.node
    objects_pub = node.create_publisher(msg.Object3DArray, "/perception/objects_3d", 10)
    detections_pub = node.create_publisher(msg.Detection2DArray, "/perception/detections_2d", 10)
    stop = threading.Event()

    def feed() -> None:  # a lidar detector's and a camera detector's output, 10 Hz, stamped now
        while not stop.is_set():
            sec, nanosec = divmod(time.time_ns(), 1_000_000_000)
            stamp = Time(sec=sec, nanosec=nanosec)
            objects = msg.Object3DArray(objects=[msg.Object3D(id=0, class_name="unknown",
                                                              score=0.5, point_count=300)])
            o = objects.objects[0]
            o.center_m.x, o.center_m.y, o.center_m.z = car_center_lidar_m
            o.size_m.x, o.size_m.y, o.size_m.z = car_size_m
            objects.header.stamp, objects.header.frame_id = stamp, "lidar"
            detections = msg.Detection2DArray(
                image_width_px=width_px, image_height_px=height_px,
                detections=[msg.Detection2D(class_name="car", score=0.9, x_min_px=float(x0),
                                            y_min_px=float(y0), x_max_px=float(x1),
                                            y_max_px=float(y1), track_id=-1)])
            detections.header.stamp, detections.header.frame_id = stamp, "camera_optical"
            detections_pub.publish(detections)
            objects_pub.publish(objects)
            time.sleep(0.1)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        def fused_on_the_road() -> bool:
            # base_link <- lidar from the tree: the lidar's 1.9 m mount puts the car on the
            # road (the identity parameter would leave it 1.15 m under it). The first
            # sweeps may be placed before both frames are known; the track then follows.
            last = listener.get("/scene/summary")[-1:]
            return any(s.perception_mode == "fused" and any(
                o.seen_by_camera and o.class_name == "car" and abs(o.position_m.z - 0.75) < 0.05
                and abs(o.position_m.x - 15.0) < 0.3 for o in s.objects) for s in last)

        listener.wait_for(fused_on_the_road, 45, lambda: "a fused summary with the car on the "
                          f"road (last: {listener.get('/scene/summary')[-1:]})")
    finally:
        stop.set()
        feeder.join(timeout=2)
    assert fusion.stop() == 0, fusion.output
    assert sim.stop() == 0, sim.output
    assert "extrinsics from /tf_static: camera_optical <- lidar (base_link <- lidar too)" \
        in fusion.output


def _best_effort() -> Any:
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    return QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
