"""Parameter specs, files and validation: a wrong config fails naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_llm_ros.params import (
    NODE_SPECS,
    ConfigError,
    check_params_file,
    load_params_file,
    node_params_from_file,
    validate_params,
)

REPO = Path(__file__).resolve().parents[2]


def test_every_spec_has_a_description_and_a_consistent_default() -> None:
    for kind, specs in NODE_SPECS.items():
        names = [s.name for s in specs]
        assert len(names) == len(set(names)), f"{kind} declares a parameter twice"
        for spec in specs:
            assert len(spec.description) > 15, f"{kind}.{spec.name} needs a description"
            if not spec.required and not spec.is_list:
                # the default itself must pass the spec's own checks
                validate_params(kind, specs, {spec.name: spec.default} | _required(specs))


def _required(specs: tuple) -> dict:
    return {s.name: ("x" if s.element_type is str else 1) for s in specs if s.required}


def test_defaults_fill_in_and_ints_widen_to_double() -> None:
    values = validate_params("simulator", NODE_SPECS["simulator"], {"rate_hz": 5})
    assert values["rate_hz"] == 5.0 and isinstance(values["rate_hz"], float)
    assert values["scenario"] == "mixed_traffic"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"rate_hzz": 1.0}, "unknown parameter(s) 'rate_hzz'"),
        ({"rate_hz": "fast"}, "parameter 'rate_hz': expected double, got str"),
        ({"rate_hz": 500.0}, "parameter 'rate_hz': 500.0 is above the maximum 50.0"),
        ({"seed": -1}, "parameter 'seed': -1 is below the minimum 0"),
        ({"loop": 1}, "parameter 'loop': expected bool"),
        ({"rate_hz": float("nan")}, "parameter 'rate_hz': NaN is not a valid value"),
    ],
)
def test_invalid_values_are_named(overrides: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_params("simulator", NODE_SPECS["simulator"], overrides)
    assert expected in str(info.value)
    assert "node 'simulator'" in str(info.value)


def test_missing_required_parameter_is_named() -> None:
    with pytest.raises(ConfigError, match="required parameter 'bag_path'"):
        validate_params("bag_replay", NODE_SPECS["bag_replay"], {})


def test_choices_and_lists() -> None:
    specs = NODE_SPECS["bag_recorder"]
    with pytest.raises(ConfigError, match="'zip' is not one of mcap, sqlite3"):
        validate_params("bag_recorder", specs, {"output_path": "o", "storage": "zip"})
    with pytest.raises(ConfigError, match=r"parameter 'topics'\[1\]: expected string"):
        validate_params("bag_recorder", specs, {"output_path": "o", "topics": ["/a", 3]})
    values = validate_params("bag_recorder", specs, {"output_path": "o", "topics": ["/a"]})
    assert values["topics"] == ["/a"]


def test_params_file_nesting_and_namespace_matching(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "/**:\n  ros__parameters:\n    diagnostics_period_s: 2.0\n"
        "/**/simulator:\n  ros__parameters:\n    camera:\n      width_px: 320\n"
        "/car1/simulator:\n  ros__parameters:\n    seed: 7\n"
    )
    assert load_params_file(path)["/**/simulator"] == {"camera.width_px": 320}
    root = node_params_from_file(path, "simulator", "/")
    assert root == {"diagnostics_period_s": 2.0, "camera.width_px": 320}
    car1 = node_params_from_file(path, "simulator", "/car1")
    assert car1["seed"] == 7 and car1["camera.width_px"] == 320
    assert node_params_from_file(path, "bag_replay", "/car1") == {"diagnostics_period_s": 2.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sim: [1, 2", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping of node names"),
        ("simulator:\n  seed: 1\n", "must hold exactly one key 'ros__parameters'"),
        ("simulator:\n  ros__parameters: 3\n", "must be a mapping"),
    ],
)
def test_malformed_params_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_params_file(path)
    assert str(path) in str(info.value)


def test_missing_params_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_params_file(tmp_path / "nope.yaml")


def test_shipped_config_files_validate() -> None:
    for path in sorted((REPO / "config").glob("*.yaml")):
        if path.name == "gz_bridge.yaml":
            continue  # ros_gz_bridge's own format, checked in test/gazebo
        for kind, specs in NODE_SPECS.items():
            overrides = node_params_from_file(path, kind)
            validate_params(kind, specs, overrides | _required(specs))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/**/simulatr:\n  ros__parameters:\n    seed: 1\n", "unknown node '/**/simulatr'"),
        ("/**:\n  ros__parameters:\n    seed: 1\n", "seed is not a parameter every node has"),
        ("/**/simulator:\n  ros__parameters:\n    sed: 1\n", "unknown parameter(s) sed"),
    ],
)
def test_check_params_file_names_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        check_params_file(path)
    assert expected in str(info.value)


def test_check_params_file_accepts_shipped_configs() -> None:
    for path in sorted((REPO / "config").glob("*.yaml")):
        if path.name != "gz_bridge.yaml":
            check_params_file(path)
