"""`edge-llm-ros bench offload`: the vehicle and the remote planner in two network
namespaces, the link switched live through the profiles; per profile, the share of requests
sent remote, plan round trip p50/p99, decisions by deadline and bytes per plan."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from edge_llm_ros.tools.linklab.linkrun import Phase, run_phases

BENCH_PROFILES = ("100mbit_20ms", "10mbit_50ms", "1mbit_100ms", "256kbit_300ms_5pct_loss")
LATE_SLACK_MS = 40.0  # figure also reported with this slack (DDS + wake-up on shared cores)


def benchmark_offload(profile_names: tuple[str, ...] = BENCH_PROFILES,
                      seconds_per_profile: float = 40.0, settle_s: float = 8.0,
                      workdir: Path | None = None, domain_id: int | None = None,
                      log: Callable[[str], None] = print) -> dict[str, object]:
    from edge_llm_ros.tools.linklab import PROFILES, LinkLab, netns_unavailable_reason

    reason = netns_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"bench offload needs network namespaces: {reason}")
    unknown = [n for n in profile_names if n not in PROFILES]
    if unknown:
        raise ValueError(f"unknown link profile(s) {', '.join(unknown)}; known: "
                         f"{', '.join(PROFILES)}")
    phases = [Phase(name, seconds_per_profile,
                    lambda lab, p=PROFILES[name]: lab.set_profile(p)) for name in profile_names]
    with tempfile.TemporaryDirectory(prefix="edge_llm_ros_bench_offload_") as tmp:
        where = workdir or Path(tmp)
        log(f"running {len(phases)} profiles x {seconds_per_profile:.0f} s (work dir {where})")
        with LinkLab(profile=PROFILES[profile_names[0]]) as lab:
            result = run_phases(lab, phases, where, domain_id=domain_id)
    figures: dict[str, object] = {"seconds_per_profile": seconds_per_profile,
                                  "settle_s": settle_s, "profiles": {}}
    for name, _, _ in result.windows:
        # The first seconds after a switch belong to the estimator catching up.
        part = result.phase(name, skip_s=settle_s)
        summary = part.summary()
        decisions = part.decisions
        summary["decisions_by_deadline_with_slack"] = (
            sum(d.latency_ms <= d.deadline_ms + LATE_SLACK_MS for d in decisions)
            / len(decisions) if decisions else None)
        summary["worst_lateness_ms"] = max((d.latency_ms - d.deadline_ms for d in decisions),
                                           default=None)
        summary["profile"] = {"rate_bps": PROFILES[name].rate_bps,
                              "rtt_ms": PROFILES[name].rtt_ms, "loss": PROFILES[name].loss}
        figures["profiles"][name] = summary  # type: ignore[index]
        log(f"{name}: {summary['sent_remote_share']:.0%} sent remote, round trip "
            f"{summary['plan_round_trip_ms']}, decisions by deadline "
            f"{summary['decisions_by_deadline']}")
    return figures
