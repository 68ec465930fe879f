"""remote_planner node (remote host): PlanRequest -> RemotePlan for any number of vehicles,
and the echo half of the link probes.

Requests are handed to the planning service's worker thread, which answers each one
exactly once (a plan, busy, or an error); the executor only converts messages."""

from __future__ import annotations

import math

import numpy as np

from edge_llm_ros import msg
from edge_llm_ros.nodes.base import EdgeNode
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
from edge_llm_ros.reasoning.factory import backend_from_params, thresholds_from_params
from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
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


class RemotePlannerNode(EdgeNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("remote_planner", node_name, **kwargs)
        p = self.params
        try:
            planner_config = PlannerConfig(
                horizon_steps=int(p["horizon_steps"]), step_s=float(p["step_s"]),
                time_to_live_s=float(p["time_to_live_s"]),
                step_budget_ms=float(p["step_budget_ms"]))
            reasoner_config = ReasonerConfig(
                deadline_ms=float(p["step_budget_ms"]), max_new_tokens=int(p["max_new_tokens"]),
                thresholds=thresholds_from_params(p))
        except ValueError as exc:
            raise ConfigError(f"node '{self.get_name()}': {exc}") from exc
        backend = backend_from_params(p, self.get_name(), self.get_logger().info)
        reasoner = Reasoner(backend, reasoner_config)
        reasoner.warm_up("")
        self.planner = RemotePlanner(reasoner, planner_config)
        self._max_keyframe_bytes = int(p["max_keyframe_bytes"])
        self.plan_pub = self.create_publisher(msg.RemotePlan, RESPONSE_TOPIC, plan_qos())
        self.echo_pub = self.create_publisher(
            msg.LinkProbe, ECHO_TOPIC, echo_qos(float(p["liveliness_lease_s"])))
        self.service = PlanService(
            self.planner, self._reply, clock_ns=lambda: self.get_clock().now().nanoseconds,
            config=ServiceConfig(max_queue=int(p["max_queue"]),
                                 min_plan_budget_ms=float(p["min_plan_budget_ms"])))
        self.create_subscription(msg.PlanRequest, REQUEST_TOPIC, self.on_request, plan_qos())
        self.create_subscription(msg.LinkProbe, PROBE_TOPIC, self.on_probe, probe_qos())
        for name in ("requests", "plans", "busy", "errors", "probes_echoed"):
            self.health.counters[name] = 0
        self.get_logger().info(
            f"remote planner ready: {self.planner.model_id}, horizon "
            f"{planner_config.horizon_steps} x {planner_config.step_s:.1f} s, queue "
            f"{int(p['max_queue'])}")

    def on_probe(self, message: msg.LinkProbe) -> None:
        if message.is_echo:
            return
        # Echo without the filler: the vehicle measures its uplink, not our downlink.
        self.echo_pub.publish(msg.LinkProbe(header=message.header, vehicle_id=message.vehicle_id,
                                            sequence=message.sequence, is_echo=True))
        self.health.counters["probes_echoed"] += 1

    def on_request(self, message: msg.PlanRequest) -> None:
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
                             rationale=problem[:200], model_id=self.planner.model_id)
            self._reply(out)
            return
        note = keyframe_note(message, self._max_keyframe_bytes)
        if note and not note.startswith("keyframe "):
            self.report_error("bad_keyframe", note)
        request = plan_request_from_msg(message, now_ns, note)
        self.service.submit(request)

    def _reply(self, out: RemotePlan) -> None:
        """Called from the executor (busy at once) or the planning thread (plans)."""
        self.plan_pub.publish(plan_to_msg(out))
        c = self.health.counters
        if out.status == msg.RemotePlan.STATUS_OK:
            c["plans"] += 1
            self.report_timing(out.remote_compute_ms, ns_to_time(out.stamp_ns))
        elif out.status == msg.RemotePlan.STATUS_BUSY:
            c["busy"] += 1
        else:
            c["errors"] += 1

    def close(self) -> None:
        service = getattr(self, "service", None)
        if service is not None:
            service.close()
            self.planner.reasoner.close()
            self.service = None
