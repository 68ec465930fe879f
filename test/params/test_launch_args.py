"""The launch arguments several launch files share: declared once, naming files that
exist, and agreeing with the node parameters they stand for."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_llm_ros.params import NODE_SPECS, ConfigError
from edge_llm_ros.params.launch_args import (
    LAUNCH_DRIVES_LIFECYCLE,
    PIPELINE_ARGUMENTS,
    SHARED_ARGUMENTS,
    as_bool,
    typed_overrides,
)

REPO = Path(__file__).resolve().parents[2]


def test_pipeline_arguments_are_shared_ones() -> None:
    assert set(PIPELINE_ARGUMENTS) <= set(SHARED_ARGUMENTS)
    assert len(PIPELINE_ARGUMENTS) == len(set(PIPELINE_ARGUMENTS))


@pytest.mark.parametrize("name", sorted(SHARED_ARGUMENTS))
def test_shared_argument_is_described_and_its_file_exists(name: str) -> None:
    argument = SHARED_ARGUMENTS[name]
    assert len(argument.description) > 20
    if argument.share_default:
        assert (REPO.joinpath(*argument.share_default)).is_file()


def test_autostart_argument_agrees_with_the_managed_nodes() -> None:
    """Launch and a node started alone bring it up the same way by default (a node default
    that disagrees with the launch default is a classic source of 'nothing is published')."""
    managed = {kind: {s.name: s for s in specs}["autostart"]
               for kind, specs in NODE_SPECS.items() if any(s.name == "autostart" for s in specs)}
    assert set(managed) == {"camera_detector", "reasoner", "remote_planner",
                            "instruction_interpreter"}
    launch_default = as_bool("autostart", SHARED_ARGUMENTS["autostart"].default)
    assert all(spec.default is launch_default for spec in managed.values())
    # What launch files give the node so launch_ros alone drives its transitions.
    for kind in managed:
        assert typed_overrides(kind, {"autostart": ("autostart", "false")}) == \
            LAUNCH_DRIVES_LIFECYCLE


def test_bad_boolean_argument_is_named() -> None:
    with pytest.raises(ConfigError, match="autostart:='maybe' must be true or false"):
        as_bool("autostart", "maybe")
