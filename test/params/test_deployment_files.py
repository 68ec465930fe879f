"""Deployment parameter files (config/simulator.yaml, remote.yaml, bag.yaml) hold only
deliberate overrides: each value is valid for its node and differs from the declared
default (a copy of a default is a second declaration that drifts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_llm_ros.params import ConfigError, check_params_file, load_params_file, node_spec
from edge_llm_ros.params.core import coerce_value
from edge_llm_ros.tools.params_files import DEPLOYMENT_FILES

REPO = Path(__file__).resolve().parents[2]


def redundant_or_invalid(path: Path) -> list[str]:
    """'section: name: why' for each value that is not a deliberate, valid override."""
    check_params_file(path)  # known nodes, known parameters
    problems = []
    for section, params in load_params_file(path).items():
        kind = section.rstrip("/").split("/")[-1]
        if kind in ("**", "*"):
            problems.append(f"{section}: a wildcard section sets defaults for every node; "
                            "set each node's own value or change its spec")
            continue
        specs = {s.name: s for s in node_spec(kind)}
        for name, value in params.items():
            spec = specs.get(name)
            if spec is None:
                continue  # a builtin such as use_sim_time
            try:
                typed = coerce_value(spec, value, kind)
            except ConfigError as exc:
                problems.append(f"{section}: {name}: {exc}")
                continue
            if typed == spec.default:
                problems.append(f"{section}: {name}: {value!r} is the declared default; "
                                "drop it (or change the spec)")
    return problems


@pytest.mark.parametrize("name", DEPLOYMENT_FILES)
def test_deployment_file_holds_only_overrides(name: str) -> None:
    problems = redundant_or_invalid(REPO / "config" / name)
    assert not problems, f"config/{name}:\n" + "\n".join(problems)


def test_a_copied_default_and_a_bad_value_are_named(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("/**/simulator:\n  ros__parameters:\n    seed: 0\n    rate_hz: 500.0\n"
                    "    slow_processing_ms: 150.0\n")
    problems = redundant_or_invalid(path)
    assert len(problems) == 2
    assert "seed: 0 is the declared default" in problems[0]
    assert "rate_hz" in problems[1] and "above the maximum" in problems[1]
