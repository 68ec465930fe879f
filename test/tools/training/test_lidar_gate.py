"""The lidar road-user gate: fitting, the shipped weights, the held-out figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.perception.lidar import CLUSTER_FEATURES, LidarDetectorConfig, gate_probability
from edge_llm_ros.perception.lidar_gates import GATES
from edge_llm_ros.tools.evaluation.perception import KITTI_LIDAR_CONFIG
from edge_llm_ros.tools.training.lidar_gate import (
    cross_validate_gate,
    fit_gate,
    frame_split,
    leave_one_frame_out,
    write_gates_module,
)


def test_fit_gate_separates_what_a_feature_separates(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(CLUSTER_FEATURES)))
    y = (x[:, 4] + 0.3 * rng.normal(size=400) > 1.0).astype(float)  # height decides
    gate = fit_gate(x, y)
    config = LidarDetectorConfig(**gate)
    p = gate_probability(x, config)
    assert ((p >= 0.5) == (y > 0)).mean() > 0.9
    assert np.argmax(np.abs(gate["gate_weights"][:-1])) == 4
    # the written module holds the same numbers
    path = tmp_path / "gates.py"
    write_gates_module(path, {"test": gate}, "test gate")
    namespace: dict = {}
    exec(path.read_text(), namespace)  # noqa: S102 - our own generated file
    assert namespace["GATES"]["test"]["gate_weights"] == gate["gate_weights"]


def test_shipped_gate_loads_by_name_and_bad_gates_are_refused() -> None:
    config = LidarDetectorConfig(gate="kitti_hdl64")
    assert config.gate_weights == GATES["kitti_hdl64"]["gate_weights"]
    assert len(config.gate_weights) == len(CLUSTER_FEATURES) + 1
    with pytest.raises(ValueError, match="unknown gate"):
        LidarDetectorConfig(gate="nope")
    with pytest.raises(ValueError, match="gate needs"):
        LidarDetectorConfig(gate_weights=(1.0, 2.0))


def test_frame_split_is_even_against_odd() -> None:
    assert frame_split(["000000", "000001", "000002"]) == [["000000", "000002"], ["000001"]]
    assert leave_one_frame_out(["000000", "000001"]) == [["000000"], ["000001"]]


def test_gate_held_out_by_frame(kitti_labelled_dir: Path) -> None:
    from dataclasses import replace

    config = replace(KITTI_LIDAR_CONFIG, gate="", gate_weights=(), gate_mean=(),
                     gate_scale=())
    r = cross_validate_gate(kitti_labelled_dir, config)
    assert r["road_users"] == 30
    assert r["recall"] >= 0.85 and r["precision_in_view"] >= 0.55
    lofo = cross_validate_gate(kitti_labelled_dir, config, split="leave_one_frame_out")
    assert len(lofo["folds"]) == 11
    assert lofo["recall"] >= 0.85 and lofo["precision_in_view"] >= 0.55
    assert lofo["class_accuracy"] >= 0.7
