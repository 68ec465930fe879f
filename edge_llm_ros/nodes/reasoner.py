"""reasoner node: SceneSummary (+ fresh RemotePlan, instruction) -> Decision by the deadline.

Callbacks only store the newest scene; a decision thread runs the core, which
waits on the model only until the deadline, so the executor never blocks on
generation and a Decision is published for every scene taken. The instruction in
force is read by the instruction stage (operator/intent, from instruction_interpreter);
until its intent for that text arrives, the keyword parser's reading stands in.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict

from std_msgs.msg import String

from edge_llm_ros import msg
from edge_llm_ros.nodes.base import ManagedEdgeNode
from edge_llm_ros.nodes.convert import (
    decision_to_msg,
    instruction_intent_from_msg,
    plan_from_msg,
    stamp_to_ns,
    summary_from_msg,
)
from edge_llm_ros.nodes.link_qos import INTENT_TOPIC, intent_qos
from edge_llm_ros.params import ConfigError
from edge_llm_ros.reasoning.advice import AdviceRejectedError, validate_plan
from edge_llm_ros.reasoning.factory import backend_from_params
from edge_llm_ros.reasoning.instruction import operator_intent
from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
from edge_llm_ros.reasoning.rules import OperatorIntent
from edge_llm_ros.types import SOURCE_NAMES


class ReasonerNode(ManagedEdgeNode):
    """Managed: configure loads and warms the model and starts the decision thread,
    activate lets scenes in, deactivate drops the pending scene, cleanup stops the
    thread and frees the model."""

    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        self.reasoner: Reasoner | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._pending: msg.SceneSummary | None = None
        self._plan: msg.RemotePlan | None = None
        self._instruction = ""
        # Intents the instruction stage read, by instruction text (the newest few).
        self._intents: OrderedDict[str, OperatorIntent] = OrderedDict()
        self._last_taken_ns = -1
        self._log: list[tuple[str, int, float]] = []  # (action, source, latency ms)
        self._subscriptions_made: list = []
        super().__init__("reasoner", node_name, **kwargs)
        # The decision thread must get the GIL back promptly at its deadline even when other
        # nodes share the process: Python's default 5 ms switch interval would eat the margin.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self.decision_pub = self.create_output_publisher(msg.Decision, "decision", 10)
        for name in ("decisions", "model_decisions", "fallback_decisions", "missed_deadlines",
                     "scenes_skipped_by_rate", "scenes_superseded", "scenes_repeated",
                     "envelope_overrides", "remote_plans_used", "remote_plans_rejected",
                     "decisions_on_read_intent", "decisions_on_keyword_intent"):
            self.health.counters[name] = 0

    def configure_node(self) -> None:
        p = self.params
        try:
            config = ReasonerConfig.from_params(p)
        except ValueError as exc:
            raise ConfigError(f"node '{self.get_name()}': {exc}") from exc
        backend = backend_from_params(p, self.get_name(), self.get_logger().info)
        self.reasoner = Reasoner(backend, config)
        self._instruction = " ".join(str(p["instruction"]).split())
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
            self.create_sensor_subscription(msg.SceneSummary, "scene/summary", self.on_scene),
            self.create_subscription(msg.RemotePlan, "remote/plan", self.on_plan, 10),
            self.create_subscription(String, "operator/instruction", self.on_instruction, 10),
            self.create_subscription(msg.OperatorIntent, INTENT_TOPIC, self.on_intent,
                                     intent_qos()),
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
    def on_scene(self, message: msg.SceneSummary) -> None:  # only while active (base guards it)
        stamp_ns = stamp_to_ns(message.header.stamp)
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
            self._pending = message
            self._last_taken_ns = stamp_ns
            self._lock.notify()

    def on_plan(self, message: msg.RemotePlan) -> None:
        with self._lock:
            self._plan = message

    def on_instruction(self, message: String) -> None:
        text = " ".join(message.data.split())
        with self._lock:
            if text != self._instruction:
                self.get_logger().info(f"operator instruction: {text!r}")
            self._instruction = text

    def on_intent(self, message: msg.OperatorIntent) -> None:
        try:
            intent = operator_intent(instruction_intent_from_msg(message))
        except ValueError as exc:
            self.report_error("bad_intent", f"operator/intent for {message.instruction!r}: "
                              f"{exc}; the keyword parser's reading stands")
            return
        with self._lock:
            key = " ".join(message.instruction.split())
            self._intents[key] = intent
            self._intents.move_to_end(key)
            while len(self._intents) > 16:
                self._intents.popitem(last=False)

    # ------------------------------------------------------------- deciding
    def _decide_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while self._pending is None and not self._stop.is_set():
                    self._lock.wait(timeout=0.2)
                if self._stop.is_set():
                    return
                message, self._pending = self._pending, None
                plan, instruction = self._plan, self._instruction
                intent = self._intents.get(instruction)
                reasoner = self.reasoner
            if reasoner is None:
                return
            try:
                self._decide_one(reasoner, message, plan, instruction, intent)
            except Exception as exc:  # noqa: BLE001 - keep deciding on the next scene
                self.report_error("decision_failed", f"{type(exc).__name__}: {exc}")

    def _decide_one(self, reasoner: Reasoner, message: msg.SceneSummary,
                    plan: msg.RemotePlan | None, instruction: str,
                    intent: OperatorIntent | None) -> None:
        """`intent`: the instruction stage's reading of `instruction`; None until it came."""
        started = time.perf_counter()
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = stamp_to_ns(message.header.stamp)
        # Age of the scene when it reached us, plus the time it waited for this thread.
        age_ms = (now_ns - stamp_ns) / 1e6
        budget_ms = reasoner.config.deadline_ms - max(age_ms, 0.0)
        hint, plan_id = None, ""
        if plan is not None and self._use_remote:
            try:
                hint = validate_plan(plan_from_msg(plan), now_ns)
                plan_id = plan.request_id
            except AdviceRejectedError as exc:
                if plan.status == msg.RemotePlan.STATUS_OK:
                    self.health.counters["remote_plans_rejected"] += 1
                    self.report_error("remote_plan_rejected", str(exc))
        scene = summary_from_msg(message)
        decision = reasoner.decide(scene, instruction, hint, plan_id, budget_ms=budget_ms,
                                   started=started, intent=intent)
        for problem in reasoner.last_problems:
            self.report_error("bad_scene", problem)
        out = decision_to_msg(decision, message.header.frame_id or "base_link")
        latency_ms = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
        out.latency_ms = float(latency_ms)
        out.rationale = out.rationale[:200]
        self.decision_pub.publish(out)
        processing_ms = (time.perf_counter() - started) * 1e3
        self.report_timing(processing_ms, message.header.stamp, message.header.frame_id)
        self._log.append((decision.action, decision.source, latency_ms))
        c = self.health.counters
        c["decisions"] += 1
        c["model_decisions" if decision.source != 1 else "fallback_decisions"] += 1
        c["envelope_overrides"] = reasoner.counters.envelope_overrides
        c["remote_plans_used"] += int(bool(decision.remote_plan_id))
        if instruction:
            c["decisions_on_read_intent" if intent is not None
              else "decisions_on_keyword_intent"] += 1
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
