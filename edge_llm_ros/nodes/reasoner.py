"""reasoner node: SceneSummary (+ fresh RemotePlan, instruction) -> Decision by the deadline.

Callbacks only store the newest scene; a decision thread runs the core, which
waits on the model only until the deadline, so the executor never blocks on
generation and a Decision is published for every scene taken.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from std_msgs.msg import String

from edge_llm_ros.fusion.types import (
    EgoStateOut,
    SceneSummaryOut,
    StageLatencyOut,
    TrackedObjectOut,
)
from edge_llm_ros.msg import Decision, RemotePlan, SceneSummary
from edge_llm_ros.nodes.base import ManagedEdgeNode, stamp_to_ns
from edge_llm_ros.nodes.convert import make_header
from edge_llm_ros.params import ConfigError
from edge_llm_ros.reasoning.actions import ACTION_INDEX, SOURCE_NAMES, DecisionOut
from edge_llm_ros.reasoning.advice import (
    AdviceRejectedError,
    RemotePlanIn,
    RemoteStepIn,
    validate_plan,
)
from edge_llm_ros.reasoning.backend import ModelLoadError, ReasonerBackend
from edge_llm_ros.reasoning.factory import BackendSettings, make_backend
from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
from edge_llm_ros.reasoning.rules import RuleThresholds


def scene_from_msg(msg: SceneSummary) -> SceneSummaryOut:
    e = msg.ego
    return SceneSummaryOut(
        stamp_ns=stamp_to_ns(msg.header.stamp),
        ego=EgoStateOut(speed_mps=e.speed_mps, acceleration_mps2=e.acceleration_mps2,
                        yaw_rate_radps=e.yaw_rate_radps, speed_limit_mps=e.speed_limit_mps,
                        lane_index=e.lane_index),
        objects=[TrackedObjectOut(
            track_id=o.track_id, class_name=o.class_name, confidence=o.confidence,
            position_m=(o.position_m.x, o.position_m.y, o.position_m.z),
            size_m=(o.size_m.x, o.size_m.y, o.size_m.z),
            velocity_mps=(o.velocity_mps.x, o.velocity_mps.y, o.velocity_mps.z),
            distance_m=o.distance_m, relative_speed_mps=o.relative_speed_mps,
            time_to_collision_s=o.time_to_collision_s, lane_relation=o.lane_relation,
            seen_by_camera=o.seen_by_camera, seen_by_lidar=o.seen_by_lidar) for o in msg.objects],
        perception_mode=msg.perception_mode, camera_fresh=msg.camera_fresh,
        lidar_fresh=msg.lidar_fresh, odometry_fresh=msg.odometry_fresh,
        stage_latencies=[StageLatencyOut(s.stage, s.processing_time_ms, s.pipeline_latency_ms)
                         for s in msg.stage_latencies])


def plan_from_msg(msg: RemotePlan) -> RemotePlanIn:
    return RemotePlanIn(
        request_id=msg.request_id, status=msg.status, stamp_ns=stamp_to_ns(msg.header.stamp),
        time_to_live_s=msg.time_to_live_s,
        steps=tuple(RemoteStepIn(s.action, s.target_speed_mps, s.duration_s) for s in msg.steps),
        rationale=msg.rationale)


def decision_to_msg(d: DecisionOut, frame_id: str) -> Decision:
    return Decision(
        header=make_header(d.stamp_ns, frame_id), action=ACTION_INDEX[d.action],
        action_name=d.action, target_speed_mps=float(d.target_speed_mps),
        driver_object_ids=[int(i) for i in d.driver_object_ids], rationale=d.rationale,
        source=d.source, fallback_reason=d.fallback_reason, deadline_ms=float(d.deadline_ms),
        latency_ms=float(d.latency_ms), remote_plan_id=d.remote_plan_id)


def thresholds_from(p: dict) -> RuleThresholds:
    return RuleThresholds(**{k.split(".", 1)[1]: float(v) for k, v in p.items()
                             if k.startswith("fallback.")})


def load_backend(p: dict, node_name: str, log: Callable[[str], None]
                 ) -> ReasonerBackend | None:
    """The model.* parameters' backend; a missing or corrupt model is a ConfigError."""
    settings = BackendSettings(
        backend=str(p["model.backend"]), path=str(p["model.path"]),
        threads=int(p["model.threads"]), context_tokens=int(p["model.context_tokens"]),
        engine_cache_dir=str(p["model.engine_cache_dir"]), precision=str(p["model.precision"]))
    try:
        return make_backend(settings, log=log)
    except ModelLoadError as exc:
        raise ConfigError(f"node '{node_name}': model: {exc}") from exc


