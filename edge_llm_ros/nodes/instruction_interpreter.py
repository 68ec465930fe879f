"""instruction_interpreter node: operator/instruction (free text) -> operator/intent.

The instruction stage of the reasoning: each new instruction is read once by the
instruction model on a worker thread, off every deadline, and its structured intent
published latched, so a reasoner that starts later still gets it. The reasoner drives
on its keyword parser's reading until the intent for the instruction in force arrives.
Text that tries to override safety or asks for something unsafe is logged, counted
and published flagged; the flag is never obeyed.
"""

from __future__ import annotations

import threading
import time

from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from std_msgs.msg import String

from edge_llm_ros import msg
from edge_llm_ros.nodes.base import ManagedEdgeNode
from edge_llm_ros.nodes.convert import interpretation_to_msg, make_header
from edge_llm_ros.nodes.link_qos import INTENT_TOPIC, intent_qos
from edge_llm_ros.params import ConfigError
from edge_llm_ros.reasoning.backend import ModelLoadError
from edge_llm_ros.reasoning.instruction import SOURCE_MODEL, intent_to_text
from edge_llm_ros.reasoning.interpreter import InstructionInterpreter, Interpretation


class InstructionInterpreterNode(ManagedEdgeNode):
    """Managed: configure loads and warms the instruction model and starts the worker;
    activate publishes the reading of the instruction in force; cleanup frees the model."""

    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        self.interpreter: InstructionInterpreter | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._pending: tuple[str, int] | None = None  # (text, received ns)
        self._current = ""
        self._subscription = None
        super().__init__("instruction_interpreter", node_name, **kwargs)
        self.intent_pub = self.create_output_publisher(msg.OperatorIntent, INTENT_TOPIC,
                                                       intent_qos())
        for name in ("instructions", "model_readings", "keyword_readings", "cache_hits",
                     "flagged_instructions"):
            self.health.counters[name] = 0

    def configure_node(self) -> None:
        p = self.params
        from edge_llm_ros.reasoning.factory import instruction_reader
        try:
            backend = instruction_reader(str(p["model.backend"]), str(p["model.path"]),
                                         int(p["model.threads"]), self.get_logger().info)
        except ModelLoadError as exc:
            raise ConfigError(f"node '{self.get_name()}': model: {exc}") from exc
        self.interpreter = InstructionInterpreter(backend, int(p["cache_size"]))
        self.interpreter.warm_up()
        self._current = " ".join(str(p["instruction"]).split())
        self._subscription = self.create_subscription(String, "operator/instruction",
                                                      self.on_instruction, 10)
        self._stop.clear()
        self._thread = threading.Thread(target=self._read_loop, name="instruction-read",
                                        daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"instruction interpreter ready: {self.interpreter.model_id}")

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)  # the publisher is on from here
        with self._lock:  # the instruction in force (a cache hit when already read)
            self._pending = (self._current, self.get_clock().now().nanoseconds)
            self._lock.notify()
        return result

    def release_node(self) -> None:
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
            self._subscription = None
        self._stop.set()
        with self._lock:
            self._pending = None
            self._lock.notify_all()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self._thread = None
        if self.interpreter is not None:
            self.interpreter.close()
            self.interpreter = None

    def on_instruction(self, message: String) -> None:
        text = " ".join(message.data.split())
        with self._lock:
            if text == self._current and self._pending is None:
                return  # repeated: its intent is already latched
            self._current = text
            self._pending = (text, self.get_clock().now().nanoseconds)
            self._lock.notify()

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while self._pending is None and not self._stop.is_set():
                    self._lock.wait(timeout=0.2)
                if self._stop.is_set():
                    return
                (text, received_ns), self._pending = self._pending, None
                interpreter = self.interpreter
            if interpreter is None:
                return
            try:
                started = time.perf_counter()
                reading = interpreter.interpret(text)
                self._publish(reading, received_ns, (time.perf_counter() - started) * 1e3)
            except Exception as exc:  # noqa: BLE001 - keep reading the next instruction
                self.report_error("interpret_failed", f"{type(exc).__name__}: {exc}")

    def _publish(self, reading: Interpretation, received_ns: int, processing_ms: float) -> None:
        if not self.accepts_input():
            return  # inactive: activation publishes the instruction in force
        header = make_header(received_ns, "base_link")
        self.intent_pub.publish(interpretation_to_msg(reading, header))
        self.report_timing(processing_ms, header.stamp, header.frame_id)
        c = self.health.counters
        c["instructions"] += 1
        c["cache_hits"] += int(reading.cached)
        c["model_readings" if reading.source == SOURCE_MODEL else "keyword_readings"] += 1
        if reading.note:
            self.report_error("keyword_fallback", f"{reading.note} (instruction "
                              f"{reading.instruction!r}; the keyword parser's reading is used)")
        if reading.intent.flagged:
            c["flagged_instructions"] += 1
            kinds = [k for k, on in (("override attempt", reading.intent.override_attempt),
                                     ("unsafe request", reading.intent.unsafe_request)) if on]
            # Every one is logged: an operator trying this is worth a line each time.
            self.get_logger().warning(f"instruction {reading.instruction!r} flagged "
                                      f"({', '.join(kinds)}): recorded, not obeyed")
        if reading.instruction and not reading.cached:
            self.get_logger().info(f"instruction {reading.instruction!r} -> "
                                   f"{intent_to_text(reading.intent)} ({reading.source}, "
                                   f"{reading.interpret_ms:.0f} ms)")
