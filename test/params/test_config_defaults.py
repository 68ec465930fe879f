"""Core config defaults are the node parameters' defaults: one declaration, in specs.py.

Each core config is built twice, from its own field defaults and from the node's
parameter defaults through the constructor the node uses (`from_params`); every
field that differs is named. A config default written as a second literal that
drifts from the spec (the lidar cluster tolerance, `publish_on_action`) fails here.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.fusion.trigger import TriggerConfig
from edge_llm_ros.offload.link import LinkConfig
from edge_llm_ros.offload.policy import OffloadConfig
from edge_llm_ros.params import default_of, node_defaults
from edge_llm_ros.perception.camera.detector import CameraDetector, detector_kwargs
from edge_llm_ros.perception.lidar import LidarDetectorConfig
from edge_llm_ros.reasoning.factory import BackendSettings
from edge_llm_ros.reasoning.reasoner import ReasonerConfig
from edge_llm_ros.reasoning.rules import RuleThresholds
from edge_llm_ros.remote.planner import PlannerConfig
from edge_llm_ros.remote.service import ServiceConfig
from edge_llm_ros.sim.sensors import CameraConfig, LidarConfig

# (config class, node kind, the constructor its node uses)
CONFIGS: list[tuple[type, str, Callable[[dict], Any]]] = [
    (LidarDetectorConfig, "lidar_detector", LidarDetectorConfig.from_params),
    (FusionConfig, "scene_fusion", FusionConfig.from_params),
    (TriggerConfig, "scene_fusion", TriggerConfig.from_params),
    (RuleThresholds, "reasoner", RuleThresholds.from_params),
    (RuleThresholds, "remote_planner", RuleThresholds.from_params),
    (ReasonerConfig, "reasoner", ReasonerConfig.from_params),
    (BackendSettings, "reasoner", BackendSettings.from_params),
    (OffloadConfig, "offload_manager", OffloadConfig.from_params),
    (LinkConfig, "offload_manager", LinkConfig.from_params),
    (PlannerConfig, "remote_planner", PlannerConfig.from_params),
    (ServiceConfig, "remote_planner", ServiceConfig.from_params),
    (CameraConfig, "simulator", CameraConfig.from_params),
    (LidarConfig, "simulator", LidarConfig.from_params),
]


def differences(defaults: Any, from_node: Any, where: str) -> list[str]:
    """Fields (recursively) whose values differ, as 'Class.field: a (dataclass) != b (node)'."""
    out = []
    for f in dataclasses.fields(defaults):
        a, b = getattr(defaults, f.name), getattr(from_node, f.name)
        name = f"{where}.{f.name}"
        if dataclasses.is_dataclass(a):
            out += differences(a, b, name)
        elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            if not np.array_equal(np.asarray(a), np.asarray(b)):
                out.append(f"{name}: {np.asarray(a).tolist()} (dataclass) != "
                           f"{np.asarray(b).tolist()} (node default)")
        elif a != b:
            out.append(f"{name}: {a!r} (dataclass) != {b!r} (node default)")
    return out


@pytest.mark.parametrize(("cls", "kind", "build"), CONFIGS,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in CONFIGS])
def test_core_config_defaults_are_the_node_defaults(cls: type, kind: str,
                                                    build: Callable[[dict], Any]) -> None:
    found = differences(cls(), build(node_defaults(kind)), cls.__name__)
    assert not found, f"{cls.__name__} disagrees with node '{kind}':\n" + "\n".join(found)


def test_camera_detector_defaults_are_the_node_defaults() -> None:
    signature = inspect.signature(CameraDetector.__init__)
    for name, value in detector_kwargs(node_defaults("camera_detector")).items():
        default = signature.parameters[name].default
        assert default == value, (f"CameraDetector({name}={default!r}) but node "
                                  f"'camera_detector' defaults give {value!r}")


def test_a_drifted_default_is_named() -> None:
    drifted = LidarDetectorConfig(cluster_tolerance_m=0.2)
    found = differences(drifted, LidarDetectorConfig.from_params(
        node_defaults("lidar_detector")), "LidarDetectorConfig")
    assert found == ["LidarDetectorConfig.cluster_tolerance_m: 0.2 (dataclass) != 0.5 "
                     "(node default)"]


def test_the_issue_examples_agree_now() -> None:
    assert LidarDetectorConfig().cluster_tolerance_m == default_of(
        "lidar_detector", "detector.cluster_tolerance_m")
    assert ReasonerConfig().publish_on_action is default_of("reasoner", "publish_on_action")


def test_node_defaults_take_a_params_file(tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("/**/reasoner:\n  ros__parameters:\n    deadline_ms: 90.0\n"
                    "    fallback:\n      stop_ttc_s: 2.0\n")
    config = ReasonerConfig.from_params(node_defaults("reasoner", path))
    assert config.deadline_ms == 90.0 and config.thresholds.stop_ttc_s == 2.0
    assert node_defaults("reasoner", overrides={"max_new_tokens": 12})["max_new_tokens"] == 12
