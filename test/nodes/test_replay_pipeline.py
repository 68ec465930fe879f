"""`edge-llm-ros replay BAG --pipeline --record OUT`: a recording's sensor topics replayed
as live data through the on-board nodes alone, as a vehicle team tests, ending with the
run report of what they decided."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge_llm_ros.bag import build_typestore, deserialize, iter_messages, open_bag

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_a_recording_replays_through_the_onboard_nodes_as_live_data(
        sim_bag: Path, run_edge: Callable[..., tuple[int, str]], tmp_path: Path,
        tuned_gguf: Any) -> None:
    out = tmp_path / "replayed"
    started_ns = time.time_ns()
    code, output = run_edge("replay", str(sim_bag), "--pipeline", "--compute-plan", "none",
                            "--record", str(out), timeout_s=240)
    assert code == 0, output[-4000:]
    assert "[run report]" in output and "e2e sensor -> decision" in output, output[-3000:]
    recorded = set(open_bag(out).topic_names)
    assert {"/decision", "/scene/summary", "/perception/objects_3d"} <= recorded, recorded
    # The replayed sensor data is not recorded again; the outputs are.
    assert not recorded & {"/camera/image_raw", "/lidar/points", "/odom"}, recorded
    store = build_typestore()
    decisions = [deserialize(store, m.rawdata, m.msgtype)
                 for m in iter_messages(out, ["/decision"])]
    assert len(decisions) >= 10, output[-3000:]
    # Restamped on the wall clock: the stamps are of this run, not of the recording.
    stamps = [d.header.stamp.sec * 10**9 + d.header.stamp.nanosec for d in decisions]
    assert all(started_ns < s < time.time_ns() for s in stamps)
    assert all(float(d.latency_ms) > 0.0 for d in decisions)
    code, output = run_edge("report", str(out), "--json")
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["decisions"] == len(decisions)
    assert Path(figures["picture"]).is_file()
