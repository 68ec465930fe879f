"""The simulator node over real Fast DDS, in its own process, as users run it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SMALL_CAMERA = ["-p", "simulator.camera.width_px=320", "-p", "simulator.camera.height_px=240"]


def _best_effort(depth: int = 100):  # noqa: ANN202 - rclpy type
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.BEST_EFFORT)


def _stamp_ns(header) -> int:  # noqa: ANN001
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def test_simulator_publishes_consistent_sensor_topics(listener, start_edge) -> None:  # noqa: ANN001
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    from edge_llm_ros.msg import Float64Stamped, Object3DArray

    for topic, msg_type in [
        ("/camera/image_raw", Image), ("/camera/camera_info", CameraInfo),
        ("/lidar/points", PointCloud2), ("/odom", Odometry),
        ("/ground_truth/objects", Object3DArray), ("/clock", Clock),
        ("/simulator/debug/processing_time_ms", Float64Stamped),
        ("/simulator/debug/pipeline_latency_ms", Float64Stamped),
    ]:
        listener.subscribe(topic, msg_type, _best_effort())
    listener.subscribe("/diagnostics", DiagnosticArray)
    sim = start_edge("sim", "--scenario", "car_braking_ahead", *SMALL_CAMERA, "--duration", "30")
    listener.wait_for(lambda: len(listener.get("/camera/image_raw")) >= 12
                      and len(listener.get("/diagnostics")) >= 1, 60, "12 images and diagnostics")
    assert sim.stop() == 0, sim.output

    images = listener.get("/camera/image_raw")
    image = images[-1]
    assert (image.width, image.height, image.encoding, image.step) == (320, 240, "rgb8", 960)
    assert len(image.data) == 240 * 960 and image.header.frame_id == "camera_optical"
    pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(240, 320, 3)
    assert pixels.std() > 10, "the rendered image is flat"

    # one camera frame, one camera_info, one sweep and one ground truth per tick, same stamps
    image_stamps = [_stamp_ns(m.header) for m in images]
    assert image_stamps == sorted(image_stamps) and len(set(image_stamps)) == len(image_stamps)
    ticks_ns = np.diff(image_stamps)
    assert np.all(ticks_ns % 100_000_000 == 0), "stamps are sim ticks of 0.1 s"
    info_stamps = {_stamp_ns(m.header) for m in listener.get("/camera/camera_info")}
    sweep_stamps = {_stamp_ns(m.header) for m in listener.get("/lidar/points")}
    assert set(image_stamps[2:-2]) <= info_stamps & sweep_stamps
    info = listener.get("/camera/camera_info")[-1]
    assert info.k[2] == pytest.approx(160.0, abs=1) and info.k[5] == pytest.approx(120.0, abs=1)
    assert info.k[0] == pytest.approx(160.0, rel=0.02), "90 deg horizontal FOV: fx = w / 2"

    cloud = listener.get("/lidar/points")[-1]
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "intensity"]
    assert cloud.point_step == 16 and len(cloud.data) == cloud.width * 16
    assert cloud.header.frame_id == "lidar"
    points = np.frombuffer(bytes(cloud.data), np.float32).reshape(-1, 4)
    assert np.isfinite(points).all() and len(points) > 5000
    ground = points[np.abs(points[:, 2] + 1.9) < 0.15]
    assert len(ground) > 0.3 * len(points), "most rays of a road scene hit the ground"

    odom = listener.get("/odom")[-1]
    assert (odom.header.frame_id, odom.child_frame_id) == ("map", "base_link")
    assert odom.twist.twist.linear.x > 1.0

    truth = listener.get("/ground_truth/objects")[-1]
    assert truth.header.frame_id == "base_link"
    lead = [o for o in truth.objects if o.class_name == "car" and o.center_m.x > 0
            and abs(o.center_m.y) < 1.5]
    assert lead, "car_braking_ahead has a car ahead in the ego lane"
    assert lead[0].point_count > 0

    clock_ns = [c.clock.sec * 1_000_000_000 + c.clock.nanosec for c in listener.get("/clock")]
    assert clock_ns == sorted(clock_ns) and set(image_stamps) <= set(clock_ns)
    assert all(m.data > 0 for m in listener.get("/simulator/debug/processing_time_ms"))
    assert listener.get("/simulator/debug/pipeline_latency_ms")
    # Timing is stamped with the tick it measures, so a replay lines it up with the sensors.
    timed = {_stamp_ns(m.header) for m in listener.get("/simulator/debug/processing_time_ms")}
    assert timed & set(image_stamps), "timing stamps are the ticks' sensor stamps"

    statuses = [s for a in listener.get("/diagnostics") for s in a.status]
    ours = [s for s in statuses if s.name == "/simulator: simulator"]
    assert ours and ours[-1].hardware_id == "edge_llm_ros"
    assert {kv.key for kv in ours[-1].values} >= {"frames", "processing_time_ms_median"}


def test_tf_static_reaches_a_late_subscriber(listener, start_edge) -> None:  # noqa: ANN001
    """/tf_static is latched, as tf2's static broadcaster offers it: a subscriber that
    joins once the sensors are streaming still gets the mounting, once."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import PointCloud2
    from tf2_msgs.msg import TFMessage

    from edge_llm_ros.fusion.tf_tree import StaticTfTree, matrix_from_transform
    from edge_llm_ros.sim import rig

    listener.subscribe("/lidar/points", PointCloud2, _best_effort())
    sim = start_edge("sim", "--scenario", "clear_road", "-p", "simulator.camera.enabled=false",
                     "-p", "simulator.frames.lidar=roof_lidar", "--duration", "30")
    listener.wait_for(lambda: len(listener.get("/lidar/points")) >= 3, 60, "lidar sweeps")
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    listener.subscribe("/tf_static", TFMessage, latched)
    listener.wait_for(lambda: listener.get("/tf_static"), 20, "the latched /tf_static")
    sweeps = len(listener.get("/lidar/points"))
    listener.wait_for(lambda: len(listener.get("/lidar/points")) >= sweeps + 5, 30, "more sweeps")
    assert sim.stop() == 0, sim.output
    assert len(listener.get("/tf_static")) == 1, "published once, not per tick"

    message = listener.get("/tf_static")[0]
    tree = StaticTfTree()
    for t in message.transforms:
        v, q = t.transform.translation, t.transform.rotation
        tree.set(t.header.frame_id, t.child_frame_id,
                 matrix_from_transform((v.x, v.y, v.z), (q.x, q.y, q.z, q.w)))
    # Frames as the parameters name them; the camera's mount is there with the camera off.
    assert {(t.header.frame_id, t.child_frame_id) for t in message.transforms} == {
        ("base_link", "roof_lidar"), ("base_link", "camera_optical")}
    np.testing.assert_allclose(tree.lookup("camera_optical", "roof_lidar"),
                               rig.camera_from_lidar(), atol=1e-9)
    np.testing.assert_allclose(tree.lookup("base_link", "roof_lidar"), rig.base_from_lidar(),
                               atol=1e-9)
    first_sweep = listener.get("/lidar/points")[0]
    assert _stamp_ns(message.transforms[0].header) <= _stamp_ns(first_sweep.header)


