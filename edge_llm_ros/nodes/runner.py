"""Start a set of nodes in one process from the same parameter files the
launch files use: the engine of `edge-llm-ros run`, `sim`, `replay` and
`record`, and what the tests use to bring up real nodes over DDS."""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from edge_llm_ros.dds_transport import ensure_non_blocking_sends
from edge_llm_ros.nodes.base import apply_process_compute, bring_up_if_autostart
from edge_llm_ros.nodes.registry import BY_KIND, NODE_KINDS, RECORDER, node_class
from edge_llm_ros.params import (
    NODE_SPECS,
    ConfigError,
    check_params_file,
    node_params_from_file,
    validate_params,
)

# Recorders start first (to catch the first messages) and close last.
_RECORDERS = tuple(k.kind for k in NODE_KINDS if k.role == RECORDER)
_ORDER = [k.kind for k in NODE_KINDS]


def resolve_node_params(
    kind: str, params_files: Sequence[Path], overrides: Mapping[str, Any], namespace: str = "/"
) -> dict[str, Any]:
    """What one node will run with; ConfigError names any problem."""
    merged: dict[str, Any] = {}
    for path in params_files:
        merged.update(node_params_from_file(path, kind, namespace))
    merged.update(overrides)
    return validate_params(kind, NODE_SPECS[kind], merged)


@dataclass
class RunResult:
    nodes: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    stopped_by: str = ""
    exit_code: int = 0
    reports: dict[str, Any] = field(default_factory=dict)  # HealthReport per node at stop


def run_nodes(
    kinds: Sequence[str],
    params_files: Sequence[Path] = (),
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    namespace: str = "",
    use_sim_time: bool = False,
    duration_s: float | None = None,
    until_finished: Sequence[str] = (),
    domain_id: int | None = None,
    on_started: Callable[[dict[str, Any]], None] | None = None,
    drain_s: float = 0.5,
) -> RunResult:
    """Run nodes until `duration_s` passes, every node in `until_finished`
    reports finished, or Ctrl-C. Validates everything before starting."""
    overrides = overrides or {}
    unknown = [k for k in kinds if k not in BY_KIND]
    if unknown:
        raise ConfigError(
            f"unknown node(s) {', '.join(unknown)}; known: {', '.join(BY_KIND)}"
        )
    ns = "/" + namespace.strip("/") if namespace.strip("/") else "/"
    for path in params_files:
        check_params_file(Path(path))
    checked = {
        kind: resolve_node_params(kind, [Path(p) for p in params_files],
                                  overrides.get(kind, {}), ns)
        for kind in kinds
    }

    order = sorted(kinds, key=lambda k: (k not in _RECORDERS, _ORDER.index(k)))
    with tempfile.TemporaryDirectory(prefix="edge_llm_ros_params_") as tmp:
        # The overrides as checked (an integer given for a double is a double).
        extra = {f"/**/{kind}": {"ros__parameters": {
                     name: checked[kind][name] for name in overrides.get(kind, {})}}
                 for kind in kinds}
        extra["/**"] = {"ros__parameters": {"use_sim_time": bool(use_sim_time)}}
        extra_path = Path(tmp) / "overrides.yaml"
        extra_path.write_text(yaml.safe_dump(extra))
        ros_args = ["--ros-args"]
        for path in [*params_files, extra_path]:
            ros_args += ["--params-file", str(path)]
        # a saturated link must not stall this executor; sensor data needs its buffers
        ensure_non_blocking_sends(node_kinds=kinds)
        context = Context()
        init_kwargs: dict[str, Any] = {"args": ros_args, "context": context}
        if domain_id is not None:
            init_kwargs["domain_id"] = domain_id
        rclpy.init(**init_kwargs)
        result = RunResult()
        # Single-threaded on purpose (see base.run_single_node): node work runs
        # on the nodes' own threads, callbacks here are short.
        executor = SingleThreadedExecutor(context=context)
        started = time.monotonic()
        try:
            for kind in order:
                result.nodes[kind] = node_class(kind)(context=context, namespace=ns)
                executor.add_node(result.nodes[kind])
            apply_process_compute(list(result.nodes.values()))
            # Managed nodes load their models here, before anything spins (as plain
            # nodes do in their constructors), unless autostart is false.
            for node in result.nodes.values():
                bring_up_if_autostart(node)
            for node in result.nodes.values():
                node.start()
                node.health.start(time.monotonic())  # silence counts from here
            print(f"[run] started: {', '.join(result.nodes)}", flush=True)
            if on_started is not None:
                on_started(result.nodes)
            finishing = [result.nodes[k] for k in until_finished if k in result.nodes]
            # Ctrl-C and SIGTERM end the loop here, whatever C-level handler a model
            # runtime has put in front of rclpy's (with the camera model loaded, SIGINT
            # left this loop spinning until the parent killed the process 60 s later).
            interrupted: list[int] = []
            previous = ({sig: signal.signal(sig, lambda signum, _frame: interrupted.append(signum))
                         for sig in (signal.SIGINT, signal.SIGTERM)}
                        if threading.current_thread() is threading.main_thread() else {})
            while context.ok() and not interrupted:
                executor.spin_once(timeout_sec=0.05)
                if duration_s is not None and time.monotonic() - started >= duration_s:
                    result.stopped_by = "duration"
                    break
                if finishing and all(n.finished.is_set() for n in finishing):
                    result.stopped_by = "finished"
                    break
            else:
                result.stopped_by = "interrupted" if interrupted else "shutdown"
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        except (KeyboardInterrupt, ExternalShutdownException):
            result.stopped_by = "interrupted"
        finally:
            # Health as it was while everything ran (closing sources degrades it).
            now = time.monotonic()
            result.reports = {kind: node.health.report(now)
                              for kind, node in result.nodes.items()}
            # Stop sources first, let in-flight messages reach the recorders,
            # then close the recorders.
            for kind in reversed(order):
                if kind not in _RECORDERS and kind in result.nodes:
                    result.nodes[kind].close()
            drain_until = time.monotonic() + drain_s
            while context.ok() and time.monotonic() < drain_until:
                executor.spin_once(timeout_sec=0.05)
            for kind in order:
                if kind in _RECORDERS and kind in result.nodes:
                    result.nodes[kind].close()
            result.exit_code = max(
                (int(getattr(n, "exit_code", 0)) for n in result.nodes.values()), default=0
            )
            for node in result.nodes.values():
                executor.remove_node(node)
                node.destroy_node()
            executor.shutdown()
            if context.ok():
                rclpy.shutdown(context=context)
            result.wall_s = time.monotonic() - started
    return result
