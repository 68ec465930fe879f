"""offload_manager node (on board): measures the link to the remote planner, decides when a
PlanRequest may go, and gives every request exactly one outcome.

Scenes are taken at plan_rate_hz; each gets a request id and is either sent (when the
estimated round trip fits the planning deadline and the remote answers heartbeats) or
recorded as not sent with the reason. Plans for this vehicle are forwarded to the reasoner
on remote/plan; they stay advice there. All timing of the link uses the monotonic clock.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from edge_llm_ros import msg
from edge_llm_ros.diagnostics import Level
from edge_llm_ros.nodes.base import EdgeNode
from edge_llm_ros.nodes.convert import make_header, stamp_to_ns
from edge_llm_ros.nodes.link_qos import (
    ECHO_TOPIC,
    PROBE_TOPIC,
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    echo_qos,
    plan_qos,
    probe_qos,
)
from edge_llm_ros.offload.ledger import ANSWERED, RequestLedger, RequestRecord
from edge_llm_ros.offload.link import LinkConfig, LinkEstimator
from edge_llm_ros.offload.policy import (
    TIER_SUMMARY_AND_KEYFRAME,
    OffloadConfig,
    OffloadPolicy,
    OffloadState,
    PayloadSizes,
)
from edge_llm_ros.params import ConfigError
from edge_llm_ros.types import ACTION_NAMES

KEYFRAME_GUESS_BYTES = 30_000  # until the first keyframe is encoded
RESPONSE_GUESS_BYTES = 600


def encode_keyframe(message: Image, max_width: int, quality: int) -> CompressedImage | None:
    """JPEG of an rgb8/bgr8/mono8 image, downscaled; None for encodings it cannot read."""
    import cv2

    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1}.get(message.encoding)
    if channels is None or message.width == 0 or message.height == 0:
        return None
    row = message.width * channels
    data = np.frombuffer(bytes(message.data), np.uint8)
    if message.step < row or data.size < message.step * message.height:
        return None
    image = data[: message.step * message.height].reshape(message.height, message.step)[:, :row]
    image = image.reshape(message.height, message.width, channels) if channels == 3 else image
    if message.encoding == "rgb8":
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if message.width > max_width:
        height = max(1, round(message.height * max_width / message.width))
        image = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return None
    return CompressedImage(header=message.header, format="jpeg", data=jpeg.tobytes())


class OffloadManagerNode(EdgeNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("offload_manager", node_name, **kwargs)
        p = self.params
        try:
            self.policy = OffloadPolicy(OffloadConfig.from_params(p))
        except ValueError as exc:
            raise ConfigError(f"node '{self.get_name()}': {exc}") from exc
        self.vehicle_id = str(p["vehicle_id"]).strip()
        if not self.vehicle_id:
            raise ConfigError(f"node '{self.get_name()}': vehicle_id must not be empty")
        self.link = LinkEstimator(LinkConfig.from_params(p))
        log = str(p["outcome_log"])
        self.ledger = RequestLedger(Path(log).expanduser() if log else None)
        self._deadline_ms = float(p["planning_deadline_ms"])
        self._min_gap_ns = int(0.9e9 / float(p["plan_rate_hz"]))
        self._max_in_flight = int(p["max_in_flight"])
        self._liveliness_timeout_ns = int(float(p["liveliness_timeout_s"]) * 1e9)
        self._print = bool(p["print_outcomes"])
        self._jpeg_quality = int(p["keyframe_jpeg_quality"])
        self._keyframe_width = int(p["keyframe_max_width"])
        self._started_ns = time.monotonic_ns()
        self._last_scene_ns = -1
        self._sequence = 0
        self._request_count = 0
        self._instruction = ""
        self._image: Image | None = None
        self._keyframe_bytes = KEYFRAME_GUESS_BYTES
        self._response_bytes = RESPONSE_GUESS_BYTES
        self._summary_bytes = 0
        self._state = OffloadState(False, 0, math.inf, "link not measured yet")
        self._was_alive = False
        self._dds_alive: bool | None = None
        self._closed = False

        self.request_pub = self.create_publisher(msg.PlanRequest, REQUEST_TOPIC, plan_qos())
        self.probe_pub = self.create_publisher(msg.LinkProbe, PROBE_TOPIC, probe_qos())
        self.plan_pub = self.create_publisher(msg.RemotePlan, "remote/plan", 10)
        self.status_pub = self.create_publisher(msg.LinkStatus, "link/status", 10)
        self.outcome_pub = self.create_publisher(msg.PlanOutcome, "remote/outcome", 50)
        self.create_sensor_subscription(msg.SceneSummary, "scene/summary", self.on_scene)
        # Optional input (keyframes only), so not watched for silence.
        self.create_subscription(Image, "camera/image_raw", self.on_image,
                                 qos_profile_sensor_data)
        self.create_subscription(String, "operator/instruction", self.on_instruction, 10)
        self.create_subscription(msg.RemotePlan, RESPONSE_TOPIC, self.on_response, plan_qos())
        self.create_subscription(
            msg.LinkProbe, ECHO_TOPIC, self.on_echo, echo_qos(float(p["liveliness_timeout_s"])),
            event_callbacks=SubscriptionEventCallbacks(
                liveliness=self.on_liveliness, deadline=self.on_echo_deadline,
                incompatible_qos=lambda event: self._on_incompatible_qos(
                    self.resolve_topic_name(ECHO_TOPIC), event)))
        self.create_timer(float(p["heartbeat_period_s"]), lambda: self.send_probe(0))
        self.create_timer(float(p["probe_period_s"]),
                          lambda: self.send_probe(self.link.next_probe_bytes()))
        self.create_timer(float(p["link_status_period_s"]), self.on_status_timer)
        for name in ("scenes_considered", "plans_forwarded", "answers_for_other_vehicles",
                     "late_answers", "probes_lost", "offload_switches", "dds_liveliness_lost",
                     "dds_echo_deadlines_missed"):
            self.health.counters[name] = 0

    # ------------------------------------------------------------ link probes
    def send_probe(self, payload_bytes: int) -> None:
        self._sequence += 1
        now = time.monotonic_ns()
        message = msg.LinkProbe(header=make_header(self.get_clock().now().nanoseconds, ""),
                                vehicle_id=self.vehicle_id, sequence=self._sequence, is_echo=False)
        if payload_bytes:
            message.payload = bytes(payload_bytes)
        self.link.probe_sent(self._sequence, payload_bytes, now)
        self.probe_pub.publish(message)

    def on_echo(self, message: msg.LinkProbe) -> None:
        if message.is_echo and message.vehicle_id == self.vehicle_id:
            self.link.echo_received(message.sequence, time.monotonic_ns())

    def on_echo_deadline(self, event: object) -> None:
        self.health.counters["dds_echo_deadlines_missed"] = int(
            getattr(event, "total_count", 0))

    def on_liveliness(self, event: object) -> None:
        alive = int(getattr(event, "alive_count", 0)) > 0
        if self._dds_alive and not alive:
            self.health.counters["dds_liveliness_lost"] += 1
        self._dds_alive = alive

    def remote_alive(self, now_ns: int) -> bool:
        last = self.link.last_echo_ns
        return last is not None and now_ns - last <= self._liveliness_timeout_ns

    # ------------------------------------------------------------ inputs
    def on_image(self, message: Image) -> None:
        self._image = message

    def on_instruction(self, message: String) -> None:
        self._instruction = message.data.strip()[:200]

    def on_scene(self, message: msg.SceneSummary) -> None:
        if self._closed:
            return
        stamp_ns = stamp_to_ns(message.header.stamp)
        if stamp_ns < self._last_scene_ns:
            self.report_error("stale_scene", f"scene stamped {stamp_ns} ns is older than the "
                              f"last one considered ({self._last_scene_ns} ns); ignored")
            return
        if self._last_scene_ns >= 0 and stamp_ns - self._last_scene_ns < self._min_gap_ns:
            return  # older, repeated or too soon: not a planning opportunity
        self._last_scene_ns = stamp_ns
        self.health.counters["scenes_considered"] += 1
        self._request_count += 1
        request_id = f"{self.vehicle_id}-{self._started_ns % 10**9:09d}-{self._request_count}"
        request = msg.PlanRequest(header=message.header, request_id=request_id,
                                  vehicle_id=self.vehicle_id, scene=message,
                                  operator_instruction=self._instruction,
                                  payload_tier=msg.PlanRequest.TIER_SUMMARY_ONLY,
                                  planning_deadline_ms=self._deadline_ms)
        self._summary_bytes = len(serialize_message(request))
        now = time.monotonic_ns()
        state = self._update_state(now)
        reason = state.reason
        if not reason and self.ledger.in_flight >= self._max_in_flight:
            reason = f"{self.ledger.in_flight} request(s) still awaiting an answer"
        if reason:
            self._publish_outcome(self.ledger.not_sent(request_id, now, reason, stamp_ns))
            return
        if state.tier == TIER_SUMMARY_AND_KEYFRAME and self._image is not None:
            keyframe = encode_keyframe(self._image, self._keyframe_width, self._jpeg_quality)
            if keyframe is None:
                self.report_error("keyframe", f"camera encoding {self._image.encoding!r} "
                                  "cannot be compressed; sending the summary only")
            else:
                request.keyframe = keyframe
                request.payload_tier = msg.PlanRequest.TIER_SUMMARY_AND_KEYFRAME
                self._keyframe_bytes = len(keyframe.data)
        request.sent_at = self.get_clock().now().to_msg()
        upload_bytes = len(serialize_message(request))
        self.ledger.sent(request_id, time.monotonic_ns(), self._deadline_ms,
                         int(request.payload_tier), upload_bytes, stamp_ns)
        self.request_pub.publish(request)

    def on_response(self, message: msg.RemotePlan) -> None:
        if self._closed:
            return
        if message.vehicle_id != self.vehicle_id:
            self.health.counters["answers_for_other_vehicles"] += 1
            return
        now = time.monotonic_ns()
        size = len(serialize_message(message))
        record = self.ledger.answer(message.request_id, int(message.status), now, size,
                                    float(message.remote_compute_ms),
                                    reason=message.rationale[:200] if message.status else "")
        self.health.counters["late_answers"] = self.ledger.counts.late_answers
        if record is None:
            return
        self._response_bytes = size
        if self._print and record.outcome == ANSWERED:
            names = [ACTION_NAMES[s.action] if s.action < len(ACTION_NAMES) else str(s.action)
                     for s in message.steps]
            steps = " -> ".join(f"{name} {s.target_speed_mps:.0f}"
                                for name, s in zip(names, message.steps, strict=True))
            self.get_logger().info(f"plan {record.request_id}: {steps} m/s ({message.model_id}, "
                                   f"compute {message.remote_compute_ms:.0f} ms)")
        if record.outcome == ANSWERED:
            self.link.request_timing(record.upload_bytes, record.round_trip_ms,
                                     record.remote_compute_ms)
            self.policy.record_compute(record.remote_compute_ms)
            self.plan_pub.publish(message)
            self.health.counters["plans_forwarded"] += 1
        self._publish_outcome(record)

    # ------------------------------------------------------------ state
    def _update_state(self, now_ns: int) -> OffloadState:
        self.health.counters["probes_lost"] += self.link.expire(now_ns)
        sizes = PayloadSizes(self._summary_bytes or 1000, self._keyframe_bytes,
                             self._response_bytes)
        alive = self.remote_alive(now_ns)
        state = self.policy.update(now_ns / 1e9, self.link.estimate(), alive, sizes)
        if alive != self._was_alive:
            self.get_logger().info("remote planner " + ("answering" if alive else
                                   "not answering heartbeats: deciding on board only"))
            self._was_alive = alive
        if state.enabled != self._state.enabled:
            self.get_logger().info("offload " + ("on" if state.enabled else
                                                 f"off: {state.reason}"))
        self._state = state
        self.health.counters["offload_switches"] = self.policy.switches
        if alive:
            self.health.clear_condition("remote")
        else:
            self.health.set_condition("remote", Level.WARN,
                                      "remote planner not answering heartbeats")
        return state

    def on_status_timer(self) -> None:
        if self._closed:
            return
        now = time.monotonic_ns()
        for record in self.ledger.expire(now):
            self._publish_outcome(record)
        state = self._update_state(now)
        est = self.link.estimate()
        last = self.link.last_echo_ns
        counts = self.ledger.counts.outcomes
        self.status_pub.publish(msg.LinkStatus(
            header=make_header(self.get_clock().now().nanoseconds, ""),
            bandwidth_bps=float(est.bandwidth_bps), rtt_ms=float(est.rtt_ms),
            remote_alive=self.remote_alive(now),
            last_heartbeat_age_s=float("inf") if last is None else (now - last) / 1e9,
            offload_enabled=state.enabled, payload_tier=state.tier,
            requests_sent=sum(counts.values()) - counts["not_sent"],
            requests_answered=counts["answered"], requests_busy=counts["busy"],
            requests_timed_out=counts["timed_out"], requests_failed=counts["failed"],
            requests_not_sent=counts["not_sent"], requests_in_flight=self.ledger.in_flight,
            loss_fraction=float(est.loss_fraction),
            estimated_round_trip_ms=float(state.estimated_ms), reason=state.reason))

    def _publish_outcome(self, record: RequestRecord) -> None:
        if self._print:
            est = self.link.estimate()
            rtt = "" if not math.isfinite(record.round_trip_ms) else \
                f" in {record.round_trip_ms:.0f} ms"
            self.get_logger().info(
                f"request {record.request_id} {record.outcome}{rtt}"
                f"{' (' + record.reason[:80] + ')' if record.reason else ''} | link "
                f"{est.bandwidth_bps / 1e6:.1f} Mbit/s, rtt {est.rtt_ms:.1f} ms, remote "
                f"{'alive' if self.remote_alive(time.monotonic_ns()) else 'dead'}")
        message = msg.PlanOutcome(header=make_header(record.scene_stamp_ns, "base_link"),
                                  request_id=record.request_id, vehicle_id=self.vehicle_id,
                                  outcome=record.outcome, reason=record.reason[:200],
                                  payload_tier=record.payload_tier,
                                  upload_bytes=record.upload_bytes,
                                  response_bytes=record.response_bytes,
                                  round_trip_ms=float(record.round_trip_ms),
                                  remote_compute_ms=float(record.remote_compute_ms))
        self.outcome_pub.publish(message)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for record in self.ledger.close_all(time.monotonic_ns(), "offload manager shut down"):
            self._publish_outcome(record)
        self.ledger.close()
