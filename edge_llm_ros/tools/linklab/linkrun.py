"""A vehicle and a remote planner as two real processes, and what their run recorded.

The vehicle process runs scene_player -> offload_manager + reasoner and records decisions,
request outcomes and link status to a bag; the remote process runs remote_planner. Both
are ordinary `edge-llm-ros run` processes, so the same commands work on one host, in two
network namespaces (linklab) or on two machines. Analysis reads only the bag.
"""

from __future__ import annotations

import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_llm_ros.bag.reader import bag_typestore, iter_messages
from edge_llm_ros.dds_transport import with_non_blocking_sends

RECORDED_TOPICS = ("/decision", "/remote/outcome", "/link/status", "/remote/plan",
                   "/remote/plan_request", "/diagnostics")


def link_env(base: dict[str, str] | None = None, domain_id: int | None = None
             ) -> dict[str, str]:
    """UDP only: Fast DDS's shared memory must never carry traffic past the shaped link.
    Sends are non-blocking, as every node makes them (edge_llm_ros.dds_transport)."""
    env = dict(os.environ if base is None else base)
    env["FASTDDS_BUILTIN_TRANSPORTS"] = with_non_blocking_sends("UDPv4")
    env["PYTHONUNBUFFERED"] = "1"
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    return env


def _params(params: dict[str, object]) -> list[str]:
    out: list[str] = []
    for key, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out += ["-p", f"{key}={text}"]
    return out


def remote_command(duration_s: float, params: dict[str, object] | None = None,
                   nice: int = 10) -> list[str]:
    """On a real deployment the remote is another host; sharing this one, it runs at a
    lower CPU priority so it cannot take the vehicle's deadline-bound time."""
    base = {"remote_planner.model.threads": 1}
    base.update(params or {})
    return ["nice", "-n", str(nice), sys.executable, "-m", "edge_llm_ros.tools.cli", "run",
            "--nodes", "remote_planner", "--duration", str(duration_s), *_params(base)]


def vehicle_command(bag_dir: Path, duration_s: float, params: dict[str, object] | None = None
                    ) -> list[str]:
    base: dict[str, object] = {
        "reasoner.model.threads": 1,
        "scene_player.rate_hz": 5.0,
        "bag_recorder.output_path": str(bag_dir),
        "bag_recorder.topics": "[" + ",".join(RECORDED_TOPICS) + "]",
        "offload_manager.outcome_log": str(bag_dir.parent / (bag_dir.name + "_outcomes.jsonl")),
    }
    base.update(params or {})
    return [sys.executable, "-m", "edge_llm_ros.tools.cli", "run", "--nodes",
            "scene_player,offload_manager,reasoner,bag_recorder",
            "--duration", str(duration_s), *_params(base)]


@dataclass
class DecisionRow:
    t_ns: int  # bag receive time
    latency_ms: float
    deadline_ms: float
    source: int
    remote_plan_id: str


@dataclass
class OutcomeRow:
    t_ns: int
    request_id: str
    outcome: str
    reason: str
    payload_tier: int
    upload_bytes: int
    response_bytes: int
    round_trip_ms: float


@dataclass
class StatusRow:
    t_ns: int
    remote_alive: bool
    offload_enabled: bool
    bandwidth_bps: float
    rtt_ms: float
    payload_tier: int
    reason: str


