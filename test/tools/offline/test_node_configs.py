"""The offline commands build their configs as the nodes do: defaults, files, flags."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from edge_llm_ros.params import ConfigError
from edge_llm_ros.reasoning.reasoner import ReasonerConfig
from edge_llm_ros.tools.offline.node_configs import (
    REASONER_FLAGS,
    flag_overrides,
    make_reasoner,
    node_params,
    perception_params,
)

REPO = Path(__file__).resolve().parents[3]


def test_files_apply_in_order_then_overrides(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("/**/reasoner:\n  ros__parameters:\n    deadline_ms: 90.0\n"
                     "    max_new_tokens: 20\n")
    second.write_text("/**/reasoner:\n  ros__parameters:\n    deadline_ms: 150.0\n")
    params = node_params("reasoner", [first, second], {"model.backend": "rules"})
    assert params["deadline_ms"] == 150.0  # the later file wins, even back to the default
    assert params["max_new_tokens"] == 20 and params["model.backend"] == "rules"
    assert params["publish_on_action"] is True  # untouched: the spec default


def test_a_bad_file_or_flag_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**/reasoner:\n  ros__parameters:\n    deadline_mss: 90.0\n")
    with pytest.raises(ConfigError, match="deadline_mss"):
        node_params("reasoner", [bad])
    with pytest.raises(ConfigError, match="'deadline_ms': 1.0 is below the minimum"):
        node_params("reasoner", overrides={"deadline_ms": 1.0})


def test_only_given_flags_override() -> None:
    args = argparse.Namespace(backend="rules", model=None, threads=None, deadline_ms=120.0,
                              max_new_tokens=None)
    assert flag_overrides(args, REASONER_FLAGS) == {"model.backend": "rules",
                                                    "deadline_ms": 120.0}


def test_the_offline_reasoner_is_the_nodes(tmp_path: Path) -> None:
    params = node_params("reasoner", [REPO / "config" / "vehicle.yaml"],
                         {"model.backend": "rules"})
    reasoner = make_reasoner(params, log=lambda _m: None)
    try:
        assert reasoner.config.publish_on_action is True
        assert reasoner.config.deadline_ms == ReasonerConfig().deadline_ms
        assert reasoner.backend is None
    finally:
        reasoner.close()


def test_perception_params_cover_the_three_nodes() -> None:
    params = perception_params([REPO / "config" / "vehicle.yaml"])
    assert params["lidar_detector"]["detector.cluster_tolerance_m"] == 0.5
    assert set(params) == {"camera_detector", "lidar_detector", "scene_fusion"}
