"""Bag record and replay over real Fast DDS: simulator -> MCAP -> replay,
custom messages through sqlite3 and MCAP, and every kind of bad bag."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_llm_ros.bag import BagRecorder, build_typestore, deserialize, iter_messages, open_bag

pytestmark = [pytest.mark.ros, pytest.mark.slow]



def _best_effort(depth: int = 200) -> Any:
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.BEST_EFFORT)


def test_sim_recording_holds_every_sensor_topic(
    sim_bag: Path, run_edge: Callable[..., tuple[int, str]]
) -> None:
    code, out = run_edge("info", str(sim_bag), "--json")
    assert code == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["storage"] == "mcap"
    counts = {t["topic"]: t["count"] for t in summary["topics"]}
    for topic in ("/camera/image_raw", "/camera/camera_info", "/lidar/points", "/odom",
                  "/ground_truth/objects", "/clock"):
        assert counts.get(topic, 0) >= 10, f"{topic}: {counts.get(topic)} messages"
    # Once a topic is matched the recorder loses nothing: the sensor stamps
    # of each stream are consecutive 0.1 s sim ticks.
    typestore = build_typestore()
    for topic in ("/camera/image_raw", "/lidar/points", "/ground_truth/objects"):
        msgs = [deserialize(typestore, m.rawdata, m.msgtype)
                for m in iter_messages(sim_bag, [topic])]
        stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in msgs]
        assert set(np.diff(stamps)) == {100_000_000}, f"{topic}: a sim tick is missing"
    truth = [deserialize(typestore, m.rawdata, m.msgtype)
             for m in iter_messages(sim_bag, ["/ground_truth/objects"])]
    assert any(o.class_name == "car" for o in truth[-1].objects)


def test_sim_recording_keeps_tf_static_latched(
    sim_bag: Path, listener: Any, start_edge: Callable[..., Any]
) -> None:
    """The simulator's /tf_static is in the recording with the QoS it was offered with
    (transient local), so a replay re-offers it latched and a tf2-style subscriber, which
    matches no volatile publisher, still gets the mounting."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from tf2_msgs.msg import TFMessage

    topic = open_bag(sim_bag).topic("/tf_static")
    assert topic is not None and topic.message_count == 1
    assert {p.durability for p in topic.offered_qos} == {"transient_local"}
    assert {p.reliability for p in topic.offered_qos} == {"reliable"}
    recorded = [m.rawdata for m in iter_messages(sim_bag, ["/tf_static"])]
    tf = deserialize(build_typestore(), recorded[0], "tf2_msgs/msg/TFMessage")
    assert {(t.header.frame_id, t.child_frame_id) for t in tf.transforms} == {
        ("base_link", "lidar"), ("base_link", "camera_optical")}

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    listener.subscribe("/tf_static", TFMessage, latched, raw=True)
    replay = start_edge("replay", str(sim_bag), "--topics", "/tf_static",
                        "-p", "bag_replay.wait_for_subscribers_s=20")
    assert replay.wait(120) == 0, replay.output
    assert [bytes(r) for r in listener.get("/tf_static")] == recorded


def test_replay_does_not_wait_for_a_subscriber_of_the_latched_tf_static(
    sim_bag: Path, listener: Any, start_edge: Callable[..., Any]
) -> None:
    """`replay --pipeline` waits for subscribers, and no on-board node but scene_fusion with
    extrinsics_source tf reads /tf_static: the recorded tree must not hold the replay back
    (it still reaches a subscriber that comes later, being latched)."""
    from edge_llm_ros.msg import Object3DArray

    listener.subscribe("/ground_truth/objects", Object3DArray, _best_effort(), raw=True)
    replay = start_edge("replay", str(sim_bag), "--topics", "/tf_static",
                        "/ground_truth/objects", "-p", "bag_replay.wait_for_subscribers_s=300")
    assert replay.wait(60) == 0, replay.output  # the bag is 6 s long
    assert len(listener.get("/ground_truth/objects")) == len(expected_stamps(sim_bag))


