"""The vehicle and the remote planner in two network namespaces joined by a shaped link
(linklab: veth pairs, tbf rate, a delaying relay, iptables loss), changed during the run:
good link -> plans; starved link -> offload stops; 100 % loss -> remote dead, decisions go
on by the deadline; link back -> offload resumes. Every request has exactly one outcome, and
the vehicle keeps deciding at the scene rate throughout: the starved phase lasts long enough
for the uplink's queue to fill, which once froze the vehicle's executor for 23 s in a
blocking UDP send (fixed by edge_llm_ros.dds_transport)."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from edge_llm_ros.tools.linklab import PROFILES, LinkLab, LinkProfile, netns_unavailable_reason
from edge_llm_ros.tools.linklab.linkrun import Phase, run_phases

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SLACK_MS = 40.0  # DDS delivery and wake-up on a loaded 2-core machine
SCENE_RATE_HZ = 5.0  # linkrun's scene_player rate
MAX_DECISION_GAP_S = 1.0  # five scene periods: the vehicle never goes quiet
STARVED = LinkProfile("starved_8kbit_20ms", 8e3, 20.0)
GOOD = PROFILES["100mbit_20ms"]


@pytest.fixture
def lab() -> LinkLab:
    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    with LinkLab(profile=GOOD) as lab:
        yield lab


def _first_off_s(statuses: list, start_ns: int) -> float | None:
    for s in statuses:
        if not s.offload_enabled:
            return (s.t_ns - start_ns) / 1e9
    return None


def test_offload_follows_the_link_and_the_vehicle_never_waits(
        lab: LinkLab, tmp_path: Path, ros_available: None, ros_domain_id: int) -> None:
    phases = [
        Phase("good", 22.0, lambda lab: lab.set_profile(GOOD)),
        Phase("starved", 30.0, lambda lab: lab.set_profile(STARVED)),
        Phase("cut", 12.0, lambda lab: (lab.set_profile(GOOD), lab.cut())),
        Phase("restored", 22.0, lambda lab: lab.restore()),
    ]
    # Keyframes from 1 Mbit/s up: the good link is 100 Mbit/s, but the probe-based
    # estimate on this shared 2-core host came out at 2.5 Mbit/s in one CI run (echoes
    # wait for a busy remote process), under the default 8 Mbit/s threshold; the starved
    # link (8 kbit/s) stays far below either.
    keyframes = {"offload_manager.keyframe_enable_bps": 1e6,
                 "offload_manager.keyframe_disable_bps": 5e5}
    result = run_phases(lab, phases, tmp_path, domain_id=ros_domain_id,
                        vehicle_params=keyframes)
    run = result.run
    summaries = {name: result.phase(name).summary() for name, _, _ in result.windows}
    print(json.dumps(summaries, indent=1, default=str))

    good = result.phase("good")
    assert good.summary()["outcomes"].get("answered", 0) >= 3, result.vehicle_log[-3000:]
    assert good.summary()["keyframe_requests"] >= 1  # 100 Mbit/s: summary + keyframe

    # Starved: offload stops within a bounded time and nothing more is sent.
    name, start, end = result.windows[1]
    starved = run.window(start, end)
    off_after = _first_off_s(starved.statuses, start)
    assert off_after is not None and off_after <= 8.0, [s.reason for s in starved.statuses]
    assert len(starved.decisions) >= 0.9 * SCENE_RATE_HZ * (end - start) / 1e9, \
        f"{len(starved.decisions)} decisions in {(end - start) / 1e9:.0f} s of starved link"
    late = run.window(start + int(10e9), end)
    assert not any(o.outcome in ("answered", "busy") and o.upload_bytes for o in late.outcomes
                   if o.t_ns > start + int(10e9) + int(2e9))

    # Cut: the remote is marked dead, nothing is sent, and decisions continue.
    cut = result.phase("cut", skip_s=3.0)
    assert cut.statuses and not any(s.remote_alive for s in cut.statuses)
    assert {o.outcome for o in cut.outcomes} <= {"not_sent", "timed_out"}
    assert len(cut.decisions) >= 25

    # Restored: offload resumes and plans arrive again.
    restored = result.phase("restored")
    assert restored.summary()["outcomes"].get("answered", 0) >= 2, \
        [s.reason for s in restored.statuses][-10:]

    # Throughout: every decision by its deadline, every request exactly one outcome.
    assert run.decisions
    worst = max(d.latency_ms - d.deadline_ms for d in run.decisions)
    assert worst <= SLACK_MS, f"a decision came {worst:.0f} ms after its deadline"
    gaps = [(b.t_ns - a.t_ns) / 1e9 for a, b in pairwise(run.decisions)]
    assert max(gaps) <= MAX_DECISION_GAP_S, f"no decision for {max(gaps):.1f} s"
    ids = Counter(o.request_id for o in run.outcomes)
    assert max(ids.values()) == 1
    assert set(run.requests_sent) <= set(ids)
