"""The managed nodes (reasoner, camera_detector, remote_planner) driven through every transition
over their real services (<node>/change_state, <node>/get_state) from another process:
nothing is published unless active, the model is loaded on configure and released on
cleanup, /diagnostics says the state, and shutdown works from any state."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


class LifecycleClient:
    """Calls a node's lifecycle services from the listener node, as a manager would."""

    def __init__(self, listener: Any, node_name: str) -> None:
        from lifecycle_msgs.srv import ChangeState, GetState

        self.listener = listener
        self.change_client = listener.node.create_client(ChangeState, f"{node_name}/change_state")
        self.get_client = listener.node.create_client(GetState, f"{node_name}/get_state")
        for client in (self.change_client, self.get_client):
            assert client.wait_for_service(timeout_sec=60.0), f"{client.srv_name} never appeared"

    def _call(self, client: Any, request: Any, timeout_s: float = 120.0) -> Any:
        future = client.call_async(request)
        deadline = time.monotonic() + timeout_s
        while not future.done():
            assert time.monotonic() < deadline, f"{client.srv_name}: no answer in {timeout_s} s"
            time.sleep(0.02)
        return future.result()

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return str(self._call(self.get_client, GetState.Request()).current_state.label)

    def change(self, transition_id: int) -> bool:
        from lifecycle_msgs.srv import ChangeState

        request = ChangeState.Request()
        request.transition.id = transition_id
        return bool(self._call(self.change_client, request).success)


