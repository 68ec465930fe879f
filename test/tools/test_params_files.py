"""config/vehicle.yaml and docs/parameters.md are what the specs give, and README links them."""

from __future__ import annotations

from pathlib import Path

from edge_llm_ros.params import NODE_SPECS, load_params_file, validate_params
from edge_llm_ros.tools import params_files

REPO = Path(__file__).resolve().parents[2]


def test_generated_files_are_current() -> None:
    stale = params_files.stale_files()
    assert not stale, (f"{', '.join(str(p.relative_to(REPO)) for p in stale)} differ(s) from "
                       "edge_llm_ros/params/specs.py: run `scripts/env.sh "
                       "edge-llm-ros params-files` and commit the result")


def test_check_mode_names_a_stale_file(tmp_path: Path, monkeypatch, capsys) -> None:
    stale = tmp_path / "vehicle.yaml"
    stale.write_text("# hand-edited\n")
    monkeypatch.setattr(params_files, "GENERATED_FILES",
                        {stale: params_files.vehicle_yaml})
    monkeypatch.setattr(params_files, "REPO", tmp_path)
    assert params_files.update(check=True) == 1
    assert "vehicle.yaml differs from the specs" in capsys.readouterr().err
    assert params_files.update() == 0 and stale.read_text() == params_files.vehicle_yaml()


def test_vehicle_yaml_gives_every_node_exactly_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "vehicle.yaml"
    path.write_text(params_files.vehicle_yaml())
    sections = load_params_file(path)
    assert sorted(sections) == sorted(f"/**/{k}" for k in params_files.VEHICLE_NODES)
    for kind in params_files.VEHICLE_NODES:
        given = sections[f"/**/{kind}"]
        assert validate_params(kind, NODE_SPECS[kind], given) == \
            validate_params(kind, NODE_SPECS[kind], {}), kind
        for name, value in given.items():  # types survive the YAML round trip
            assert type(value) is type(validate_params(kind, NODE_SPECS[kind], {})[name]), name


def test_parameters_md_lists_every_parameter_and_readme_links_it() -> None:
    text = params_files.parameters_md()
    for kind, specs in NODE_SPECS.items():
        assert f"## {kind}" in text
        for spec in specs:
            assert f"| `{spec.name}` |" in text, f"{kind}.{spec.name}"
    assert "docs/parameters.md" in (REPO / "README.md").read_text()