def test_replay_publishes_the_bag_bytes_with_clock(
    sim_bag: Path, listener: Any, start_edge: Callable[..., Any]
) -> None:
    from rclpy.qos import QoSProfile
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image, PointCloud2

    from edge_llm_ros.msg import Object3DArray

    topics = {"/camera/image_raw": Image, "/lidar/points": PointCloud2,
              "/ground_truth/objects": Object3DArray}
    for topic, msg_type in topics.items():  # reliable: replay offers it, nothing may be lost
        listener.subscribe(topic, msg_type, QoSProfile(depth=200), raw=True)
    listener.subscribe("/clock", Clock, _best_effort(1000))
    expected = {t: Counter() for t in topics}
    for msg in iter_messages(sim_bag, list(topics)):
        expected[msg.topic][msg.rawdata] += 1
    replay = start_edge("replay", str(sim_bag), "--topics", *topics,
                        "-p", "bag_replay.wait_for_subscribers_s=20")
    assert replay.wait(120) == 0, replay.output
    for topic in topics:
        got = Counter(bytes(r) for r in listener.get(topic))
        assert got == expected[topic], f"{topic}: replayed bytes differ from the bag"
    info = open_bag(sim_bag)
    clock = [c.clock.sec * 10**9 + c.clock.nanosec for c in listener.get("/clock")]
    assert clock == sorted(clock)
    assert info.start_ns <= clock[0] and clock[-1] == max(m.timestamp_ns for m in
                                                          iter_messages(sim_bag, list(topics)))
    # original timing: the replay took about as long as the bag
    received = listener.received("/ground_truth/objects")
    span_s = received[-1].wall_s - received[0].wall_s
    bag_span_s = (max(expected_stamps(sim_bag)) - min(expected_stamps(sim_bag))) / 1e9
    assert span_s == pytest.approx(bag_span_s, rel=0.3)


def expected_stamps(bag: Path) -> list[int]:
    return [m.timestamp_ns for m in iter_messages(bag, ["/ground_truth/objects"])]


def test_replay_rate_offset_and_loop(
    sim_bag: Path, listener: Any, start_edge: Callable[..., Any]
) -> None:
    from edge_llm_ros.msg import Object3DArray

    listener.subscribe("/ground_truth/objects", Object3DArray, _best_effort(), raw=True)
    stamps = expected_stamps(sim_bag)
    offset_s = 2.0
    # The offset counts from the bag's first message on any topic (/clock, images, ...
    # may precede the first ground truth by a few milliseconds).
    bag_start = next(iter(iter_messages(sim_bag))).timestamp_ns
    kept = [s for s in stamps if s >= bag_start + offset_s * 1e9]
    replay = start_edge("replay", str(sim_bag), "--rate", "2.0", "--start-offset", str(offset_s),
                        "--topics", "/ground_truth/objects")
    assert replay.wait(120) == 0, replay.output
    received = listener.received("/ground_truth/objects")
    assert len(received) == len(kept), "start offset skips the bag's first seconds"
    span_s = received[-1].wall_s - received[0].wall_s
    assert span_s == pytest.approx((kept[-1] - kept[0]) / 1e9 / 2.0, rel=0.35), "rate 2.0"

    listener.messages.clear()
    looping = start_edge("replay", str(sim_bag), "--rate", "4.0", "--loop",
                         "--topics", "/ground_truth/objects", "--duration", "20")
    listener.wait_for(lambda: len(listener.get("/ground_truth/objects")) > 2 * len(stamps) + 2,
                      60, "more than two passes of the bag")
    assert looping.stop() == 0


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_record_custom_messages_round_trip(
    storage: str, tmp_path: Path, listener: Any, start_edge: Callable[..., Any]
) -> None:
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile

    from edge_llm_ros.msg import Decision, SceneSummary, StageLatency, TrackedObject

    listener.subscribe("/diagnostics", DiagnosticArray)
    out = tmp_path / f"custom_{storage}"
    recorder = start_edge("record", "-o", str(out), "--storage", storage,
                          "--topics", "/scene", "/decision")
    scene_pub = listener.node.create_publisher(SceneSummary, "/scene", QoSProfile(depth=50))
    decision_pub = listener.node.create_publisher(Decision, "/decision", QoSProfile(depth=50))
    listener.wait_for(lambda: scene_pub.get_subscription_count() > 0
                      and decision_pub.get_subscription_count() > 0, 30, "the recorder")
    sent = []
    for i in range(5):
        scene = SceneSummary(perception_mode=SceneSummary.MODE_LIDAR_ONLY, lidar_fresh=True)
        scene.header.stamp = Time(sec=100 + i, nanosec=5)
        scene.header.frame_id = "base_link"
        scene.ego.speed_mps = 12.5
        scene.objects = [TrackedObject(track_id=7 + i, class_name="pedestrian",
                                       time_to_collision_s=float("inf"),
                                       lane_relation=TrackedObject.LANE_EGO)]
        scene.stage_latencies = [StageLatency(stage="lidar_detector", processing_time_ms=4.5)]
        decision = Decision(action=Decision.ACTION_STOP, action_name="stop",
                            target_speed_mps=0.0, driver_object_ids=[7 + i],
                            rationale="pedestrian in lane", source=Decision.SOURCE_FALLBACK_RULE,
                            deadline_ms=150.0, latency_ms=42.25)
        decision.header.stamp = scene.header.stamp
        scene_pub.publish(scene)
        decision_pub.publish(decision)
        sent.append((scene, decision))
    def recorded_all() -> bool:  # the recorder's own count, from /diagnostics
        values = {kv.key: kv.value for a in listener.get("/diagnostics") for s in a.status
                  if s.name.endswith("bag_recorder") for kv in s.values}
        return values.get("input /scene messages") == values.get("input /decision messages") == "5"

    listener.wait_for(recorded_all, 30, "the recorder to count 5 of each")
    assert recorder.stop() == 0, recorder.output
    info = open_bag(out)
    assert info.storage_id == storage
    typestore = build_typestore()
    scenes = [deserialize(typestore, m.rawdata, m.msgtype) for m in iter_messages(out, ["/scene"])]
    decisions = [deserialize(typestore, m.rawdata, m.msgtype)
                 for m in iter_messages(out, ["/decision"])]
    assert len(scenes) == len(decisions) == 5
    for (scene, decision), got_scene, got_decision in zip(sent, scenes, decisions, strict=True):
        assert got_scene.header.stamp.sec == scene.header.stamp.sec
        assert got_scene.perception_mode == "lidar_only"
        assert got_scene.objects[0].track_id == scene.objects[0].track_id
        assert got_scene.objects[0].time_to_collision_s == float("inf")
        assert got_scene.stage_latencies[0].processing_time_ms == 4.5
        assert got_decision.action == Decision.ACTION_STOP
        assert list(got_decision.driver_object_ids) == list(decision.driver_object_ids)
        assert got_decision.rationale == "pedestrian in lane" and got_decision.latency_ms == 42.25


