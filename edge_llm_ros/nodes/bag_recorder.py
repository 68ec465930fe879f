"""bag_recorder node: records chosen topics (or every topic that appears)
to a rosbag2 bag, MCAP by default, without the ROS 2 CLI.

Subscriptions take serialized bytes (no conversion) with a QoS that matches
the publishers found, as `ros2 bag record` does, and the bag keeps the QoS they
offered (a replay re-offers /tf_static latched); the timestamp of each message
is its receive time on the node's clock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from edge_llm_ros.bag import BagError, BagRecorder, build_typestore, offered_qos_yaml
from edge_llm_ros.bag import QosProfile as RecordedQos
from edge_llm_ros.nodes.base import EdgeNode
from edge_llm_ros.nodes.msgtypes import import_message_type
from edge_llm_ros.params import ConfigError

#: rmw's infinite duration (deadline, lifespan, lease), which a bag writes as "infinite".
_INFINITE_NS = 2**63 - 1


def _duration_ns(duration: Duration) -> int | None:
    return None if duration.nanoseconds >= _INFINITE_NS else int(duration.nanoseconds)


def recorded_qos(qos: Any) -> RecordedQos:
    """A discovered publisher's QoS (rclpy) as a bag's offered_qos_profiles entry. Discovery
    does not carry history and depth, so those read unknown and 0, as in `ros2 bag record`."""
    return RecordedQos(
        history=qos.history.name.lower(), depth=int(qos.depth),
        reliability=qos.reliability.name.lower(), durability=qos.durability.name.lower(),
        deadline_ns=_duration_ns(qos.deadline), lifespan_ns=_duration_ns(qos.lifespan),
        liveliness=qos.liveliness.name.lower(),
        liveliness_lease_duration_ns=_duration_ns(qos.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(qos.avoid_ros_namespace_conventions))


@dataclass
class TopicStats:
    msgtype: str
    count: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    bytes: int = 0

    @property
    def rate_hz(self) -> float:
        if self.count < 2 or self.first_ns is None or self.last_ns is None:
            return 0.0
        span_s = (self.last_ns - self.first_ns) / 1e9
        return (self.count - 1) / span_s if span_s > 0 else 0.0


class BagRecorderNode(EdgeNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("bag_recorder", node_name, **kwargs)
        p = self.params
        self.output_path = str(p["output_path"])
        self.typestore = build_typestore()
        try:
            self.recorder = BagRecorder(self.output_path, storage=str(p["storage"]),
                                        typestore=self.typestore)
        except BagError as exc:
            raise ConfigError(f"node '{self.get_name()}': parameter 'output_path': {exc}") from exc
        self.requested = [self.resolve_topic_name(t) for t in p["topics"]]
        self.excluded = set(p["exclude_topics"])
        self.stats: dict[str, TopicStats] = {}
        self._topic_subscriptions: dict[str, object] = {}
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False
        for topic in self.requested:
            self.health.watch_input(topic, float(p["input_timeout_s"]))
        self._discover()
        self._discovery_timer = self.create_timer(float(p["discovery_period_s"]), self._discover)
        what = ", ".join(self.requested) if self.requested else "every topic"
        self.get_logger().info(f"recording {what} to '{self.output_path}' ({p['storage']})")

    def _qos_for(self, topic: str) -> QoSProfile:
        """Reliable/transient-local only when every publisher offers it."""
        infos = self.get_publishers_info_by_topic(topic)
        qos = QoSProfile(depth=100)
        if infos and all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos):
            qos.reliability = ReliabilityPolicy.RELIABLE
        else:
            qos.reliability = ReliabilityPolicy.BEST_EFFORT
        if infos and all(
            i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos
        ):
            qos.durability = DurabilityPolicy.TRANSIENT_LOCAL
        return qos

    def _discover(self) -> None:
        if self._closed:
            return
        own_prefix = self.get_fully_qualified_name() + "/"  # its own debug topics
        for topic, types in self.get_topic_names_and_types():
            if topic in self._topic_subscriptions or topic in self._refused:
                continue
            if self.requested and topic not in self.requested:
                continue
            if not self.requested and (topic in self.excluded or topic.startswith(own_prefix)):
                continue
            if not self.get_publishers_info_by_topic(topic):
                continue
            self._subscribe(topic, types[0])

    def _subscribe(self, topic: str, msgtype: str) -> None:
        try:
            msg_class = import_message_type(msgtype)
            offered = [recorded_qos(i.qos_profile)
                       for i in self.get_publishers_info_by_topic(topic)]
            with self._lock:
                self.recorder.add_topic(topic, msgtype, offered_qos_yaml(offered))
        except (ImportError, ValueError, BagError) as exc:
            self._refused.add(topic)
            self.report_error("unrecordable_topic", f"{topic} ({msgtype}): {exc}")
            return
        self.stats[topic] = TopicStats(msgtype)
        self._topic_subscriptions[topic] = self.create_subscription(
            msg_class, topic, lambda raw, t=topic: self._on_message(t, raw),
            self._qos_for(topic), raw=True,
        )

    def _on_message(self, topic: str, raw: bytes) -> None:
        started = time.perf_counter()
        stamp_ns = self.get_clock().now().nanoseconds
        with self._lock:
            if self._closed:
                return
            self.recorder.write(topic, stamp_ns, bytes(raw))
            stats = self.stats[topic]
            stats.count += 1
            stats.bytes += len(raw)
            if stats.first_ns is None:
                stats.first_ns = stamp_ns
            stats.last_ns = stamp_ns
        self.health.record_input(topic, time.monotonic())
        self.health.record_timing((time.perf_counter() - started) * 1e3, None)

    def close(self) -> None:
        """Finish the bag (idempotent). Safe to call from shutdown paths."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.recorder.close()
        total = sum(s.count for s in self.stats.values())
        self.get_logger().info(f"bag '{self.output_path}' closed: {total} messages")
