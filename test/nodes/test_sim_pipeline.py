"""`edge-llm-ros sim --pipeline` (what `make demo` runs, without the remote): the simulator
in one process, the on-board nodes in three more, every Decision printed as it is made."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from edge_llm_ros.types import ACTION_NAMES

from .conftest import SMALL_CAMERA

pytestmark = [pytest.mark.ros, pytest.mark.slow]

DECISION = re.compile(r"decision (\w+) v=(\d+) m/s source=(\w+) latency=(\d+) ms")


def test_sim_pipeline_prints_each_decision_and_a_summary(
        run_edge: Callable[..., tuple[int, str]], tuned_gguf: Any) -> None:
    code, out = run_edge("sim", "--scenario", "car_braking_ahead", *SMALL_CAMERA, "--pipeline",
                         timeout_s=240)
    assert code == 0, out[-4000:]
    decisions = DECISION.findall(out)
    # 15 s of scenario at a 5 Hz decision rate, less start-up
    assert len(decisions) >= 30, out[-4000:]
    assert {a for a, *_ in decisions} <= set(ACTION_NAMES)
    assert {s for _, _, s, _ in decisions} <= {"model", "fallback", "remote_informed"}
    # the lead car brakes hard: the vehicle must slow down or stop at some point
    assert {"stop", "slow_down", "yield"} & {a for a, *_ in decisions}, out[-4000:]
    summary = re.search(r"\[reasoner\] (\d+) decisions: model \d+", out)
    assert summary and int(summary.group(1)) == len(decisions), out[-3000:]
    # each process reports its own stages
    for stage in ("camera_detector", "lidar_detector", "scene_fusion", "reasoner"):
        assert re.search(rf"\]\s+{stage}\s+\d+", out), stage
    # the camera got config/simulator.yaml too: it names the simulator's model, no warning
    assert "(packaged; onnxruntime" in out and "simulator-trained model" not in out, out[-3000:]
