"""camera_detector over real Fast DDS: fed by the simulator, fed bad images,
and started with missing or corrupt model files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import SMALL_CAMERA

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _best_effort(depth: int = 50) -> Any:
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.BEST_EFFORT)


def _ns(stamp: Any) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def _image(pixels: np.ndarray, encoding: str, stamp_ns: int, width: int | None = None,
           height: int | None = None, step: int | None = None) -> Any:
    from sensor_msgs.msg import Image

    h, w = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    msg = Image(width=w if width is None else width, height=h if height is None else height,
                encoding=encoding, step=w * channels if step is None else step)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = "camera_optical"
    msg.data = pixels.tobytes()
    return msg


def test_simulated_road_users_are_detected_with_the_image_stamp(
    listener: Any, start_edge: Callable[..., Any]
) -> None:
    from sensor_msgs.msg import Image

    from edge_llm_ros.msg import Detection2DArray

    listener.subscribe("/camera/image_raw", Image, _best_effort(), raw=True)
    listener.subscribe("/perception/detections_2d", Detection2DArray)
    listener.subscribe("/perception/debug_image", Image)
    run = start_edge("run", "--nodes", "simulator,camera_detector",
                     "--params-file", "config/vehicle.yaml",
                     "--params-file", "config/simulator.yaml",
                     "-p", "simulator.scenario=mixed_traffic",
                     "-p", "simulator.lidar.enabled=false",
                     "--duration", "60")
    listener.wait_for(lambda: len(listener.get("/perception/detections_2d")) >= 70, 120,
                      "70 frames of detections (the cyclist and pedestrian come by at ~5 s)")
    listener.wait_for(lambda: len(listener.get("/perception/debug_image")) >= 1, 30,
                      "a debug image once someone subscribes")
    assert run.stop() == 0, run.output
    assert "simulator-trained model" not in run.output  # simulator.yaml names it
    frames = listener.get("/perception/detections_2d")
    assert all(f.header.frame_id == "camera_optical" and f.image_width_px == 640 for f in frames)
    stamps = [_ns(f.header.stamp) for f in frames]
    assert stamps == sorted(stamps)
    classes = {d.class_name for f in frames for d in f.detections}
    assert "car" in classes and classes & {"pedestrian", "cyclist"}, classes
    for det in (d for f in frames for d in f.detections):
        assert 0 <= det.x_min_px < det.x_max_px <= 640 and 0 <= det.y_min_px < det.y_max_px <= 480
        assert 0.0 < det.score <= 1.0 and det.track_id == -1
    debug = listener.get("/perception/debug_image")[-1]
    assert (debug.width, debug.height, debug.encoding) == (640, 480, "rgb8")
    assert debug.header.frame_id == "camera_optical"  # the source image's header
    assert stamps[0] <= _ns(debug.header.stamp) <= stamps[-1] + 1_000_000_000


def test_bad_images_are_counted_and_the_node_keeps_detecting(
    listener: Any, start_edge: Callable[..., Any]
) -> None:
    from diagnostic_msgs.msg import DiagnosticArray

    from edge_llm_ros.msg import Detection2DArray

    listener.subscribe("/perception/detections_2d", Detection2DArray)
    listener.subscribe("/diagnostics", DiagnosticArray)
    node = start_edge("run", "--nodes", "camera_detector", "--params-file", "config/vehicle.yaml")
    good = np.full((120, 160, 3), 90, np.uint8)
    pub = listener.node.create_publisher(type(_image(good, "rgb8", 1)), "/camera/image_raw",
                                         _best_effort(10))
    deadline = time.monotonic() + 60
    while not listener.get("/perception/detections_2d") and time.monotonic() < deadline:
        pub.publish(_image(good, "rgb8", time.time_ns()))
        time.sleep(0.3)
    assert listener.get("/perception/detections_2d"), "camera_detector never answered"
    now = time.time_ns()
    bad = [
        _image(good, "yuv422", now),
        _image(good[..., 0].astype(np.uint16), "16UC1", now + 1),
        _image(good[:0, :0], "rgb8", now + 2),                       # zero-size
        _image(good, "rgb8", now + 3, height=240),                   # data too short
        _image(good, "rgb8", now + 4 - 3_000_000_000),              # out of order
    ]
    for msg in bad:
        pub.publish(msg)
        time.sleep(0.1)
    good_stamp = time.time_ns()
    pub.publish(_image(good[..., ::-1].copy(), "bgr8", good_stamp))

    def values() -> dict[str, str]:
        out: dict[str, str] = {}
        for array in listener.get("/diagnostics"):
            for status in array.status:
                if status.name.endswith(": camera_detector"):
                    out = {kv.key: kv.value for kv in status.values}
        return out

    listener.wait_for(lambda: values().get("errors unsupported_encoding") == "2"
                      and values().get("errors malformed_image") == "2"
                      and values().get("errors out_of_order_stamp") == "1", 30,
                      lambda: f"bad images counted in /diagnostics (last: {values()})")
    listener.wait_for(lambda: any(_ns(f.header.stamp) == good_stamp
                                  for f in listener.get("/perception/detections_2d")), 15,
                      "detections for the good image after the bad ones")
    assert node.stop() == 0, node.output
    assert sum("unsupported_encoding" in line and line.startswith("[ERROR]")
               for line in node.output.splitlines()) == 1
    # vehicle.yaml leaves model_path empty: the simulator-trained model, with a warning
    assert sum("using the packaged simulator-trained model" in line
               and line.startswith("[WARN]") for line in node.output.splitlines()) == 1


def test_missing_or_corrupt_model_fails_at_start_naming_it(
    run_edge: Callable[..., tuple[int, str]], executable: Callable[[str], str], tmp_path: Path
) -> None:
    """With on_model_error fail (the default keeps the node up: see the lidar-only test)."""
    node = executable("camera_detector")
    fail = ("-p", "on_model_error:=fail")
    missing = tmp_path / "nope.onnx"
    code, out = run_edge("--ros-args", "-p", f"model_path:={missing}", *fail, executable=node)
    assert code == 2 and str(missing) in out and "Traceback" not in out
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not an onnx model" * 10)
    code, out = run_edge("--ros-args", "-p", f"model_path:={corrupt}", *fail, executable=node)
    assert code == 2 and str(corrupt) in out and "Traceback" not in out
    code, out = run_edge("--ros-args", "-p", "model_path:=weights.tflite", *fail,
                         executable=node)
    assert code == 2 and "weights.tflite" in out


def test_without_a_usable_model_the_pipeline_runs_lidar_only(
    listener: Any, start_edge: Callable[..., Any], ros_env: dict[str, str], tmp_path: Path
) -> None:
    """model_path:=yolo11n.pt where it cannot be downloaded: the camera node stays up
    publishing nothing and says why (once in its log, ERROR in /diagnostics); the
    simulator's braking car is still tracked, lidar-only."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    from edge_llm_ros.msg import Detection2DArray, SceneSummary

    # Offline for real on any machine: every HTTPS request is refused at once by a proxy
    # on a closed local port, so nothing is ever downloaded; a fresh weights cache.
    for name in ("NO_PROXY", "no_proxy"):
        ros_env.pop(name, None)
    ros_env.update(HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
                   XDG_CACHE_HOME=str(tmp_path / "cache"))
    listener.subscribe("/perception/detections_2d", Detection2DArray)
    listener.subscribe("/diagnostics", DiagnosticArray)
    listener.subscribe("/scene/summary", SceneSummary)
    run = start_edge("run", "--nodes", "simulator,camera_detector,lidar_detector,scene_fusion",
                     "--params-file", "config/vehicle.yaml",
                     "--params-file", "config/simulator.yaml",
                     "-p", "simulator.scenario=car_braking_ahead", *SMALL_CAMERA,
                     "-p", "camera_detector.model_path=yolo11n.pt",
                     "--until-finished", "simulator")
    assert run.wait(180) == 0, run.output
    lines = run.output.splitlines()
    logged = [line for line in lines if line.startswith("[") and "camera model unavailable" in line]
    assert len(logged) == 1 and logged[0].startswith("[ERROR]"), run.output
    assert "'yolo11n.pt'" in logged[0] and "could not download" in logged[0]
    assert "lidar-only" in logged[0] and "Traceback" not in run.output
    # the stage table at the end says it too
    assert any(line.split()[:1] == ["camera_detector"]
               and "ERROR: camera model unavailable" in line for line in lines), run.output
    assert listener.get("/perception/detections_2d") == []

    camera = [s for a in listener.get("/diagnostics") for s in a.status
              if s.name.endswith(": camera_detector")]
    active = [s for s in camera if {kv.key: kv.value for kv in s.values}.get(
        "lifecycle_state") == "active"]
    assert len(active) >= 5, [(s.level, s.message) for s in camera]
    assert all(s.level == DiagnosticStatus.ERROR
               and s.message.startswith("camera model unavailable: 'yolo11n.pt'")
               for s in active), [s.message for s in active]

    summaries = listener.get("/scene/summary")
    tracked = [s for s in summaries if s.objects]
    lidar_only = [s for s in tracked if s.perception_mode == "lidar_only" and s.lidar_fresh]
    assert len(lidar_only) >= 50, f"{len(lidar_only)} lidar_only of {len(summaries)} summaries"
    # ... and nothing else (a last heartbeat after the simulator stopped may say none)
    assert all(s.perception_mode in ("lidar_only", "none") and not s.camera_fresh
               for s in tracked)
    assert not any(o.seen_by_camera for s in tracked for o in s.objects)