class ReasonerNode(ManagedEdgeNode):
    """Managed: configure loads and warms the model and starts the decision thread,
    activate lets scenes in, deactivate drops the pending scene, cleanup stops the
    thread and frees the model."""

    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        self.reasoner: Reasoner | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._pending: SceneSummary | None = None
        self._plan: RemotePlan | None = None
        self._instruction = ""
        self._last_taken_ns = -1
        self._log: list[tuple[str, int, float]] = []  # (action, source, latency ms)
        self._subscriptions_made: list = []
        super().__init__("reasoner", node_name, **kwargs)
        # The decision thread must get the GIL back promptly at its deadline even when other
        # nodes share the process: Python's default 5 ms switch interval would eat the margin.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self.decision_pub = self.create_output_publisher(Decision, "decision", 10)
        for name in ("decisions", "model_decisions", "fallback_decisions", "missed_deadlines",
                     "scenes_skipped_by_rate", "scenes_superseded", "scenes_repeated",
                     "envelope_overrides", "remote_plans_used", "remote_plans_rejected"):
            self.health.counters[name] = 0

    def configure_node(self) -> None:
        p = self.params
        try:
            config = ReasonerConfig(deadline_ms=float(p["deadline_ms"]),
                                    max_new_tokens=int(p["max_new_tokens"]),
                                    publish_on_action=bool(p["publish_on_action"]),
                                    publish_margin_ms=float(p["deadline_margin_ms"]),
                                    thresholds=thresholds_from(p))
        except ValueError as exc:
            raise ConfigError(f"node '{self.get_name()}': {exc}") from exc
        backend = load_backend(p, self.get_name(), self.get_logger().info)
        self.reasoner = Reasoner(backend, config)
        self._instruction = str(p["instruction"])
        self.reasoner.warm_up(self._instruction)
        self.get_logger().info(
            f"reasoner ready: backend {p['model.backend']}"
            f"{'' if backend is None else ' (' + backend.model_id + ')'}, deadline "
            f"{config.deadline_ms:.0f} ms")
        self._min_gap_ns = int(0.9e9 / float(p["decision_rate_hz"]))
        self._use_remote = bool(p["use_remote_plans"])
        self._print = bool(p["print_decisions"])
        self._pending, self._plan, self._last_taken_ns = None, None, -1
        self._subscriptions_made = [
            self.create_sensor_subscription(SceneSummary, "scene/summary", self.on_scene),
            self.create_subscription(RemotePlan, "remote/plan", self.on_plan, 10),
            self.create_subscription(String, "operator/instruction", self.on_instruction, 10),
        ]
        self._stop.clear()
        self._thread = threading.Thread(target=self._decide_loop, name="reasoner-decide",
                                        daemon=True)
        self._thread.start()

    def deactivate_node(self) -> None:
        with self._lock:
            self._pending = None  # the publisher is off: a decision now would be lost

    def release_node(self) -> None:
        for sub in self._subscriptions_made:
            self.destroy_subscription(sub)
        self._subscriptions_made = []
        self._stop.set()
        with self._lock:
            self._pending = None
            self._lock.notify_all()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self._thread = None
        if self.reasoner is not None:
            if self._log:
                print(self.summary(), flush=True)
                self._log = []
            self.reasoner.close()
            self.reasoner = None

    # ------------------------------------------------------------- inputs
    def on_scene(self, msg: SceneSummary) -> None:  # only while active (base guards it)
        stamp_ns = stamp_to_ns(msg.header.stamp)
        with self._lock:
            if stamp_ns == self._last_taken_ns:
                # Fusion republishes its last scene when no new input came: nothing new.
                self.health.counters["scenes_repeated"] += 1
                return
            if stamp_ns < self._last_taken_ns:
                self.report_error("stale_scene", f"scene stamped {stamp_ns} ns is older than "
                                  f"the last one decided ({self._last_taken_ns} ns); dropped")
                return
            if self._last_taken_ns >= 0 and stamp_ns - self._last_taken_ns < self._min_gap_ns:
                self.health.counters["scenes_skipped_by_rate"] += 1
                return
            if self._pending is not None:
                self.health.counters["scenes_superseded"] += 1
            self._pending = msg
            self._last_taken_ns = stamp_ns
            self._lock.notify()

    def on_plan(self, msg: RemotePlan) -> None:
        with self._lock:
            self._plan = msg

    def on_instruction(self, msg: String) -> None:
        text = msg.data.strip()
        with self._lock:
            if text != self._instruction:
                self.get_logger().info(f"operator instruction: {text!r}")
            self._instruction = text

    # ------------------------------------------------------------- deciding
    def _decide_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while self._pending is None and not self._stop.is_set():
                    self._lock.wait(timeout=0.2)
                if self._stop.is_set():
                    return
                msg, self._pending = self._pending, None
                plan, instruction = self._plan, self._instruction
                reasoner = self.reasoner
            if reasoner is None:
                return
            try:
                self._decide_one(reasoner, msg, plan, instruction)
            except Exception as exc:  # noqa: BLE001 - keep deciding on the next scene
                self.report_error("decision_failed", f"{type(exc).__name__}: {exc}")

    def _decide_one(self, reasoner: Reasoner, msg: SceneSummary, plan: RemotePlan | None,
                    instruction: str) -> None:
        started = time.perf_counter()
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = stamp_to_ns(msg.header.stamp)
        # Age of the scene when it reached us, plus the time it waited for this thread.
        age_ms = (now_ns - stamp_ns) / 1e6
        budget_ms = reasoner.config.deadline_ms - max(age_ms, 0.0)
        hint, plan_id = None, ""
        if plan is not None and self._use_remote:
            try:
                hint = validate_plan(plan_from_msg(plan), now_ns)
                plan_id = plan.request_id
            except AdviceRejectedError as exc:
                if plan.status == RemotePlan.STATUS_OK:
                    self.health.counters["remote_plans_rejected"] += 1
                    self.report_error("remote_plan_rejected", str(exc))
        scene = scene_from_msg(msg)
        decision = reasoner.decide(scene, instruction, hint, plan_id, budget_ms=budget_ms,
                                        started=started)
        for problem in reasoner.last_problems:
            self.report_error("bad_scene", problem)
        out = decision_to_msg(decision, msg.header.frame_id or "base_link")
        latency_ms = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
        out.latency_ms = float(latency_ms)
        out.rationale = out.rationale[:200]
        self.decision_pub.publish(out)
        processing_ms = (time.perf_counter() - started) * 1e3
        self.report_timing(processing_ms, msg.header.stamp, msg.header.frame_id)
        self._log.append((decision.action, decision.source, latency_ms))
        c = self.health.counters
        c["decisions"] += 1
        c["model_decisions" if decision.source != 1 else "fallback_decisions"] += 1
        c["envelope_overrides"] = reasoner.counters.envelope_overrides
        c["remote_plans_used"] += int(bool(decision.remote_plan_id))
        if latency_ms > decision.deadline_ms:
            c["missed_deadlines"] += 1
            self.report_error("missed_deadline", f"decision published {latency_ms:.0f} ms after "
                              f"its scene (deadline {decision.deadline_ms:.0f} ms); the scene was "
                              f"{age_ms:.0f} ms old on arrival")
        if self._print:
            self.get_logger().info(
                f"decision {decision.action} v={decision.target_speed_mps:.0f} m/s source="
                f"{SOURCE_NAMES[decision.source]} latency={latency_ms:.0f} ms"
                + (f" ({decision.fallback_reason})" if decision.fallback_reason else ""))

    def summary(self) -> str:
        """One paragraph on every decision made: sources, latency, deadline hits, actions."""
        from edge_llm_ros.reasoning.summary import summarize_decisions
        return summarize_decisions(self._log, self.reasoner.config.deadline_ms)