def test_recorder_warns_when_an_input_stays_silent_and_leaves_no_empty_bag(
    tmp_path: Path, listener: Any, start_edge: Callable[..., Any]
) -> None:
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    listener.subscribe("/diagnostics", DiagnosticArray)
    out = tmp_path / "silent"
    recorder = start_edge("record", "-o", str(out), "--topics", "/nothing_here",
                          "-p", "bag_recorder.input_timeout_s=1.0")

    def warned() -> bool:
        return any(s.level == DiagnosticStatus.WARN and "/nothing_here" in s.message
                   for a in listener.get("/diagnostics") for s in a.status)

    listener.wait_for(warned, 30, "a WARN for the silent input")
    assert recorder.stop() == 0, recorder.output
    assert "no message on /nothing_here" in recorder.output
    assert not out.exists(), "a bag with no messages is not left behind"


def _bag_with_foreign_type(path: Path) -> None:
    """A real bag holding a type no package here defines, plus a normal topic."""
    from rosbags.typesys import get_types_from_msg

    typestore = build_typestore()
    typestore.register(get_types_from_msg("float64 speed_mps\nstring note\n",
                                          "fleet_msgs/msg/Telemetry"))
    with BagRecorder(path, storage="mcap", typestore=typestore) as bag:
        bag.add_topic("/telemetry", "fleet_msgs/msg/Telemetry")
        bag.add_topic("/chatter", "std_msgs/msg/String")
        for i in range(3):
            telemetry = typestore.types["fleet_msgs/msg/Telemetry"](speed_mps=1.0 * i, note="x")
            bag.write("/telemetry", 10**9 * (i + 1),
                      typestore.serialize_cdr(telemetry, "fleet_msgs/msg/Telemetry"))
            chatter = typestore.types["std_msgs/msg/String"](data=f"hello {i}")
            bag.write("/chatter", 10**9 * (i + 1),
                      typestore.serialize_cdr(chatter, "std_msgs/msg/String"))


def test_replay_refuses_unknown_types_by_name_unless_told(
    tmp_path: Path, listener: Any, run_edge: Callable[..., tuple[int, str]]
) -> None:
    from std_msgs.msg import String

    bag = tmp_path / "foreign"
    _bag_with_foreign_type(bag)
    code, out = run_edge("replay", str(bag))
    assert code == 2 and "fleet_msgs/msg/Telemetry" in out and "/telemetry" in out
    assert "Traceback" not in out

    listener.subscribe("/chatter", String)  # reliable: the replay waits for its acks
    code, out = run_edge("replay", str(bag), "--skip-unknown-types", "--rate", "5",
                         "-p", "bag_replay.wait_for_subscribers_s=20")
    assert code == 0, out
    assert [m.data for m in listener.get("/chatter")] == ["hello 0", "hello 1", "hello 2"]


def test_bad_bags_and_outputs_fail_clearly(
    sim_bag: Path, tmp_path: Path, run_edge: Callable[..., tuple[int, str]]
) -> None:
    code, out = run_edge("replay", str(tmp_path / "missing"))
    assert code == 2 and "missing" in out and "Traceback" not in out

    truncated = tmp_path / "truncated"
    shutil.copytree(sim_bag, truncated)
    mcap = next(truncated.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    code, out = run_edge("replay", str(truncated))
    assert code == 2 and "Traceback" not in out and str(truncated) in out

    code, out = run_edge("record", "-o", str(sim_bag), "--duration", "1")
    assert code == 2 and "exist" in out and "Traceback" not in out
    assert open_bag(sim_bag).message_count > 0, "an existing bag is never touched"

    code, out = run_edge("replay", str(sim_bag), "--topics", "/not_in_bag")
    assert code == 2 and "/not_in_bag" in out
