"""The run report on a real recorded run: scenes from scene_player decided by a real
reasoner node over DDS, recorded to MCAP, read back."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_llm_ros.bag import build_typestore, deserialize, iter_messages
from edge_llm_ros.tools.reports.run_report import (
    format_summary,
    plot_run,
    read_decisions,
    summarize,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory, ros_available: None) -> Path:
    """Eight seconds of rule-backend decisions on generated scenes, recorded."""
    bag = tmp_path_factory.mktemp("report") / "run"
    cmd = [sys.executable, "-m", "edge_llm_ros.tools.cli", "run",
           "--nodes", "scene_player,reasoner,bag_recorder",
           "--params-file", str(REPO_ROOT / "config" / "vehicle.yaml"),
           "-p", "reasoner.model.backend=rules", "-p", "scene_player.publish_image=false",
           "-p", f"bag_recorder.output_path={bag}", "--duration", "8"]
    # A domain of its own (the per-test fixtures are function-scoped; this is per module).
    env = {**os.environ, "ROS_DOMAIN_ID": str(100 + os.getpid() % 100)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env,
                          cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return bag


def test_figures_match_the_recorded_decisions(recorded_run: Path, tmp_path: Path) -> None:
    samples = read_decisions(recorded_run)
    typestore = build_typestore()
    raw = [deserialize(typestore, m.rawdata, m.msgtype)
           for m in iter_messages(recorded_run, ["/decision"])]
    assert len(samples) == len(raw) >= 10
    assert [s.latency_ms for s in samples] == pytest.approx([float(d.latency_ms) for d in raw])

    summary = summarize(samples)
    assert summary["decisions"] == len(raw)
    # The rules backend: every decision is the fallback's, and says why.
    assert summary["model_share"] == 0.0 and summary["fallback_share"] == 1.0
    assert summary["fallback_reasons"] == {"no model loaded": len(raw)}
    on_time = sum(float(d.latency_ms) <= float(d.deadline_ms) for d in raw) / len(raw)
    assert summary["by_deadline_share"] == pytest.approx(on_time, abs=1e-4)
    e2e = summary["e2e_latency_ms"]
    assert 0.0 < e2e["p50"] <= e2e["p99"] <= e2e["max"]
    assert "reasoner" in summary["stage_latency_ms"]
    assert "decisions" in format_summary(summary)

    png = plot_run(samples, tmp_path / "run.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_empty_run_has_no_figures_but_still_a_picture(tmp_path: Path) -> None:
    summary = summarize([])
    assert summary["decisions"] == 0 and math.isnan(summary["by_deadline_share"])
    assert plot_run([], tmp_path / "empty.png").is_file()


def test_report_verb_prints_the_figures_and_writes_the_picture(recorded_run: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "edge_llm_ros.tools.cli", "report",
                           str(recorded_run), "--json"], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["decisions"] == summarize(read_decisions(recorded_run))["decisions"]
    assert Path(figures["picture"]) == recorded_run.with_name(recorded_run.name + ".png")
    assert Path(figures["picture"]).is_file()