def test_the_coco_centernet_detects_a_real_kitti_image_over_dds(
    listener: Any, start_edge: Callable[..., Any], coco_centernet: Path,
    kitti_labelled_dir: Path
) -> None:
    """model_path: coco_centernet/centernet.json (runtime tfjs, CPU): a real KITTI image
    published as bgr8 comes back as COCO-mapped road users with the image's stamp."""
    import cv2

    from edge_llm_ros.msg import Detection2DArray

    listener.subscribe("/perception/detections_2d", Detection2DArray)
    start_edge("run", "--nodes", "camera_detector", "--params-file", "config/vehicle.yaml",
               "-p", "camera_detector.model_path=coco_centernet/centernet.json",
               "-p", "camera_detector.device=cpu")
    bgr = cv2.imread(str(kitti_labelled_dir / "image_2" / "000001.png"))
    pub = listener.node.create_publisher(type(_image(bgr, "bgr8", 1)), "/camera/image_raw",
                                         _best_effort(5))
    # Published until the node (starting, loading the model) answers one; each image
    # takes it about 0.5 s on the CPU.
    sent: set[int] = set()

    def answered() -> bool:
        return any(_ns(f.header.stamp) in sent for f in listener.get("/perception/detections_2d"))

    deadline = time.monotonic() + 60.0
    while not answered() and time.monotonic() < deadline:
        stamp = time.time_ns()
        sent.add(stamp)
        pub.publish(_image(bgr, "bgr8", stamp))
        try:
            listener.wait_for(answered, 2.0, "an answer to this image")
        except AssertionError:
            continue
    assert answered(), "camera_detector never answered a KITTI image"
    frame = next(f for f in listener.get("/perception/detections_2d")
                 if _ns(f.header.stamp) in sent)
    assert (frame.image_width_px, frame.image_height_px) == (bgr.shape[1], bgr.shape[0])
    names = [d.class_name for d in frame.detections]
    assert names.count("car") >= 2 and set(names) <= {"car", "truck", "pedestrian", "cyclist"}
