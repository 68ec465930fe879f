"""The reasoner group: `decide` (scene files in, one Decision JSON line per scene out),
`eval`, and train-reasoner's options against its recipe."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from edge_llm_ros.reasoning.scene_io import (
    SceneFileError,
    load_scene_file,
    scene_from_dict,
    scene_to_dict,
)
from edge_llm_ros.tools.cli import build_parser
from edge_llm_ros.tools.cli.reasoner import train_config
from edge_llm_ros.tools.training.reasoner import TrainConfig
from edge_llm_ros.tools.training.reasoner_dataset import EVAL_FIRST_SEED, generate


@pytest.fixture
def decide(run_cli):
    """`edge-llm-ros decide ARGS...` as a real process."""
    return lambda *args: run_cli("decide", *args)


def test_scene_dicts_round_trip(tmp_path: Path) -> None:
    for i, s in enumerate(generate(6, EVAL_FIRST_SEED)):
        d = scene_to_dict(s.scene)
        path = tmp_path / f"s{i}.yaml"
        path.write_text(yaml.safe_dump(d))
        back, instruction = load_scene_file(path)
        assert back.ego == s.scene.ego and instruction == ""
        assert [o.track_id for o in back.objects] == [o.track_id for o in s.scene.objects]


@pytest.mark.parametrize("data, message", [
    ([], "expected a mapping"),
    ({"objects": []}, "ego"),
    ({"ego": {"speed_mps": "fast"}}, "expected a number"),
    ({"ego": {"speed_mps": 3}, "objects": [{"track_id": 1, "class_name": "car"}]}, "distance_m"),
    ({"ego": {"speed_mps": 3}, "objects": [{"track_id": 1, "class_name": "car",
                                            "distance_m": 3, "lane_relation": "middle"}]},
     "lane_relation"),
])
def test_bad_scene_files_name_the_field(data: object, message: str) -> None:
    with pytest.raises(SceneFileError, match=message):
        scene_from_dict(data)


def test_decide_rules_on_a_folder_prints_one_line_per_scene(decide, tmp_path: Path) -> None:
    for i, s in enumerate(generate(3, EVAL_FIRST_SEED)):
        (tmp_path / f"{i}.json").write_text(json.dumps(scene_to_dict(s.scene)))
    (tmp_path / "notes.txt").write_text("ignored")
    out = decide(str(tmp_path), "--backend", "rules")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [Path(x["file"]).name for x in lines] == ["0.json", "1.json", "2.json"]
    assert all(x["source"] == "fallback" and x["fallback_reason"] == "no model loaded"
               for x in lines)


@pytest.mark.slow
def test_decide_with_the_tuned_model_and_an_instruction(decide, tmp_path: Path,
                                                          tuned_gguf: Path) -> None:
    scene = {"header": {"stamp": {"sec": 5, "nanosec": 0}},
             "ego": {"speed_mps": 12.0, "speed_limit_mps": 13.9, "lane_index": 1},
             "objects": [{"track_id": 42, "class_name": "car", "distance_m": 13.0,
                          "relative_speed_mps": 10.0, "time_to_collision_s": 1.3,
                          "lane_relation": "ego"}]}
    path = tmp_path / "braking.yaml"
    path.write_text(yaml.safe_dump(scene))
    out = decide(str(path), "--instruction", "we are in a hurry", "--deadline-ms", "1000")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout.splitlines()[-1])
    assert d["action"] == "stop" and d["driver_object_ids"] == [42]
    assert d["stamp_ns"] == 5_000_000_000 and d["latency_ms"] <= 1000.0 + 25.0
    assert d["timing"]["prompt_tokens"] > 0


def test_decide_reports_missing_files_and_models(decide, tmp_path: Path) -> None:
    out = decide(str(tmp_path / "none.json"), "--backend", "rules")
    assert out.returncode == 2 and "no such file" in out.stderr
    assert len(out.stderr.splitlines()) == 1
    (tmp_path / "s.json").write_text(json.dumps({"ego": {"speed_mps": 1}}))
    out = decide(str(tmp_path / "s.json"), "--model", str(tmp_path / "missing.gguf"))
    assert out.returncode == 2 and "not found" in out.stderr


def test_eval_rules_only_prints_its_figures_as_json(cli) -> None:
    code, out, _ = cli("eval", "reasoner", "--rules-only", "--scenes", "20", "--json")
    assert code == 0
    figures = json.loads(out)  # --json: nothing but the figures
    rules = figures["no_instruction"]["rules_only"]
    assert rules["scenes"] == 20 and 0.0 <= rules["agreement"] <= 1.0


def test_train_reasoner_defaults_are_the_recipe() -> None:
    """train-reasoner without options trains with TrainConfig's defaults (the shipped recipe)."""
    args = build_parser().parse_args(["train-reasoner", "-o", "out/lora"])
    assert train_config(args) == TrainConfig()
    args = build_parser().parse_args(["train-reasoner", "-o", "x", "--rank", "16", "--scenes",
                                      "100", "--keep-blocks", "12", "--base", "b.gguf"])
    assert train_config(args) == dataclasses.replace(TrainConfig(), lora_rank=16, scenes=100,
                                                     keep_blocks=12, base_gguf="b.gguf")