def _rss_mib(pid: int) -> float:
    """Resident memory of a process: the model's pages count while it is loaded."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError(f"no VmRSS for pid {pid}")


def _lifecycle_values(listener: Any, node: str) -> list[dict[str, str]]:
    statuses = [s for a in listener.get("/diagnostics") for s in a.status
                if s.name.startswith(f"/{node}: ")]
    return [{kv.key: kv.value for kv in s.values} | {"message": s.message} for s in statuses]


def _wait_diagnosed_state(listener: Any, node: str, state: str) -> dict[str, str]:
    listener.wait_for(
        lambda: any(v.get("lifecycle_state") == state for v in _lifecycle_values(listener, node)),
        15, f"/diagnostics of {node} saying lifecycle_state {state}")
    return [v for v in _lifecycle_values(listener, node) if v.get("lifecycle_state") == state][-1]


def _scene(stamp_ns: int) -> Any:
    from edge_llm_ros.msg import SceneSummary, TrackedObject

    msg = SceneSummary()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = "base_link"
    msg.ego.speed_mps, msg.ego.speed_limit_mps, msg.ego.lane_index = 12.0, 13.9, 1
    msg.perception_mode = "fused"
    msg.objects.append(TrackedObject(track_id=7, class_name="car", confidence=0.9,
                                     distance_m=14.0, relative_speed_mps=10.0,
                                     time_to_collision_s=1.4, lane_relation=0))
    return msg


def _image(stamp_ns: int) -> Any:
    from sensor_msgs.msg import Image

    msg = Image(width=320, height=240, encoding="rgb8", step=960)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = "camera_optical"
    msg.data = bytes(range(256)) * (240 * 960 // 256)
    return msg


def _feed(listener: Any, pub: Any, make: Callable[[int], Any], seconds: float,
          period_s: float = 0.25) -> list[int]:
    """Publish inputs stamped now for `seconds`; returns their stamps."""
    stamps = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        stamp = listener.node.get_clock().now().nanoseconds
        pub.publish(make(stamp))
        stamps.append(stamp)
        time.sleep(period_s)
    return stamps


def _ns(header: Any) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def _drive_lifecycle(listener: Any, proc: Any, node: str, input_topic: str, input_type: Any,
                     make_input: Callable[[int], Any], output_topic: str) -> dict[str, float]:
    """Every transition over the services, checking outputs in each state; returns the
    process's resident memory (MiB) per state."""
    from lifecycle_msgs.msg import Transition

    timing = f"/{node}/debug/processing_time_ms"
    latency = f"/{node}/debug/pipeline_latency_ms"
    outputs = (output_topic, timing, latency)
    pub = listener.node.create_publisher(input_type, input_topic, 10)
    lc = LifecycleClient(listener, node)
    rss = {}

    def published() -> int:
        return sum(len(listener.get(t)) for t in outputs)

    assert lc.state() == "unconfigured"
    values = _wait_diagnosed_state(listener, node, "unconfigured")
    assert "nothing published" in values["message"]
    assert not lc.change(Transition.TRANSITION_ACTIVATE), "activate needs configure first"
    rss["unconfigured"] = _rss_mib(proc.popen.pid)
    _feed(listener, pub, make_input, 1.0)
    assert published() == 0, "published while unconfigured"

    assert lc.change(Transition.TRANSITION_CONFIGURE) and lc.state() == "inactive"
    rss["inactive"] = _rss_mib(proc.popen.pid)
    listener.wait_for(lambda: pub.get_subscription_count() > 0, 30, f"{node} subscribing")
    _feed(listener, pub, make_input, 1.5)
    time.sleep(0.5)
    assert published() == 0, "published while inactive"
    _wait_diagnosed_state(listener, node, "inactive")

    assert lc.change(Transition.TRANSITION_ACTIVATE) and lc.state() == "active"
    fed: list[int] = []
    deadline = time.monotonic() + 60
    while len(listener.get(output_topic)) < 3 and time.monotonic() < deadline:
        fed += _feed(listener, pub, make_input, 0.5)
    assert len(listener.get(output_topic)) >= 3, f"no {output_topic} while active"
    listener.wait_for(lambda: listener.get(timing) and listener.get(latency), 10,
                      "stamped timing topics")
    # Timing is stamped with the input it measures: a replay lines it up with the sensor data.
    timed = {_ns(m.header) for m in listener.get(timing)}
    assert timed <= set(fed) and timed & {_ns(m.header) for m in listener.get(output_topic)}
    assert {_ns(m.header) for m in listener.get(latency)} <= set(fed)
    assert all(m.data > 0 for m in listener.get(latency))
    assert {m.header.frame_id for m in listener.get(timing)} == {make_input(0).header.frame_id}
    _wait_diagnosed_state(listener, node, "active")
    rss["active"] = _rss_mib(proc.popen.pid)

    assert lc.change(Transition.TRANSITION_DEACTIVATE) and lc.state() == "inactive"
    time.sleep(0.5)  # a result in flight when deactivated is dropped by the publisher
    count = published()
    _feed(listener, pub, make_input, 1.5)
    time.sleep(0.5)
    assert published() == count, "published while deactivated"

    # Active again, then inactive, then cleanup: the model goes.
    assert lc.change(Transition.TRANSITION_ACTIVATE) and lc.state() == "active"
    assert lc.change(Transition.TRANSITION_DEACTIVATE)
    assert lc.change(Transition.TRANSITION_CLEANUP) and lc.state() == "unconfigured"
    rss["cleaned_up"] = _rss_mib(proc.popen.pid)
    _wait_diagnosed_state(listener, node, "unconfigured")
    count = published()
    _feed(listener, pub, make_input, 1.0)
    assert published() == count, "published after cleanup"

    # Configure again (the model reloads), activate, and shut down from active.
    assert lc.change(Transition.TRANSITION_CONFIGURE) and lc.change(Transition.TRANSITION_ACTIVATE)
    assert lc.change(Transition.TRANSITION_ACTIVE_SHUTDOWN) and lc.state() == "finalized"
    assert not lc.change(Transition.TRANSITION_CONFIGURE), "finalized is final"
    count = published()
    _feed(listener, pub, make_input, 1.0)
    assert published() == count, "published after shutdown"
    assert proc.stop() == 0, proc.output
    assert "model and inputs released" in proc.output
    return rss


def _subscribe_outputs(listener: Any, node: str, output_topic: str, output_type: Any) -> None:
    from diagnostic_msgs.msg import DiagnosticArray

    from edge_llm_ros.msg import Float64Stamped

    listener.subscribe(output_topic, output_type)
    listener.subscribe(f"/{node}/debug/processing_time_ms", Float64Stamped)
    listener.subscribe(f"/{node}/debug/pipeline_latency_ms", Float64Stamped)
    listener.subscribe("/diagnostics", DiagnosticArray)