def test_incompatible_subscriber_qos_is_reported(listener, start_edge) -> None:  # noqa: ANN001
    """The classic 'nothing is published': a RELIABLE subscriber on a
    best-effort sensor stream. The source says so in /diagnostics."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    listener.subscribe("/camera/image_raw", Image,
                       QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
    listener.subscribe("/diagnostics", DiagnosticArray)
    sim = start_edge("sim", "--scenario", "clear_road", *SMALL_CAMERA, "--duration", "30")

    def reported() -> bool:
        return any("incompatible QoS on /camera/image_raw" in s.message
                   for a in listener.get("/diagnostics") for s in a.status)

    listener.wait_for(reported, 60, "an incompatible-QoS diagnostic")
    assert sim.stop() == 0
    assert not listener.get("/camera/image_raw")
    logged = [line for line in sim.output.splitlines()
              if line.startswith("[ERROR]") and "incompatible QoS on /camera/image_raw" in line]
    assert len(logged) == 1, "logged once, counted in /diagnostics"


def test_node_executable_rejects_bad_parameters(
    run_edge: Callable[..., tuple[int, str]], executable: Callable[[str], str], tmp_path: Path
) -> None:
    """What `ros2 run` / `ros2 launch` users see: one line naming the problem."""
    simulator = executable("simulator")
    code, out = run_edge("--ros-args", "-p", "rate_hz:=500.0", executable=simulator)
    assert code == 2 and "parameter 'rate_hz': 500.0 is above the maximum 50.0" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text("/**/simulator:\n  ros__parameters:\n    sed: 3\n")
    code, out = run_edge("--ros-args", "--params-file", str(bad), executable=simulator)
    assert code == 2 and "unknown parameter(s) 'sed'" in out

    # an integer for a double parameter is fine (rate_hz:=5); the bad scenario is not
    code, out = run_edge("--ros-args", "-p", "rate_hz:=5", "-p", "scenario:=no_such_scenario",
                         executable=simulator)
    assert code == 2 and "parameter 'scenario'" in out and "no_such_scenario" in out
    assert "rate_hz" not in out
    assert "Traceback" not in out


def test_cli_rejects_bad_config_and_scenario(
    run_edge: Callable[..., tuple[int, str]], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**/simulator:\n  ros__parameters:\n    camera:\n      widht_px: 3\n")
    code, out = run_edge("run", "--nodes", "simulator", "--params-file", str(bad))
    assert code == 2 and "camera.widht_px" in out and "Traceback" not in out

    scenario = tmp_path / "broken.yaml"
    scenario.write_text("name: broken\ndescription: no duration\n")
    code, out = run_edge("sim", "--scenario", str(scenario), "--duration", "5")
    assert code == 2 and "broken.yaml" in out and "duration_s" in out

    code, out = run_edge("run", "--nodes", "simulator,teleporter")
    assert code == 2 and "unknown node(s) teleporter" in out