def test_decide_runs_the_reasoner_node_parameters(cli, tmp_path: Path) -> None:
    """Unset options keep the node's parameters: its defaults, then --params-file; the
    publish-on-action reasoner the vehicle runs, not a second set of defaults."""
    from edge_llm_ros.reasoning.reasoner import ReasonerConfig
    from edge_llm_ros.tools.cli.common import reasoner_configs

    config = reasoner_configs(build_parser().parse_args(["decide", "s.json"]))[1]
    assert config == ReasonerConfig() and config.publish_on_action
    scene = tmp_path / "s.json"
    scene.write_text(json.dumps(scene_to_dict(next(iter(generate(1, EVAL_FIRST_SEED))).scene)))
    params = tmp_path / "p.yaml"
    params.write_text("/**/reasoner:\n  ros__parameters:\n    deadline_ms: 90.0\n"
                      "    model:\n      backend: rules\n")
    runs = {"default": cli("decide", str(scene), "--backend", "rules"),
            "file": cli("decide", str(scene), "--params-file", str(params)),
            "flag": cli("decide", str(scene), "--params-file", str(params),
                        "--deadline-ms", "120")}
    for code, _, err in runs.values():
        assert code == 0, err
    deadlines = {k: json.loads(out)["deadline_ms"] for k, (_, out, _) in runs.items()}
    assert deadlines == {"default": 150.0, "file": 90.0, "flag": 120.0}
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**/reasoner:\n  ros__parameters:\n    deadline_mss: 90.0\n")
    code, _, err = cli("decide", str(scene), "--params-file", str(bad))
    assert code == 2 and "deadline_mss" in err


def test_eval_closed_loop_rules_only_prints_its_figures_as_json(cli) -> None:
    code, out, _ = cli("eval", "closed-loop", "--rules-only", "--scenarios",
                       "clear_road,truck_merge", "--seeds", "1", "--json")
    assert code == 0
    figures = json.loads(out)
    assert set(figures["policies"]) == {"rules", "teacher"}  # no model without one loaded
    assert figures["policies"]["rules"]["runs"] == 2
    assert set(figures["per_scenario"]) == {"clear_road", "truck_merge"}
    bad, _, _ = cli("eval", "closed-loop", "--rules-only", "--policies", "rules,oracle")
    assert bad == 1
    missing, _, _ = cli("eval", "closed-loop", "--rules-only", "--scenarios", "no_such_road")
    assert missing == 1


def test_eval_instructions_prints_model_and_keyword_figures_per_language(cli,
                                                                        tmp_path: Path) -> None:
    code, out, _ = cli("eval", "instructions", "--per-language", "8", "--json")
    assert code == 0
    figures = json.loads(out)
    assert set(figures["held_out"]) == {"en", "zh", "de"}
    for lang, result in figures["held_out"].items():
        assert result["model"]["instructions"] == 8, lang
        assert 0.0 <= result["model"]["intent_accuracy"] <= 1.0
        assert 0.0 <= result["regex"]["acted_on_accuracy"] <= 1.0
        assert result["model"]["read_ms_p50"] > 0
    code, out, _ = cli("eval", "instructions", "--per-language", "4", "--rules-only")
    assert code == 0 and "held_out" in out and "zh" in out
    code, _, err = cli("eval", "instructions", "--instruction-model",
                       str(tmp_path / "none.gguf"))
    assert code == 2 and "missing" in err
