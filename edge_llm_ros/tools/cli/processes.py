"""Running nodes for the run-group verbs: in this process (run_nodes) or, for `sim
--pipeline`, in child processes as ros2 launch would start them; and the summaries printed
when they stop (per-stage table, bag contents)."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def print_bag_summary(path: Path, as_json: bool = False) -> dict[str, Any]:
    from edge_llm_ros.bag import open_bag

    info = open_bag(path)
    topics = []
    for topic in sorted(info.topics, key=lambda t: t.name):
        count = topic.message_count
        rate = (count - 1) / info.duration_s if info.duration_s > 0 and count > 1 else 0.0
        topics.append({"topic": topic.name, "type": topic.msgtype, "count": topic.message_count,
                       "rate_hz": round(rate, 2)})
    summary = {"bag": str(path), "storage": info.storage_id,
               "duration_s": round(info.duration_s, 3), "messages": info.message_count,
               "topics": topics}
    if as_json:
        print(json.dumps(summary))
        return summary
    print(f"bag {path}: {info.storage_id}, {info.duration_s:.2f} s, {info.message_count} messages")
    width = max([len(t["topic"]) for t in topics] + [5])
    print(f"  {'topic':<{width}}  {'count':>7}  {'rate Hz':>8}  type")
    for t in topics:
        print(f"  {t['topic']:<{width}}  {t['count']:>7}  {t['rate_hz']:>8.2f}  {t['type']}")
    return summary


def print_stage_table(reports: dict[str, Any]) -> None:
    """Per-stage frames, processing time and pipeline latency (output time
    minus the sensor stamp) and each node's health when the run stopped."""
    print(f"  {'stage':<16} {'frames':>7} {'processing ms':>14} {'latency ms':>11} "
          f"{'latency max':>12}  health")
    for kind, report in reports.items():
        v = report.values
        print(f"  {kind:<16} {v.get('frames', '0'):>7} "
              f"{v.get('processing_time_ms_median', '-'):>14} "
              f"{v.get('pipeline_latency_ms_median', '-'):>11} "
              f"{v.get('pipeline_latency_ms_max', '-'):>12}  {report.level.name}: "
              f"{report.message}")


def run_in_process(kinds: list[str], args: argparse.Namespace, params_files: list[Path],
                   overrides: dict[str, dict[str, Any]],
                   until_finished: Sequence[str] = ()) -> int:
    """Run node kinds in this process until stopped; print the stage table and any bag."""
    from edge_llm_ros.nodes.runner import run_nodes

    result = run_nodes(
        kinds, params_files=params_files, overrides=overrides,
        namespace=getattr(args, "namespace", "") or "",
        use_sim_time=bool(getattr(args, "use_sim_time", False)),
        duration_s=getattr(args, "duration", None), until_finished=until_finished,
    )
    print(f"stopped ({result.stopped_by}) after {result.wall_s:.1f} s wall time")
    print_stage_table(result.reports)
    recorder = result.nodes.get("bag_recorder")
    if recorder is not None and Path(recorder.output_path).exists():
        print_bag_summary(Path(recorder.output_path))
    return result.exit_code


def start_pipeline_process(args: argparse.Namespace, kinds: Sequence[str],
                           params_file: Path, params: Sequence[str] = (),
                           prefix: str = "[pipeline]", niceness: int = 0
                           ) -> subprocess.Popen[str]:
    """The on-board nodes in their own process, as ros2 launch would run them
    (one Python process for everything would share one GIL); returns once they
    are up, then forwards their output (decisions as they are made) live."""
    cmd = [sys.executable, "-m", "edge_llm_ros.tools.cli", "run", "--nodes", ",".join(kinds),
           "--params-file", str(params_file)]
    for p in params:
        cmd += ["-p", p]
    if getattr(args, "namespace", ""):
        cmd += ["--namespace", args.namespace]
    if getattr(args, "use_sim_time", False):
        cmd.append("--use-sim-time")
    if niceness:
        cmd = ["nice", "-n", str(niceness), *cmd]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             bufsize=1)
    assert child.stdout is not None
    for line in child.stdout:
        print(line, end="")
        if line.startswith("[run] started:"):
            forward = threading.Thread(target=_forward_output, args=(child, prefix),
                                       daemon=True)
            forward.start()
            child.forwarder = forward  # type: ignore[attr-defined]
            return child
    raise SystemExit(f"error: the pipeline process exited with code {child.wait()}")


def _forward_output(child: subprocess.Popen[str], prefix: str) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        print(f"{prefix} {line}", end="", flush=True)


def stop_pipeline_process(child: subprocess.Popen[str]) -> int:
    """SIGINT (the nodes shut down cleanly), then kill after 60 s; the exit status."""
    child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    forwarder = getattr(child, "forwarder", None)
    if forwarder is not None:
        forwarder.join(timeout=10)
    return child.returncode