@dataclass
class LinkRun:
    decisions: list[DecisionRow] = field(default_factory=list)
    outcomes: list[OutcomeRow] = field(default_factory=list)
    statuses: list[StatusRow] = field(default_factory=list)
    plans_forwarded: int = 0
    requests_sent: list[str] = field(default_factory=list)  # request ids seen on the wire
    diagnostics: dict[str, dict[str, str]] = field(default_factory=dict)  # last, by node kind

    def window(self, start_ns: int, end_ns: int) -> LinkRun:
        def inside(rows: list) -> list:
            return [r for r in rows if start_ns <= r.t_ns < end_ns]
        return LinkRun(inside(self.decisions), inside(self.outcomes), inside(self.statuses))

    def summary(self) -> dict[str, object]:
        """The bench's figures for this stretch of the run."""
        counts = Counter(o.outcome for o in self.outcomes)
        sent = [o for o in self.outcomes if o.outcome != "not_sent"]
        answered = [o for o in self.outcomes if o.outcome == "answered"]
        rtts = sorted(o.round_trip_ms for o in answered if math.isfinite(o.round_trip_ms))
        on_time = [d for d in self.decisions if d.latency_ms <= d.deadline_ms]
        return {
            "requests": len(self.outcomes),
            "outcomes": dict(counts),
            "sent_remote_share": len(sent) / len(self.outcomes) if self.outcomes else 0.0,
            "plan_round_trip_ms": {"p50": percentile(rtts, 50), "p99": percentile(rtts, 99),
                                   "n": len(rtts)},
            "bytes_per_plan": (statistics.mean(o.upload_bytes + o.response_bytes
                                               for o in answered) if answered else None),
            "keyframe_requests": sum(o.payload_tier == 1 for o in sent),
            "decisions": len(self.decisions),
            "decisions_by_deadline": len(on_time) / len(self.decisions) if self.decisions
            else None,
            "decisions_using_remote_plan": sum(bool(d.remote_plan_id) for d in self.decisions),
            "bandwidth_estimate_bps": (statistics.median(s.bandwidth_bps for s in self.statuses
                                                         if math.isfinite(s.bandwidth_bps))
                                       if any(math.isfinite(s.bandwidth_bps)
                                              for s in self.statuses) else None),
        }


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def read_run(bag_dir: Path) -> LinkRun:
    """Decode the vehicle's bag (types from the bag itself, no ROS needed)."""
    store = bag_typestore(bag_dir)
    run = LinkRun()
    for m in iter_messages(bag_dir):
        msg = store.deserialize_cdr(m.rawdata, m.msgtype)
        if m.topic == "/decision":
            run.decisions.append(DecisionRow(m.timestamp_ns, float(msg.latency_ms),
                                             float(msg.deadline_ms), int(msg.source),
                                             msg.remote_plan_id))
        elif m.topic == "/remote/outcome":
            run.outcomes.append(OutcomeRow(m.timestamp_ns, msg.request_id, msg.outcome,
                                           msg.reason, int(msg.payload_tier),
                                           int(msg.upload_bytes), int(msg.response_bytes),
                                           float(msg.round_trip_ms)))
        elif m.topic == "/link/status":
            run.statuses.append(StatusRow(m.timestamp_ns, bool(msg.remote_alive),
                                          bool(msg.offload_enabled), float(msg.bandwidth_bps),
                                          float(msg.rtt_ms), int(msg.payload_tier), msg.reason))
        elif m.topic == "/remote/plan":
            run.plans_forwarded += 1
        elif m.topic == "/remote/plan_request":
            run.requests_sent.append(msg.request_id)
        elif m.topic == "/diagnostics":
            for status in msg.status:
                kind = status.name.rsplit(": ", 1)[-1]
                run.diagnostics[kind] = {kv.key: kv.value for kv in status.values}
    return run


@dataclass(frozen=True)
class Phase:
    """One stretch of a link run: `apply` changes the link (lab.set_profile, lab.cut...)
    at the start, then the run goes on for duration_s."""

    name: str
    duration_s: float
    apply: Callable[[Any], None]


@dataclass
class PhasedRun:
    run: LinkRun
    windows: list[tuple[str, int, int]]  # (phase, start ns, end ns), wall clock
    vehicle_log: str
    remote_log: str

    def phase(self, name: str, skip_s: float = 0.0) -> LinkRun:
        """The run during one phase, leaving out its first skip_s seconds."""
        for phase, start, end in self.windows:
            if phase == name:
                return self.run.window(start + int(skip_s * 1e9), end)
        raise KeyError(name)


def run_phases(lab: Any, phases: list[Phase], workdir: Path, warmup_s: float = 15.0,
               domain_id: int | None = None, vehicle_params: dict[str, object] | None = None,
               remote_params: dict[str, object] | None = None) -> PhasedRun:
    """Remote planner in lab.remote_ns, vehicle in lab.vehicle_ns; the phases run one after
    the other once both have warmed up (models loaded, link measured)."""
    workdir.mkdir(parents=True, exist_ok=True)
    total = warmup_s + sum(p.duration_s for p in phases) + 2.0
    env = link_env(domain_id=domain_id)
    bag = workdir / "vehicle"
    logs = {name: (workdir / f"{name}.log").open("w") for name in ("remote", "vehicle")}
    remote = lab.popen(lab.remote_ns, remote_command(total + 30.0, remote_params), env=env,
                       stdout=logs["remote"], stderr=subprocess.STDOUT)
    vehicle = lab.popen(lab.vehicle_ns, vehicle_command(bag, total, vehicle_params), env=env,
                        stdout=logs["vehicle"], stderr=subprocess.STDOUT)
    windows: list[tuple[str, int, int]] = []
    try:
        time.sleep(warmup_s)
        for phase in phases:
            phase.apply(lab)
            start = time.time_ns()
            time.sleep(phase.duration_s)
            windows.append((phase.name, start, time.time_ns()))
        vehicle.wait(timeout=120)
    finally:
        for proc in (vehicle, remote):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for f in logs.values():
            f.close()
    vehicle_log = (workdir / "vehicle.log").read_text()
    remote_log = (workdir / "remote.log").read_text()
    if vehicle.returncode != 0:
        raise RuntimeError(f"vehicle process exited {vehicle.returncode}:\n{vehicle_log[-3000:]}")
    return PhasedRun(read_run(bag), windows, vehicle_log, remote_log)
