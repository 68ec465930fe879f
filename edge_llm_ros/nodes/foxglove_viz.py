"""foxglove_viz node: a live Foxglove view of a running pipeline.

Subscribes to the pipeline's topics (serialized, no conversion), turns them into the
visualisation `edge-llm-ros view` writes into bags (edge_llm_ros.viz: MarkerArray boxes
and text, the annotated image) and logs it, with the inputs themselves, to a foxglove-sdk
WebSocket server: open Foxglove, connect to ws://HOST:PORT. Channels carry ROS 2 CDR with
their ros2msg definitions, so Foxglove decodes them as it decodes a bag.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import foxglove
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from edge_llm_ros.bag import build_typestore, deserialize, message_definition, serialize
from edge_llm_ros.fusion.config import as_transform
from edge_llm_ros.nodes.base import EdgeNode
from edge_llm_ros.nodes.msgtypes import import_message_type
from edge_llm_ros.params import ConfigError
from edge_llm_ros.viz.ros_messages import TF_MESSAGE
from edge_llm_ros.viz.visualizer import (
    INPUT_SUFFIXES,
    TF_STATIC,
    VIZ_TOPICS,
    SensorRig,
    Visualizer,
)

#: Best effort, a few deep: matches reliable and best-effort publishers alike, and a
#: viewer never holds the pipeline back.
VIEW_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
#: What tf2's static listener asks for: a late joiner still gets the tree.
TF_STATIC_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: Forwarded as they are (no visualisation of their own): the lidar sweep.
FORWARD_ONLY = {"lidar/points": "sensor_msgs/msg/PointCloud2"}


class FoxgloveVizNode(EdgeNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("foxglove_viz", node_name, **kwargs)
        p = self.params
        try:
            self.rig = SensorRig(as_transform(p["camera_from_lidar"], "camera_from_lidar"),
                                 as_transform(p["base_from_lidar"], "base_from_lidar"),
                                 str(p["frames.lidar"]), str(p["frames.base_link"]),
                                 str(p["frames.camera"]))
        except ValueError as exc:
            raise ConfigError(f"node '{self.get_name()}': {exc}") from exc
        self.typestore = build_typestore()
        self.visualizer = Visualizer(self.typestore, self.rig.camera_from(),
                                     wait_for_detections=bool(p["wait_for_detections"]))
        self.forward = bool(p["forward_inputs"])
        self._lock = threading.Lock()
        self._closed = False
        self._foxglove_context = foxglove.Context()
        # Every channel exists before the server starts, so a viewer that connects at any
        # time is told of all of them at once (and sees a topic before its first message).
        self._channels: dict[str, foxglove.Channel] = {}
        self.sent: dict[str, int] = {}  # topic -> messages logged
        for topic, msgtype in VIZ_TOPICS.values():
            self._add_channel(topic, msgtype)
        if float(p["tf_period_s"]) > 0:
            self._add_channel(TF_STATIC, TF_MESSAGE)
            self.create_timer(float(p["tf_period_s"]), self._send_tf)
        inputs = [(suffix, msgtype, role) for role, (suffix, msgtype) in INPUT_SUFFIXES.items()]
        if self.forward:
            inputs += [(suffix, msgtype, None) for suffix, msgtype in FORWARD_ONLY.items()]
        for suffix, msgtype, role in list(inputs):
            topic = self.resolve_topic_name(suffix)
            try:
                msg_class = import_message_type(msgtype)
            except (ImportError, ValueError) as exc:  # tf2_msgs is no PyPI wheel
                self.get_logger().warning(f"not showing {topic}: no {msgtype} here ({exc})")
                inputs.remove((suffix, msgtype, role))
                continue
            if self.forward:
                self._add_channel(topic, msgtype)
            self.create_subscription(
                msg_class, suffix,
                lambda raw, t=topic, m=msgtype, r=role: self._on_message(t, m, r, raw),
                TF_STATIC_QOS if role == "tf_static" else VIEW_QOS, raw=True)
        try:
            self.server = foxglove.start_server(name=f"edge_llm_ros {self.get_name()}",
                                                host=str(p["host"]), port=int(p["port"]),
                                                context=self._foxglove_context)
        except Exception as exc:  # the port taken, an address not of this machine
            raise ConfigError(f"node '{self.get_name()}': cannot start the Foxglove server on "
                              f"{p['host']}:{p['port']}: {exc}") from exc
        shown = ", ".join(self.resolve_topic_name(suffix) for suffix, _, r in inputs if r)
        self.get_logger().info(
            f"Foxglove WebSocket server on ws://{p['host']}:{self.server.port} (showing "
            f"{shown})")

    @property
    def port(self) -> int:
        return int(self.server.port)

    def _add_channel(self, topic: str, msgtype: str) -> None:
        """A channel of ROS 2 CDR messages with the type's full ros2msg definition (one per
        topic: /tf_static is both sent and, when forwarding, passed on)."""
        if topic in self._channels:
            return
        definition, _ = message_definition(self.typestore, msgtype)
        self._channels[topic] = foxglove.Channel(
            topic, message_encoding="cdr", context=self._foxglove_context,
            schema=foxglove.Schema(name=msgtype, encoding="ros2msg", data=definition.encode()))

    def _send_tf(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        data = serialize(self.typestore, self.rig.tf_static(self.typestore, now_ns), TF_MESSAGE)
        with self._lock:
            if not self._closed:
                self._log(TF_STATIC, data, now_ns)

    def _log(self, topic: str, data: bytes, log_time_ns: int) -> None:
        self._channels[topic].log(data, log_time=log_time_ns)
        self.sent[topic] = self.sent.get(topic, 0) + 1

    def _on_message(self, topic: str, msgtype: str, role: str | None, raw: bytes) -> None:
        started = time.perf_counter()
        now_ns = self.get_clock().now().nanoseconds
        with self._lock:
            if self._closed:
                return
            if self.forward:
                self._log(topic, bytes(raw), now_ns)
            if role is None:
                return
            try:
                outputs = self.visualizer.on_message(
                    role, deserialize(self.typestore, bytes(raw), msgtype))
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the view
                self.report_error("bad_input", f"{topic}: {exc}")
                return
            for out in outputs:
                self._log(out.topic, serialize(self.typestore, out.message, out.msgtype), now_ns)
        self.health.record_timing((time.perf_counter() - started) * 1e3, None)

    def diagnostic_values(self) -> dict[str, Any]:
        return {"port": str(self.server.port),
                "sent": ", ".join(f"{t} {n}" for t, n in sorted(self.sent.items()))}

    def close(self) -> None:
        """Stop the server (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.server.stop()
        total = sum(self.sent.values())
        self.get_logger().info(f"Foxglove server stopped: {total} messages sent")

