"""What every edge_llm_ros node shares: parameters declared from the specs,
/diagnostics, per-stage timing topics, sensor-data QoS inputs with
incompatible-QoS and silence warnings, and log-once error counting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
)
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data

try:  # Jazzy and later
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks
from std_msgs.msg import Header

from edge_llm_ros import msg
from edge_llm_ros.dds_transport import ensure_non_blocking_sends
from edge_llm_ros.diagnostics import Level, StageHealth
from edge_llm_ros.nodes.convert import stamp_to_ns
from edge_llm_ros.params import ConfigError, ParamSpec, ParamValue, node_spec, validate_params

_ARRAY_TYPES = {
    str: Parameter.Type.STRING_ARRAY,
    int: Parameter.Type.INTEGER_ARRAY,
    float: Parameter.Type.DOUBLE_ARRAY,
    bool: Parameter.Type.BOOL_ARRAY,
}

#: What sources publish sensor data with: sensor-data QoS (best effort, keep
#: last 5), as real drivers do. Measured here: a reliable 640x480 image stream
#: recorded in the same process fell from 10 Hz to 5.7 Hz (publish blocks on
#: acknowledgements of large fragmented samples); best effort kept 10 Hz with
#: nothing lost. Subscribers asking for RELIABLE are incompatible and get the
#: incompatible-QoS warning.
SOURCE_QOS = qos_profile_sensor_data

#: What stages subscribe their inputs with: best effort, keep last 1. A stage that
#: falls behind takes the newest frame when it is free again; with the sensor-data
#: profile's depth of 5 it worked through up to five old frames first, each later
#: than the last.
LATEST_ONLY_QOS = QoSProfile(depth=1, reliability=qos_profile_sensor_data.reliability,
                             durability=qos_profile_sensor_data.durability)

#: Bag replay offers reliable delivery (keep last 100): a replayed bag is
#: evidence, and a subscriber of either reliability still matches.
REPLAY_QOS = QoSProfile(depth=100)


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(
        description=spec.description,
        read_only=spec.read_only,
        additional_constraints=(f"one of: {', '.join(spec.choices)}" if spec.choices else ""),
    )
    element = spec.element_type
    if spec.min_value is not None or spec.max_value is not None:
        low = spec.min_value if spec.min_value is not None else -1e300
        high = spec.max_value if spec.max_value is not None else 1e300
        if element is int:
            descriptor.integer_range = [
                IntegerRange(from_value=int(max(low, -(2**62))), to_value=int(min(high, 2**62)),
                             step=0)
            ]
        elif element is float:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)
            ]
    return descriptor


def declare_node_parameters(node: Node, node_kind: str) -> dict[str, ParamValue]:
    """Declare a node's parameters from its specs and return their values.

    Overrides are validated first, so a wrong parameter file fails at start-up
    with ConfigError naming the node and parameter (unknown names included),
    rather than with a type error from deep inside rclpy.
    """
    specs = node_spec(node_kind)
    overrides = {
        name: param.value
        for name, param in getattr(node, "_parameter_overrides", {}).items()
    }
    values = validate_params(node.get_name(), specs, overrides)
    for spec in specs:
        value = values[spec.name]
        declared: Any = value
        if isinstance(value, list) and not value:
            # rclpy infers BYTE_ARRAY from []; declare the array type instead
            declared = _ARRAY_TYPES[spec.element_type]
        # The override was validated and coerced above (an integer given for a
        # double is fine); declaring the checked value avoids rclpy's type error.
        node.declare_parameter(spec.name, declared, _descriptor(spec), ignore_override=True)
    return values


class EdgeNodeCommon:
    """What plain and managed edge_llm_ros nodes share: parameters from the specs,
    /diagnostics, stamped timing topics, sensor inputs watched for silence and QoS
    mismatches, and log-once error counting. Mixed into an rclpy Node class."""

    node_kind: str
    params: dict[str, ParamValue]
    health: StageHealth

    def _init_edge(self, node_kind: str) -> None:
        self.node_kind = node_kind
        self.params = declare_node_parameters(self, node_kind)  # type: ignore[arg-type]
        self.health = StageHealth(
            stage=node_kind,
            slow_processing_ms=float(self.params["slow_processing_ms"]),
            late_latency_ms=float(self.params["late_latency_ms"]),
            budget_ms=float(self.params.get("budget_ms", 0.0)) or None,
        )
        self.health.start(time.monotonic())
        # /diagnostics goes out in every state (a managed node says which it is in).
        self._diagnostics_pub = self.create_publisher(  # type: ignore[attr-defined]
            DiagnosticArray, "/diagnostics", 10)
        self._processing_pub = self.create_output_publisher(
            msg.Float64Stamped, "~/debug/processing_time_ms", 10)
        self._latency_pub = self.create_output_publisher(
            msg.Float64Stamped, "~/debug/pipeline_latency_ms", 10)
        self._diagnostics_timer = self.create_timer(  # type: ignore[attr-defined]
            float(self.params["diagnostics_period_s"]), self._publish_diagnostics
        )

    def create_output_publisher(self, msg_type: Any, topic: str, qos: Any, **kwargs: Any) -> Any:
        """Publisher of this node's results: a plain one here; a managed node's
        publishes only while it is active."""
        return self.create_publisher(msg_type, topic, qos, **kwargs)  # type: ignore[attr-defined]

    def start(self) -> None:
        """Begin work that does not wait for input (sources); called after
        every node of the process is constructed. Sources override it."""

    def close(self) -> None:
        """Stop the node's own threads and release resources; idempotent.
        Nodes that own threads, files or models override it."""

    def diagnostic_values(self) -> dict[str, str]:
        """Extra key/values for /diagnostics (a managed node adds its state)."""
        return {}

    # -- timing -------------------------------------------------------------
    def report_timing(self, processing_ms: float, sensor_stamp: Any,
                      frame_id: str = "") -> float:
        """Publish processing time and pipeline latency (now minus the sensor
        stamp, on this node's clock) of one frame, both stamped with that frame's
        sensor stamp so a replay lines them up with it; returns the latency."""
        now_ns = self.get_clock().now().nanoseconds  # type: ignore[attr-defined]
        latency_ms = (now_ns - stamp_to_ns(sensor_stamp)) / 1e6
        header = Header(stamp=sensor_stamp, frame_id=frame_id)
        self._latency_pub.publish(msg.Float64Stamped(header=header, data=float(latency_ms)))
        self._processing_pub.publish(msg.Float64Stamped(header=header, data=float(processing_ms)))
        self.health.record_timing(processing_ms, latency_ms)
        return latency_ms

    # -- errors ------------------------------------------------------------
    def report_error(self, kind: str, message: str) -> None:
        """Count a bad input or failure; log it the first time its kind occurs."""
        if self.health.record_error(kind, message):
            self.get_logger().error(  # type: ignore[attr-defined]
                f"{kind}: {message} (further '{kind}' errors are counted in /diagnostics, "
                "not logged)"
            )

    def stamp_rejected(self, stamp: Any) -> bool:
        """True (logged once, counted) when an input's stamp is stale, out of order or
        in the future by the node's StampGuard (`self.stamps`)."""
        stamp_ns = stamp_to_ns(stamp)
        now_ns = self.get_clock().now().nanoseconds  # type: ignore[attr-defined]
        problem = self.stamps.check(stamp_ns, now_ns)  # type: ignore[attr-defined]
        if problem is None:
            return False
        self.report_error(problem.value,
                          self.stamps.describe(problem, stamp_ns, now_ns))  # type: ignore[attr-defined]
        return True

    # -- inputs --------------------------------------------------------------
    def accepts_input(self) -> bool:
        """Whether inputs are processed now (a managed node: only while active)."""
        return True

    def create_sensor_subscription(
        self, msg_type: Any, topic: str, callback: Callable[[Any], None], raw: bool = False
    ) -> Any:
        """Subscribe a sensor input latest-only (best effort, keep last 1: a stage that
        falls behind takes the newest frame, never a queue of old ones), watched for
        silence and for publishers whose QoS can never match; messages reach
        `callback` only while the node accepts input."""
        resolved = self.resolve_topic_name(topic)  # type: ignore[attr-defined]
        self.health.watch_input(resolved, float(self.params["input_timeout_s"]))

        def on_message(message: Any) -> None:
            self.health.record_input(resolved, time.monotonic())
            if self.accepts_input():
                callback(message)

        events = SubscriptionEventCallbacks(
            incompatible_qos=lambda event: self._on_incompatible_qos(resolved, event)
        )
        return self.create_subscription(  # type: ignore[attr-defined]
            msg_type, topic, on_message, LATEST_ONLY_QOS,
            event_callbacks=events, raw=raw,
        )

    def create_source_publisher(self, msg_type: Any, topic: str,
                                qos: QoSProfile = SOURCE_QOS) -> Any:
        """Publisher for data this node originates (sensors, bag topics)."""
        resolved = self.resolve_topic_name(topic)  # type: ignore[attr-defined]
        events = PublisherEventCallbacks(
            incompatible_qos=lambda event: self._on_incompatible_qos(resolved, event)
        )
        return self.create_output_publisher(msg_type, topic, qos, event_callbacks=events)

    def _on_incompatible_qos(self, topic: str, event: Any) -> None:
        policy = getattr(event, "last_policy_kind", "unknown")
        policy_name = getattr(policy, "name", str(policy))
        message = (
            f"incompatible QoS on {topic}: a peer requests or offers a different "
            f"{policy_name} policy, so no messages flow between them"
        )
        self.health.set_condition(f"qos {topic}", Level.WARN, message)
        self.report_error("incompatible_qos", message)

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        for topic in self.health.newly_stale_inputs(now):
            self.get_logger().warning(  # type: ignore[attr-defined]
                f"no message on {topic} for {self.params['input_timeout_s']} s "
                "(is the source running, with a matching QoS?)"
            )
        report = self.health.report(now)
        values = {**report.values, **self.diagnostic_values()}
        status = DiagnosticStatus(
            level=bytes([int(report.level)]),
            name=f"{self.get_fully_qualified_name()}: {self.node_kind}",  # type: ignore[attr-defined]
            message=report.message,
            hardware_id="edge_llm_ros",
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()  # type: ignore[attr-defined]
        self._diagnostics_pub.publish(array)


class EdgeNode(EdgeNodeCommon, Node):
    """Base of the plain edge_llm_ros nodes (no model, no device); subclasses pass
    their node kind."""

    def __init__(self, node_kind: str, node_name: str | None = None, **kwargs: Any) -> None:
        Node.__init__(self, node_name or node_kind, **kwargs)
        self._init_edge(node_kind)


def _refuse_invalid_transitions(callback: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def change_state(request: Any, response: Any) -> Any:
        try:
            return callback(request, response)
        except _rclpy.RCLError:
            response.success = False
            return response

    return change_state


class SourceNode(EdgeNode):
    """A sensor source whose publishing runs on its own thread (`_run`): it starts once
    every node of the process is up, so nothing it publishes while others load is lost,
    and `finished` is set when it is done."""

    def _init_source(self, name: str) -> None:
        self.finished = threading.Event()
        self.exit_code = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if not self._thread.is_alive() and not self.finished.is_set():
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)


class ManagedEdgeNode(EdgeNodeCommon, LifecycleNode):
    """Base of the nodes that load a model or open a device: a ROS 2 lifecycle node.

    configure validates what the parameters name (model files, configurations) and
    loads and warms the model (`configure_node`); activate
    starts processing input and publishing (results go through lifecycle
    publishers, inputs are ignored while not active); deactivate stops both;
    cleanup releases the model (`release_node`); shutdown, from any state, does
    what is needed of those. A configure that fails leaves the node unconfigured,
    with the reason in `configure_error`, its log and /diagnostics.
    """

    def __init__(self, node_kind: str, node_name: str | None = None, **kwargs: Any) -> None:
        LifecycleNode.__init__(self, node_name or node_kind, **kwargs)
        # rclpy (Jazzy) raises out of the change_state service for a transition the
        # current state does not have, which ends the executor's spin: answer false.
        service = self._service_change_state
        service.callback = _refuse_invalid_transitions(service.callback)
        self.configure_error = ""
        self._init_edge(node_kind)
        self._note_state()

    # -- what subclasses implement -------------------------------------------
    def configure_node(self) -> None:
        """Check parameters, load and warm the model, create inputs and outputs;
        raise ConfigError naming the problem. Runs on the thread that requested
        the transition (the runner before spinning, or the change_state service)."""

    def activate_node(self) -> None:
        """Anything beyond enabling the outputs and inputs (rarely needed)."""

    def deactivate_node(self) -> None:
        """Drop work in progress that must not be published later."""

    def release_node(self) -> None:
        """Undo configure_node: stop threads, free the model, destroy inputs.
        Idempotent, and safe after a configure that failed half-way."""

    # -- state ----------------------------------------------------------------
    @property
    def lifecycle_state(self) -> str:
        """Label of the current state: unconfigured, inactive, active, finalized
        (or a transition state while one runs)."""
        return str(self._state_machine.current_state[1])

    def accepts_input(self) -> bool:
        return self.lifecycle_state == "active"

    def create_output_publisher(self, msg_type: Any, topic: str, qos: Any, **kwargs: Any) -> Any:
        return self.create_lifecycle_publisher(msg_type, topic, qos, **kwargs)

    def diagnostic_values(self) -> dict[str, str]:
        return {"lifecycle_state": self.lifecycle_state}

    def _note_state(self, label: str | None = None) -> None:
        label = label or self.lifecycle_state
        if label == "active":
            self.health.clear_condition("lifecycle")
            return
        reason = f" (configure failed: {self.configure_error})" if self.configure_error else ""
        level = Level.ERROR if self.configure_error else Level.OK
        self.health.set_condition(
            "lifecycle", level, f"{label}: inputs ignored, nothing published{reason}")

    # -- transitions ----------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            # Types and ranges were checked when the (read-only) parameters were
            # declared; configure_node checks what needs the files and the model.
            self.configure_node()
        except Exception as exc:  # noqa: BLE001 - rclpy would swallow it unlogged
            text = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
            self.configure_error = text
            self.get_logger().error(f"configure failed: {text}")
            self.release_node()
            self._note_state("unconfigured")
            return TransitionCallbackReturn.FAILURE
        self.configure_error = ""
        self._note_state("inactive")
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.activate_node()
        self.health.start(time.monotonic())  # silence counts from activation
        self._note_state("active")
        self.get_logger().info("active")
        return super().on_activate(state)  # enables the lifecycle publishers

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_deactivate(state)  # publishers off first: nothing more goes out
        self.deactivate_node()
        self._note_state("inactive")
        self.get_logger().info("inactive")
        return result

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release_node()
        self._note_state("unconfigured")
        self.get_logger().info("unconfigured: model and inputs released")
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if state.label == "active":
            super().on_deactivate(state)
            self.deactivate_node()
        self.release_node()
        self._note_state("finalized")
        self.get_logger().info("finalized: model and inputs released")
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        # A transition raised: rclpy swallows the exception; release and say so.
        self.get_logger().error(f"transition from {state.label} failed; releasing the model")
        super().on_deactivate(state)
        self.release_node()
        self._note_state("unconfigured")
        return TransitionCallbackReturn.SUCCESS

    def bring_up(self) -> None:
        """Configure and activate (what `autostart` asks); ConfigError if configure fails."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            raise ConfigError(self.configure_error or
                              f"node '{self.get_name()}': configure failed (see its log)")
        if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            raise ConfigError(f"node '{self.get_name()}': activate failed (see its log)")

    def close(self) -> None:
        """Shut down from whatever state the node is in; idempotent."""
        if self.lifecycle_state in ("unconfigured", "inactive", "active"):
            self.trigger_shutdown()
        else:  # finalized, or a transition that raised half-way (e.g. SystemExit)
            self.release_node()


def bring_up_if_autostart(node: Any) -> None:
    """Bring a managed node to active when its `autostart` parameter says so (the
    default); plain nodes need nothing. Raises ConfigError if configure fails."""
    if isinstance(node, ManagedEdgeNode) and bool(node.params.get("autostart", True)):
        node.bring_up()


def apply_process_compute(nodes: Sequence[EdgeNodeCommon]) -> list[str]:
    """Apply the compute plan's settings of the nodes in this process (before models
    load, so every thread they start inherits them); log and return what took effect."""
    from edge_llm_ros.compute import ComputeSettings, apply_compute, process_settings

    if not nodes:
        return []
    chosen, warnings = process_settings(
        {n.node_kind: ComputeSettings.from_params(n.params) for n in nodes})
    logger = nodes[0].get_logger()  # type: ignore[attr-defined]
    for warning in warnings:
        logger.warning(f"compute plan: {warning}")
    if chosen.is_default:
        return []
    applied = apply_compute(chosen)
    logger.info(f"compute plan for {', '.join(n.node_kind for n in nodes)}: "
                + "; ".join(applied))
    return applied


def run_single_node(factory: Callable[[], EdgeNodeCommon], args: list[str] | None = None,
                    kind: str = "") -> int:
    """main() of a node executable: start, spin, and turn bad configuration
    into one clear line and exit code 2 instead of a traceback."""
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    ensure_non_blocking_sends(node_kinds=[kind])  # before the process's DDS participant
    rclpy.init(args=args)
    node: EdgeNodeCommon | None = None
    try:
        try:
            node = factory()
            apply_process_compute([node])
            bring_up_if_autostart(node)
        except ConfigError as exc:
            rclpy.logging.get_logger("edge_llm_ros").fatal(f"configuration error: {exc}")
            return 2
        # Single-threaded on purpose: heavy work runs on each node's own worker
        # thread. rclpy's MultiThreadedExecutor spins on the GIL while a callback
        # is in flight; measured here it cut the simulator from 10 Hz to 2-3 Hz.
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.start()
        finished = getattr(node, "finished", None)
        while rclpy.ok() and not (finished is not None and finished.is_set()):
            executor.spin_once(timeout_sec=0.1)
        return int(getattr(node, "exit_code", 0))
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        if node is not None:
            node.close()
            node.destroy_node()  # type: ignore[attr-defined]
        if rclpy.ok():
            rclpy.shutdown()
