"""The live Foxglove view: the foxglove_viz node in a real run, and a real WebSocket client
speaking Foxglove's protocol to it (advertise, subscribe, binary message data)."""

from __future__ import annotations

import json
import socket
import struct
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from edge_llm_ros.bag import build_typestore
from edge_llm_ros.viz.ros_messages import CUBE, DELETEALL, TEXT_VIEW_FACING

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SUBPROTOCOL = "foxglove.sdk.v1"
MESSAGE_DATA = 0x01  # binary opcode of a server's message: u8 op, u32 subscription, u64 time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Seen:
    channels: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> advertisement
    messages: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))

    def by_topic(self) -> dict[str, dict[str, Any]]:
        return {c["topic"]: c for c in self.channels.values()}


def _connect(port: int, timeout_s: float) -> ClientConnection:
    """The server comes up once the node is constructed: retry until then."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return connect(f"ws://127.0.0.1:{port}", subprotocols=[SUBPROTOCOL],
                           open_timeout=5, max_size=None)
        except (OSError, WebSocketException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def watch(port: int, enough: Callable[[Seen], bool], timeout_s: float = 90.0) -> Seen:
    """Connect, subscribe to every channel advertised, collect until `enough` or the
    time-out (then say what came)."""
    seen = Seen()
    deadline = time.monotonic() + timeout_s
    with _connect(port, timeout_s) as ws:
        assert ws.subprotocol == SUBPROTOCOL
        while time.monotonic() < deadline and not enough(seen):
            try:
                frame = ws.recv(timeout=1.0)
            except TimeoutError:
                continue
            if isinstance(frame, str):
                op = json.loads(frame)
                if op["op"] == "advertise":
                    new = {c["id"]: c for c in op["channels"]}
                    seen.channels.update(new)
                    ws.send(json.dumps({"op": "subscribe", "subscriptions": [
                        {"id": cid, "channelId": cid} for cid in new]}))
                continue
            assert frame[0] == MESSAGE_DATA
            subscription, _log_time_ns = struct.unpack_from("<IQ", frame, 1)
            seen.messages[seen.channels[subscription]["topic"]].append(bytes(frame[13:]))
    assert enough(seen), {t: len(m) for t, m in seen.messages.items()}
    return seen


def watch_or_say(proc: Any, port: int, enough: Callable[[Seen], bool]) -> Seen:
    """watch(), with the run's output when the view fails."""
    try:
        return watch(port, enough)
    except (AssertionError, OSError, WebSocketException) as exc:
        if proc.popen.poll() is None:
            proc.stop()
        else:
            proc.wait(10)
        raise AssertionError(f"{exc!r}\n{proc.output[-4000:]}") from exc


def _has(seen: Seen, counts: dict[str, int]) -> bool:
    return all(len(seen.messages.get(t, [])) >= n for t, n in counts.items())


def test_sim_foxglove_serves_ground_truth_boxes_and_annotated_frames(
        start_edge: Callable[..., Any]) -> None:
    port = free_port()
    proc = start_edge("sim", "--scenario", "car_braking_ahead", "-p",
                      "simulator.camera.width_px=160", "-p", "simulator.camera.height_px=120",
                      "--foxglove", str(port), "--duration", "40")
    wanted = {"/viz/ground_truth": 3, "/viz/image_annotated": 3, "/camera/image_raw": 1,
              "/lidar/points": 1, "/tf_static": 1}
    seen = watch_or_say(proc, port, lambda s: _has(s, wanted))
    assert proc.stop() == 0, proc.output[-3000:]
    assert f"Foxglove WebSocket server on ws://127.0.0.1:{port}" in proc.output
    channels = seen.by_topic()
    assert channels["/viz/ground_truth"]["schemaName"] == "visualization_msgs/msg/MarkerArray"
    assert channels["/viz/image_annotated"]["schemaName"] == "sensor_msgs/msg/Image"
    for c in channels.values():  # ROS 2 CDR with the full definition, as in a bag
        assert c["encoding"] == "cdr" and c["schemaEncoding"] == "ros2msg" and c["schema"]
    ts = build_typestore()
    markers = ts.deserialize_cdr(seen.messages["/viz/ground_truth"][-1],
                                 "visualization_msgs/msg/MarkerArray").markers
    assert markers[0].action == DELETEALL
    cubes = [m for m in markers[1:] if m.type == CUBE]
    assert cubes and all(m.header.frame_id == "base_link" for m in cubes)
    assert any(m.text.startswith("car #") for m in markers if m.type == TEXT_VIEW_FACING)
    tf = ts.deserialize_cdr(seen.messages["/tf_static"][-1], "tf2_msgs/msg/TFMessage")
    assert {(t.header.frame_id, t.child_frame_id) for t in tf.transforms} == {
        ("base_link", "lidar"), ("base_link", "camera_optical")}
    image = ts.deserialize_cdr(seen.messages["/viz/image_annotated"][-1],
                               "sensor_msgs/msg/Image")
    assert (image.width, image.height, image.encoding) == (160, 120, "rgb8")
    raw = ts.deserialize_cdr(seen.messages["/camera/image_raw"][-1], "sensor_msgs/msg/Image")
    assert raw.width == 160 and not np.array_equal(np.asarray(image.data), np.asarray(raw.data))


def test_scenes_and_decisions_show_as_boxes_and_text(start_edge: Callable[..., Any]) -> None:
    port = free_port()
    proc = start_edge("run", "--nodes", "scene_player,reasoner,foxglove_viz", "--params-file",
                      "config/vehicle.yaml", "-p", "reasoner.model.backend=rules",
                      "-p", "scene_player.publish_image=false", "-p", f"foxglove_viz.port={port}",
                      "--duration", "40")
    seen = watch_or_say(proc, port, lambda s: _has(s, {"/viz/objects": 5, "/viz/decision": 5}))
    assert proc.stop() == 0, proc.output[-3000:]
    ts = build_typestore()
    scenes = [ts.deserialize_cdr(raw, "edge_llm_ros/msg/SceneSummary")
              for raw in seen.messages["/scene/summary"]]
    arrays = [ts.deserialize_cdr(raw, "visualization_msgs/msg/MarkerArray")
              for raw in seen.messages["/viz/objects"]]
    # each scene's boxes, one cube per tracked object, found by the scene's stamp (the
    # client's first messages on the two topics need not be of the same scene)
    by_stamp = {(sc.header.stamp.sec, sc.header.stamp.nanosec): sc for sc in scenes}
    matched = 0
    for array in arrays:
        cubes = [m for m in array.markers if m.type == CUBE and m.action != DELETEALL]
        if not cubes:
            continue
        scene = by_stamp.get((cubes[0].header.stamp.sec, cubes[0].header.stamp.nanosec))
        if scene is None:
            continue
        matched += 1
        assert [v for c in cubes for v in (c.pose.position.x, c.pose.position.y)] == \
            pytest.approx([v for o in scene.objects for v in (o.position_m.x, o.position_m.y)])
    assert matched >= 3, (len(scenes), len(arrays))
    decisions = [ts.deserialize_cdr(raw, "visualization_msgs/msg/MarkerArray").markers[1].text
                 for raw in seen.messages["/viz/decision"]]
    assert all(" m/s | fallback" in text for text in decisions), decisions[:3]


def test_a_port_in_use_is_a_clear_error(start_edge: Callable[..., Any]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = start_edge("run", "--nodes", "foxglove_viz", "-p", f"foxglove_viz.port={port}",
                          "--duration", "5")
        assert proc.wait(60) == 2
    assert f"cannot start the Foxglove server on 127.0.0.1:{port}" in proc.output
