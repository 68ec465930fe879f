"""The whole on-board pipeline as a user runs it, on this machine: the live simulator
with every node, then the recorded bag replayed through the on-board nodes alone, each
with the compute plan and without it, side by side.

Each run is the real command a user types (`edge-llm-ros sim --pipeline --record`,
`edge-llm-ros replay BAG --pipeline --record`) in its own process tree; the figures are
the run report of its recording, so they are the numbers `make demo` prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge_llm_ros.tools.reports.run_report import read_decisions, summarize

Log = Callable[[str], None]


def _run(args: Sequence[str], log: Log, timeout_s: float) -> None:
    cmd = [sys.executable, "-m", "edge_llm_ros.tools.cli", *args]
    log("$ edge-llm-ros " + " ".join(args))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise RuntimeError(f"edge-llm-ros {' '.join(args)} exited {done.returncode}:\n{tail}")


def benchmark_system(out_dir: Path, seconds: float = 60.0, scenario: str = "mixed_traffic",
                     plans: Sequence[str] = ("cpu_2core", "none"), remote: bool = False,
                     log: Log = print) -> dict[str, Any]:
    """{plan: {"live": figures, "replay": figures}}, figures as `summarize` gives them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"seconds": seconds, "scenario": scenario, "cpus": os.cpu_count(),
                               "plans": {}}
    for plan in plans:
        live, replay = out_dir / f"live-{plan}", out_dir / f"replay-{plan}"
        for stale in (live, replay):
            if stale.exists():
                raise RuntimeError(f"{stale} exists: give bench system a new --out folder")
        sim_args = ["sim", "--scenario", scenario, "--pipeline", "--compute-plan", plan,
                    "--record", str(live), "--duration", str(seconds),
                    "-p", "simulator.loop=true"]
        _run(sim_args + (["--remote"] if remote else []), log, timeout_s=seconds + 300)
        _run(["replay", str(live), "--pipeline", "--compute-plan", plan, "--record",
              str(replay)], log, timeout_s=seconds + 300)
        figures["plans"][plan] = {"live": summarize(read_decisions(live)),
                                  "replay": summarize(read_decisions(replay))}
        for kind in ("live", "replay"):
            s = figures["plans"][plan][kind]
            log(f"[{plan} {kind}] {s['decisions']} decisions, "
                f"{100 * s['by_deadline_share']:.1f} % by the deadline, "
                f"{100 * s['model_share']:.1f} % by the model, e2e p50/p99 "
                f"{s['e2e_latency_ms']['p50']}/{s['e2e_latency_ms']['p99']} ms")
    return figures
