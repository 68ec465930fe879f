"""remote_planner node (remote host): PlanRequest -> RemotePlan for any number of vehicles,
and the echo half of the link probes.

Requests are handed to the planning service's worker thread, which answers each one
exactly once (a plan, busy, or an error); the executor only converts messages."""

from __future__ import annotations

import math

import numpy as np

from edge_llm_ros import msg
from edge_llm_ros.nodes.base import ManagedEdgeNode
from edge_llm_ros.nodes.convert import ns_to_time, plan_request_from_msg, plan_to_msg, stamp_to_ns
from edge_llm_ros.nodes.link_qos import (
    ECHO_TOPIC,
    PROBE_TOPIC,
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    echo_qos,
    plan_qos,
    probe_qos,
)
from edge_llm_ros.params import ConfigError
from edge_llm_ros.reasoning.factory import backend_from_params
from edge_llm_ros.reasoning.reasoner import Reasoner
from edge_llm_ros.remote.planner import PlannerConfig, RemotePlanner
from edge_llm_ros.remote.service import PlanService, ServiceConfig
from edge_llm_ros.types import STATUS_ERROR, RemotePlan


def keyframe_note(message: msg.PlanRequest, max_bytes: int) -> str:
    """Decode the keyframe to check it; a text-only model plans from the summary alone."""
    if message.payload_tier != msg.PlanRequest.TIER_SUMMARY_AND_KEYFRAME:
        return ""
    data = bytes(message.keyframe.data)
    if not data:
        return "keyframe tier without a keyframe"
    if len(data) > max_bytes:
        return f"keyframe of {len(data)} bytes ignored (limit {max_bytes})"
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return f"keyframe ({message.keyframe.format or 'no format'}) could not be decoded"
    return f"keyframe {image.shape[1]}x{image.shape[0]}"


class RemotePlannerNode(ManagedEdgeNode):
    """Managed: configure loads and warms the model and starts the planning service,
    activate starts answering requests and echoing probes (so vehicles see the remote
    alive only while it is active), cleanup stops the service and frees the model."""

    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        self.planner: RemotePlanner | None = None
        self.service: PlanService | None = None
        self._subscriptions_made: list = []
        super().__init__("remote_planner", node_name, **kwargs)
        p = self.params
        self.plan_pub = self.create_output_publisher(msg.RemotePlan, RESPONSE_TOPIC, plan_qos())
        self.echo_pub = self.create_output_publisher(
            msg.LinkProbe, ECHO_TOPIC, echo_qos(float(p["liveliness_lease_s"])))
        for name in ("requests", "plans", "busy", "errors", "probes_echoed"):
            self.health.counters[name] = 0

    def configure_node(self) -> None:
        p = self.params
        try:
            planner_config = PlannerConfig.from_params(p)
            reasoner_config = PlannerConfig.reasoner_config(p)
        except ValueError as exc:
            raise ConfigError(f"node '{self.get_name()}': {exc}") from exc
        backend = backend_from_params(p, self.get_name(), self.get_logger().info)
        reasoner = Reasoner(backend, reasoner_config)
        reasoner.warm_up("")
        self.planner = RemotePlanner(reasoner, planner_config)
        self._max_keyframe_bytes = int(p["max_keyframe_bytes"])
        self.service = PlanService(
            self.planner, self._reply, clock_ns=lambda: self.get_clock().now().nanoseconds,
            config=ServiceConfig.from_params(p))
        self._subscriptions_made = [
            self.create_subscription(msg.PlanRequest, REQUEST_TOPIC, self.on_request, plan_qos()),
            self.create_subscription(msg.LinkProbe, PROBE_TOPIC, self.on_probe, probe_qos()),
        ]
        self.get_logger().info(
            f"remote planner ready: {self.planner.model_id}, horizon "
            f"{planner_config.horizon_steps} x {planner_config.step_s:.1f} s, queue "
            f"{int(p['max_queue'])}")

    def release_node(self) -> None:
        for sub in self._subscriptions_made:
            self.destroy_subscription(sub)
        self._subscriptions_made = []
        if self.service is not None:
            self.service.close()
            self.service = None
        if self.planner is not None:
            self.planner.reasoner.close()
            self.planner = None

    def on_probe(self, message: msg.LinkProbe) -> None:
        if message.is_echo or not self.accepts_input():
            return
        # Echo without the filler: the vehicle measures its uplink, not our downlink.
        self.echo_pub.publish(msg.LinkProbe(header=message.header, vehicle_id=message.vehicle_id,
                                            sequence=message.sequence, is_echo=True))
        self.health.counters["probes_echoed"] += 1

    def on_request(self, message: msg.PlanRequest) -> None:
        service, planner = self.service, self.planner
        if service is None or planner is None or not self.accepts_input():
            return  # not active: the vehicle times the request out, as with a dead remote
        self.health.counters["requests"] += 1
        now_ns = self.get_clock().now().nanoseconds
        deadline = message.planning_deadline_ms
        if not message.request_id or not message.vehicle_id or not (
                math.isfinite(deadline) and 0.0 < deadline <= 600_000.0):
            problem = (f"request {message.request_id!r} from {message.vehicle_id!r} is malformed "
                       f"(needs request_id, vehicle_id and a planning deadline in (0, 600 s], "
                       f"got {deadline!r} ms)")
            self.report_error("bad_request", problem)
            out = RemotePlan(message.request_id, message.vehicle_id, STATUS_ERROR,
                             stamp_to_ns(message.header.stamp), stamp_to_ns(message.sent_at),
                             rationale=problem[:200], model_id=planner.model_id)
            self._reply(out)
            return
        note = keyframe_note(message, self._max_keyframe_bytes)
        if note and not note.startswith("keyframe "):
            self.report_error("bad_keyframe", note)
        request = plan_request_from_msg(message, now_ns, note)
        service.submit(request)

    def _reply(self, out: RemotePlan) -> None:
        """Called from the executor (busy at once) or the planning thread (plans)."""
        self.plan_pub.publish(plan_to_msg(out))
        c = self.health.counters
        if out.status == msg.RemotePlan.STATUS_OK:
            c["plans"] += 1
            self.report_timing(out.remote_compute_ms, ns_to_time(out.stamp_ns), "base_link")
        elif out.status == msg.RemotePlan.STATUS_BUSY:
            c["busy"] += 1
        else:
            c["errors"] += 1
