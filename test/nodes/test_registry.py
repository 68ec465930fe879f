"""One node registry: executables, parameter specs and the runner agree with it."""

from __future__ import annotations

from pathlib import Path

from edge_llm_ros.nodes.registry import BY_KIND, ONBOARD_NODES
from edge_llm_ros.params import NODE_SPECS

REPO = Path(__file__).resolve().parents[2]


def test_every_kind_has_an_executable_and_a_parameter_spec() -> None:
    scripts = {p.name: p.read_text() for p in (REPO / "scripts" / "nodes").iterdir()}
    assert set(scripts) == set(BY_KIND)
    assert len(set(scripts.values())) == 1, "node executables differ; they should all be one"
    assert set(NODE_SPECS) == set(BY_KIND)
    assert {"camera_detector", "lidar_detector", "scene_fusion", "reasoner"} <= set(ONBOARD_NODES)
