"""remote_planner over real Fast DDS: every request gets exactly one answer — a plan, busy
when it cannot be planned in time, an error for a malformed request — across vehicles;
a corrupt keyframe is noted, not fatal; probes are echoed without their filler."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _request(node: Any, rid: str, vehicle: str, deadline_ms: float = 3000.0,
             keyframe: bytes = b"") -> Any:
    from edge_llm_ros.msg import PlanRequest, TrackedObject

    now = node.get_clock().now().nanoseconds
    msg = PlanRequest(request_id=rid, vehicle_id=vehicle, planning_deadline_ms=deadline_ms)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
    msg.sent_at = msg.header.stamp
    msg.scene.header = msg.header
    msg.scene.ego.speed_mps, msg.scene.ego.speed_limit_mps = 12.0, 13.9
    msg.scene.objects.append(TrackedObject(track_id=5, class_name="car", distance_m=20.0,
                                           relative_speed_mps=8.0, time_to_collision_s=2.5))
    if keyframe:
        msg.payload_tier = PlanRequest.TIER_SUMMARY_AND_KEYFRAME
        msg.keyframe.format = "jpeg"
        msg.keyframe.data = keyframe
    return msg


def test_every_request_is_answered_once_and_bad_ones_do_not_hurt(
        listener: Any, start_edge: Callable[..., Any]) -> None:
    from edge_llm_ros.msg import LinkProbe, PlanRequest, RemotePlan
    from edge_llm_ros.nodes.link_qos import echo_qos, plan_qos, probe_qos

    node = listener.node
    listener.subscribe("/remote/plan_response", RemotePlan, qos=plan_qos())
    listener.subscribe("/remote/probe_echo", LinkProbe, qos=echo_qos(1.0))
    start_edge("run", "--nodes", "remote_planner", "--params-file", "config/remote.yaml",
               "-p", "remote_planner.model.threads=1", "--duration", "90")
    req_pub = node.create_publisher(PlanRequest, "/remote/plan_request", plan_qos())
    probe_pub = node.create_publisher(LinkProbe, "/remote/probe", probe_qos())
    listener.wait_for(lambda: req_pub.get_subscription_count() > 0, 60,
                      "the remote planner subscribed to requests")

    # Probes: echoed, without their filler (the vehicle measures its uplink).
    def echoed() -> bool:
        probe_pub.publish(LinkProbe(vehicle_id="v1", sequence=7, payload=bytes(5000)))
        return bool(listener.get("/remote/probe_echo"))
    listener.wait_for(echoed, 30, "a probe echo")
    echo = listener.get("/remote/probe_echo")[0]
    assert echo.is_echo and echo.sequence == 7 and len(echo.payload) == 0

    requests = [
        _request(node, "v1-1", "v1"),
        _request(node, "v2-1", "v2", keyframe=b"\xff\xd8 not really a jpeg"),
        _request(node, "v3-1", "v3", deadline_ms=20.0),          # cannot be planned in time
        _request(node, "", "v4"),                                # no request id
        _request(node, "v5-1", "v5", deadline_ms=math.nan),      # no usable deadline
    ]
    for msg in requests:
        req_pub.publish(msg)

    def answers() -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for a in listener.get("/remote/plan_response"):
            out.setdefault(a.request_id or a.vehicle_id, []).append(a)
        return out
    listener.wait_for(lambda: len(answers()) == 5, 60, lambda: f"answers: {list(answers())}")
    time.sleep(2.0)  # nothing else may come
    got = answers()
    assert all(len(v) == 1 for v in got.values()), {k: len(v) for k, v in got.items()}
    plan = got["v1-1"][0]
    assert plan.status == RemotePlan.STATUS_OK and plan.vehicle_id == "v1"
    # A car closing at 2.5 s: the plan reacts (slows, stops or goes around), never keeps on.
    assert len(plan.steps) == 3 and plan.steps[0].action != 0, list(plan.steps)
    assert plan.time_to_live_s == 3.0 and plan.remote_compute_ms > 0
    assert (plan.request_sent_at.sec, plan.request_sent_at.nanosec) == (
        requests[0].sent_at.sec, requests[0].sent_at.nanosec)
    keyframe = got["v2-1"][0]
    assert keyframe.status == RemotePlan.STATUS_OK and "could not be decoded" in \
        keyframe.rationale
    assert got["v3-1"][0].status == RemotePlan.STATUS_BUSY
    assert got["v4"][0].status == RemotePlan.STATUS_ERROR
    assert got["v5-1"][0].status == RemotePlan.STATUS_ERROR
    assert "malformed" in got["v5-1"][0].rationale
