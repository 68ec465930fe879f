"""bag_replay node: plays a rosbag2 bag (sqlite3 or MCAP) onto its topics
without the ROS 2 CLI: original timing, a rate factor, loop, start offset and
/clock. Messages are published as the bag's serialized bytes, unconverted."""

from __future__ import annotations

import time

from rclpy.qos import DurabilityPolicy, QoSProfile
from rosgraph_msgs.msg import Clock

from edge_llm_ros.bag import (
    BagError,
    bag_typestore,
    build_typestore,
    check_known_types,
    iter_messages,
    open_bag,
    plan_replay,
)
from edge_llm_ros.bag import QosProfile as RecordedQos
from edge_llm_ros.bag.replay import restamp_header, starts_with_header
from edge_llm_ros.nodes.base import REPLAY_QOS, SourceNode
from edge_llm_ros.nodes.convert import ns_to_time
from edge_llm_ros.nodes.msgtypes import import_message_type, is_importable
from edge_llm_ros.params import ConfigError

# While waiting for the next message, /clock still advances at this period.
_CLOCK_PERIOD_S = 0.05


def replay_qos(offered: tuple[RecordedQos, ...]) -> QoSProfile:
    """REPLAY_QOS, transient-local where the recorded publisher was (/tf_static: a
    subscriber that asks for transient local matches no volatile publisher)."""
    if any(p.durability == "transient_local" for p in offered):
        return QoSProfile(depth=REPLAY_QOS.depth, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    return REPLAY_QOS


class BagReplayNode(SourceNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("bag_replay", node_name, **kwargs)
        p = self.params
        self.bag_path = str(p["bag_path"])
        try:
            self.info = open_bag(self.bag_path)
        except BagError as exc:
            raise ConfigError(f"node '{self.get_name()}': parameter 'bag_path': {exc}") from exc
        bag_topics = {t.name: t for t in self.info.topics}
        wanted = list(p["topics"]) or sorted(bag_topics)
        missing = [t for t in wanted if t not in bag_topics]
        if missing:
            raise ConfigError(
                f"node '{self.get_name()}': parameter 'topics': not in bag '{self.bag_path}': "
                f"{', '.join(missing)} (the bag has: {', '.join(sorted(bag_topics))})"
            )
        unknown = set(check_known_types(self.info, is_importable))
        unknown_topics = [t for t in wanted if bag_topics[t].msgtype in unknown]
        if unknown_topics:
            listing = ", ".join(f"{t} ({bag_topics[t].msgtype})" for t in unknown_topics)
            if not p["skip_unknown_types"]:
                raise ConfigError(
                    f"node '{self.get_name()}': bag '{self.bag_path}' holds message types this "
                    f"machine cannot import: {listing}; build/source their packages or set "
                    "skip_unknown_types to replay the other topics"
                )
            self.get_logger().warning(f"skipping topics of unknown types: {listing}")
            wanted = [t for t in wanted if t not in unknown_topics]
        self.topics = wanted
        self.publishers_by_topic = {
            topic: self.create_source_publisher(
                import_message_type(bag_topics[topic].msgtype), topic,
                replay_qos(bag_topics[topic].offered_qos)
            )
            for topic in self.topics
        }
        # Latched topics (/tf_static): their messages reach subscribers that come later.
        self.latched_topics = {t for t, pub in self.publishers_by_topic.items()
                               if pub.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL}
        self.clock_pub = self.create_publisher(Clock, "/clock", 10) if p["publish_clock"] else None
        # Topics whose stamps restamp rewrites: those whose type starts with a Header.
        self.restamped_topics: set[str] = set()
        if p["restamp"]:
            fielddefs = bag_typestore(self.bag_path, build_typestore()).fielddefs
            self.restamped_topics = {t for t in self.topics
                                     if starts_with_header(fielddefs, bag_topics[t].msgtype)}
        self.published = 0
        self._init_source("bag_replay")
        self.get_logger().info(
            f"replaying {len(self.topics)} topic(s) of '{self.bag_path}' "
            f"({self.info.duration_s:.1f} s, {self.info.message_count} messages) at rate "
            f"{p['rate']}{', looping' if p['loop'] else ''}"
        )

    def _publish_clock(self, bag_time_ns: int) -> None:
        if self.clock_pub is not None:
            now_ns = time.time_ns() if self.params["restamp"] else bag_time_ns
            self.clock_pub.publish(Clock(clock=ns_to_time(now_ns)))

    def _run(self) -> None:
        p = self.params
        rate = float(p["rate"])
        try:
            schedule = plan_replay(
                lambda: iter_messages(self.bag_path, self.topics, float(p["start_offset_s"])),
                rate=rate, loop=bool(p["loop"]), start_offset_s=float(p["start_offset_s"]),
                bag_start_ns=self.info.start_ns,
            )
            wait_s = float(p["wait_for_subscribers_s"])
            if wait_s > 0:
                # A latched topic needs no subscriber yet while other topics keep the replay
                # running (nothing in a pipeline may want the recorded /tf_static).
                waited = ([pub for t, pub in self.publishers_by_topic.items()
                           if t not in self.latched_topics]
                          or list(self.publishers_by_topic.values()))
                deadline = time.monotonic() + wait_s
                while (not self._stop.is_set() and time.monotonic() < deadline
                       and any(pub.get_subscription_count() == 0 for pub in waited)):
                    self._stop.wait(0.05)
            if self._stop.wait(float(p["start_delay_s"])):
                return
            wall_start = time.monotonic()
            wall_epoch_ns = time.time_ns()
            for item in schedule:
                # Sleep until the message is due, keeping /clock moving meanwhile
                # (bag time now = the message's time minus what is left, scaled).
                while not self._stop.is_set():
                    remaining = wall_start + item.wall_offset_s - time.monotonic()
                    if remaining <= 0:
                        break
                    if remaining > _CLOCK_PERIOD_S:
                        self._publish_clock(item.bag_time_ns - int(remaining * rate * 1e9))
                    self._stop.wait(min(remaining, _CLOCK_PERIOD_S))
                if self._stop.is_set():
                    break
                started = time.perf_counter()
                self._publish_clock(item.bag_time_ns)
                data = item.msg.rawdata
                if item.msg.topic in self.restamped_topics:
                    # Due now (wall_start + its offset); the stamp keeps its distance
                    # from the recording time, scaled like the playback.
                    due_ns = wall_epoch_ns + round(item.wall_offset_s * 1e9)
                    data = restamp_header(data, lambda stamp_ns, item=item, due_ns=due_ns: due_ns
                                          - round((item.bag_time_ns - stamp_ns) / rate))
                self.publishers_by_topic[item.msg.topic].publish(data)
                self.published += 1
                self.health.record_timing((time.perf_counter() - started) * 1e3, None)
            else:
                self._wait_for_delivery()
                self.get_logger().info(f"bag replayed: {self.published} messages published")
        except BagError as exc:
            self.exit_code = 1
            self.report_error("bag_read_failed", str(exc))
        except Exception as exc:
            self.exit_code = 1
            self.report_error("replay_failed", repr(exc))
        finally:
            if p["exit_when_done"] or self.exit_code:
                self.finished.set()

    def _wait_for_delivery(self, timeout_s: float = 2.0) -> None:
        """Before exiting, let reliable subscribers acknowledge the last messages
        (an exiting process takes undelivered samples with it)."""
        from rclpy.duration import Duration

        deadline = time.monotonic() + timeout_s
        for publisher in self.publishers_by_topic.values():
            left = max(0.0, deadline - time.monotonic())
            publisher.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))