@pytest.mark.parametrize("backend", ["rules", "llama_cpp"])
def test_reasoner_lifecycle_over_services(listener: Any, start_edge: Callable[..., Any],
                                          backend: str) -> None:
    from edge_llm_ros.msg import Decision, SceneSummary

    _subscribe_outputs(listener, "reasoner", "/decision", Decision)
    from edge_llm_ros.reasoning.model_files import TUNED_GGUF_NAME

    # With llama.cpp, the 135M model (the remote planner's default, 145 MB): big enough that
    # its load and release stand out of the process's other memory.
    model = ["-p", f"reasoner.model.path={TUNED_GGUF_NAME}"] if backend == "llama_cpp" else []
    proc = start_edge("run", "--nodes", "reasoner", "--params-file", "config/vehicle.yaml",
                      "-p", f"reasoner.model.backend={backend}", "-p", "reasoner.autostart=false",
                      *model, "--duration", "240")
    rss = _drive_lifecycle(listener, proc, "reasoner", "/scene/summary", SceneSummary, _scene,
                           "/decision")
    sources = {d.source for d in listener.get("/decision")}
    if backend == "llama_cpp":
        # The 135M GGUF (about 140 MiB) is resident only between configure and cleanup.
        assert rss["inactive"] - rss["unconfigured"] > 50, rss
        assert rss["inactive"] - rss["cleaned_up"] > 50, rss
    else:
        assert sources == {1}, "the rules backend decides every scene by the rule policy"


def test_reasoner_configure_failure_leaves_it_unconfigured(
        listener: Any, start_edge: Callable[..., Any]) -> None:
    """A missing model fails configure (the transition answers false), says why in
    /diagnostics, and the node stays up, unconfigured, for a corrected retry."""
    from diagnostic_msgs.msg import DiagnosticArray
    from lifecycle_msgs.msg import Transition

    listener.subscribe("/diagnostics", DiagnosticArray)
    proc = start_edge("run", "--nodes", "reasoner", "--params-file", "config/vehicle.yaml",
                      "-p", "reasoner.model.path=/nonexistent/reasoner.gguf",
                      "-p", "reasoner.autostart=false", "--duration", "60")
    lc = LifecycleClient(listener, "reasoner")
    assert not lc.change(Transition.TRANSITION_CONFIGURE)
    assert lc.state() == "unconfigured"
    listener.wait_for(lambda: any("configure failed" in v["message"] and
                                  "/nonexistent/reasoner.gguf" in v["message"]
                                  for v in _lifecycle_values(listener, "reasoner")),
                      15, "diagnostics naming the configure failure")
    assert lc.change(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
    assert proc.stop() == 0, proc.output


def test_camera_detector_lifecycle_over_services(listener: Any,
                                                 start_edge: Callable[..., Any]) -> None:
    from sensor_msgs.msg import Image

    from edge_llm_ros.msg import Detection2DArray

    _subscribe_outputs(listener, "camera_detector", "/perception/detections_2d",
                       Detection2DArray)
    proc = start_edge("run", "--nodes", "camera_detector", "--params-file",
                      "config/vehicle.yaml", "-p", "camera_detector.autostart=false",
                      "--duration", "240")
    _drive_lifecycle(listener, proc, "camera_detector", "/camera/image_raw", Image, _image,
                     "/perception/detections_2d")


def _plan_request(stamp_ns: int) -> Any:
    from edge_llm_ros.msg import PlanRequest

    msg = PlanRequest(request_id=f"r{stamp_ns}", vehicle_id="vehicle_1",
                      planning_deadline_ms=2000.0, scene=_scene(stamp_ns))
    msg.header = msg.scene.header
    msg.sent_at = msg.scene.header.stamp
    return msg


def test_remote_planner_lifecycle_over_services(listener: Any,
                                                start_edge: Callable[..., Any]) -> None:
    """Requests are answered, and timing published, only while the planner is active."""
    from edge_llm_ros.msg import PlanRequest, RemotePlan

    _subscribe_outputs(listener, "remote_planner", "/remote/plan_response", RemotePlan)
    proc = start_edge("run", "--nodes", "remote_planner", "--params-file", "config/remote.yaml",
                      "-p", "remote_planner.model.backend=rules",
                      "-p", "remote_planner.autostart=false", "--duration", "240")
    _drive_lifecycle(listener, proc, "remote_planner", "/remote/plan_request", PlanRequest,
                     _plan_request, "/remote/plan_response")
    assert {p.status for p in listener.get("/remote/plan_response")} == {RemotePlan.STATUS_OK}
