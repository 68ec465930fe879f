"""Shared CLI helpers: -p overrides, the reasoner options, how figures are printed."""

from __future__ import annotations

import json

import pytest

from edge_llm_ros.params import ConfigError
from edge_llm_ros.reasoning.model_files import DECISION_GGUF_NAME
from edge_llm_ros.reasoning.reasoner import ReasonerConfig
from edge_llm_ros.tools.cli import build_parser
from edge_llm_ros.tools.cli.common import parse_set, print_figures, reasoner_configs


def test_parse_set_reads_values_as_yaml() -> None:
    got = parse_set(["reasoner.deadline_ms=120", "reasoner.instruction=school zone",
                     "simulator.scenario=", "camera_detector.classes=[car, truck]",
                     "reasoner.print_decisions=true"])
    assert got == {"reasoner": {"deadline_ms": 120, "instruction": "school zone",
                                "print_decisions": True},
                   "simulator": {"scenario": ""},
                   "camera_detector": {"classes": ["car", "truck"]}}


@pytest.mark.parametrize("item", ["reasoner", "reasoner=1", "reasoner.=1", "deadline_ms"])
def test_parse_set_rejects_items_without_node_param_and_value(item: str) -> None:
    with pytest.raises(ConfigError, match="NODE.PARAM=VALUE"):
        parse_set([item])


def test_a_malformed_override_exits_2_with_one_line(cli) -> None:
    code, out, err = cli("run", "--nodes", "simulator", "-p", "simulator")
    assert code == 2 and out == ""
    assert err == "error: -p expects NODE.PARAM=VALUE, got 'simulator'\n"


def test_reasoner_options_build_the_reasoner_config() -> None:
    args = build_parser().parse_args(["decide", "s.json", "--backend", "rules", "--threads",
                                      "3", "--deadline-ms", "90", "--max-new-tokens", "12"])
    settings, config = reasoner_configs(args)
    # The model path keeps the node's default (unused by the rules backend).
    assert (settings.backend, settings.path, settings.threads) == (
        "rules", DECISION_GGUF_NAME, 3)
    assert config == ReasonerConfig(deadline_ms=90.0, max_new_tokens=12)


def test_figures_are_indented_for_people_and_last_as_one_json_line(capsys) -> None:
    figures = {"p50_ms": 1.5, "scenes": 3}
    print_figures(figures, as_json=False)
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1]) == figures and len(out) > 2
    print_figures(figures, as_json=True)
    assert capsys.readouterr().out == json.dumps(figures) + "\n"
