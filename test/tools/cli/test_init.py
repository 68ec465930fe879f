"""The assembled parser: every verb and every target is there and answers --help, and
`python -m edge_llm_ros.tools.cli` is the same command."""

from __future__ import annotations

import pytest

from edge_llm_ros.tools.cli import GROUPS, build_parser

VERBS = {"run", "sim", "replay", "record", "info", "perceive", "train-detector", "decide",
         "eval", "train-reasoner", "train-decision-model", "train-instruction-model",
         "train-intent-reader",
         "build-reasoner", "bench",
         "build-engine", "dds-profile", "report", "params-files", "view", "import"}
TARGETS = {"bench": {"perception", "reasoner", "offload", "system"},
           "build-engine": {"camera", "reasoner"},
           "import": {"kitti"},
           "dds-profile": {"initial-peers", "discovery-server-server",
                           "discovery-server-client", "secure", "check-security"}}


def test_every_verb_and_target_is_registered(commands) -> None:
    assert {c[0] for c in commands} == VERBS
    for verb, targets in TARGETS.items():
        assert {c[1] for c in commands if c[0] == verb} == targets
    assert all(len(c) == (2 if c[0] in TARGETS else 1) for c in commands)


def test_each_group_registers_its_own_verbs_only() -> None:
    import argparse

    seen: list[str] = []
    for group in GROUPS:
        sub = argparse.ArgumentParser().add_subparsers()
        group.register(sub)
        seen += list(sub.choices)
    assert sorted(seen) == sorted(VERBS)  # no verb twice, none missing


def test_every_command_has_help_with_examples(cli, commands) -> None:
    for command in [(), *{c[:1] for c in commands}, *commands]:
        code, out, err = cli(*command, "--help")
        assert code == 0 and err == "", command
        assert out.startswith(f"usage: edge-llm-ros {' '.join(command)}".rstrip()), command
        if command:
            assert "examples:" in out, command


@pytest.mark.parametrize("argv, message", [
    ([], "required: VERB"),
    (["fly"], "invalid choice: 'fly'"),
    (["bench"], "required: TARGET"),
    (["build-engine", "models/sim_detector.pt"], "invalid choice: 'models/sim_detector.pt'"),
    (["dds-profile"], "required: KIND"),
])
def test_a_missing_or_unknown_verb_exits_2_naming_it(cli, argv: list[str], message: str) -> None:
    code, out, err = cli(*argv)
    assert code == 2 and out == ""
    assert message in err.splitlines()[-1]


def test_stray_options_are_reported_with_the_verbs_own_usage(cli) -> None:
    code, _, err = cli("info", "some.bag", "--rate", "2")
    assert code == 2
    assert err.splitlines()[0].startswith("usage: edge-llm-ros info")
    assert err.splitlines()[-1] == "edge-llm-ros info: error: unrecognized arguments: --rate 2"


def test_build_parser_only_assembles() -> None:
    """Building the parser imports no runtime (rclpy, the reasoner, Ultralytics)."""
    import subprocess
    import sys

    code = ("import sys; from edge_llm_ros.tools.cli import build_parser; build_parser(); "
            "heavy = [m for m in ('rclpy', 'llama_cpp', 'ultralytics', 'torch', "
            "'edge_llm_ros.nodes.runner') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
    assert build_parser().prog == "edge-llm-ros"


def test_python_m_runs_the_same_command(run_cli) -> None:
    out = run_cli("bench", "--help", timeout_s=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: edge-llm-ros bench")
