"""The offline commands' configs, built exactly as the nodes build theirs.

`decide`, `eval reasoner`, `bench reasoner`, `perceive` and `bench perception` start
from the node parameter defaults (edge_llm_ros/params/specs.py), then what a
`--params-file` gives the node (the same files the launch files pass, matched the way
rcl matches them), then the command's own flags; the configs come from the same
`from_params` constructors the nodes call. So an offline figure is a figure of what
the vehicle runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from edge_llm_ros.params import (
    ParamValue,
    check_params_file,
    node_defaults,
    node_params_from_file,
)

# CLI flag (argparse dest) -> reasoner parameter it sets
REASONER_FLAGS = {"backend": "model.backend", "model": "model.path", "threads": "model.threads",
                  "deadline_ms": "deadline_ms", "max_new_tokens": "max_new_tokens"}


def node_params(kind: str, params_files: Sequence[str | Path] = (),
                overrides: Mapping[str, Any] | None = None) -> dict[str, ParamValue]:
    """A node's parameters: spec defaults, then each file in order, then `overrides`.
    Raises ConfigError naming a bad file, parameter or value."""
    merged: dict[str, Any] = {}
    for path in params_files:
        check_params_file(path)
        merged.update(node_params_from_file(path, kind))
    merged.update(overrides or {})
    return node_defaults(kind, overrides=merged)


def flag_overrides(args: Any, flags: Mapping[str, str]) -> dict[str, Any]:
    """Parameters set by command-line flags that were given (not None)."""
    out: dict[str, Any] = {}
    for dest, param in flags.items():
        value = getattr(args, dest, None)
        if value is not None:
            out[param] = str(value) if isinstance(value, Path) else value
    return out


def make_reasoner(params: Mapping[str, Any], log: Callable[[str], None] = print) -> Any:
    """The reasoner node's Reasoner (backend from `model.*`, config from the rest)."""
    from edge_llm_ros.reasoning.factory import BackendSettings, make_backend
    from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig

    config = ReasonerConfig.from_params(params)
    backend = make_backend(BackendSettings.from_params(params), log=log)
    reasoner = Reasoner(backend, config)
    reasoner.warm_up(str(params["instruction"]))
    return reasoner


def perception_params(params_files: Sequence[str | Path] = ()) -> dict[str, dict[str, Any]]:
    """Parameters of camera_detector, lidar_detector and scene_fusion."""
    return {kind: node_params(kind, params_files)
            for kind in ("camera_detector", "lidar_detector", "scene_fusion")}
