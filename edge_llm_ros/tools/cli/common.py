"""What several verb groups share: the help formatter, `-p NODE.PARAM=VALUE`, the node and
reasoner-model options, building a reasoner from those options, and printing figures.

Heavy imports (rclpy, the reasoner runtimes) stay inside functions so that `--help` and the
offline verbs start fast and without a sourced ROS environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from edge_llm_ros.reasoning.factory import BackendSettings
    from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig

FORMATTER = argparse.RawDescriptionHelpFormatter
Log = Callable[..., None]


def add_verb(subparsers: argparse._SubParsersAction, name: str, *, help: str,
             description: str, examples: Sequence[str]) -> argparse.ArgumentParser:
    """One verb's parser, every verb alike: a one-line help, a description, examples."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    p = subparsers.add_parser(name, formatter_class=FORMATTER, help=help,
                              description=description, epilog=epilog)
    p.set_defaults(verb_parser=p)  # main reports stray options with this verb's usage
    return p


def parse_set(values: Sequence[str]) -> dict[str, dict[str, Any]]:
    """-p node.param=value (value parsed as YAML) -> {node: {param: value}}; a malformed
    item is a ConfigError (main prints it and exits 2)."""
    from edge_llm_ros.params import ConfigError

    out: dict[str, dict[str, Any]] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        node, dot, param = key.partition(".")
        if not sep or not dot or not param:
            raise ConfigError(f"-p expects NODE.PARAM=VALUE, got {item!r}")
        out.setdefault(node, {})[param] = yaml.safe_load(raw) if raw != "" else ""
    return out


def add_node_args(p: argparse.ArgumentParser, duration: bool = True) -> None:
    """Options of every verb that starts ROS nodes."""
    p.add_argument("-p", "--param", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override one node parameter (value parsed as YAML); repeatable")
    p.add_argument("--namespace", default="", help="ROS namespace for the nodes")
    p.add_argument("--use-sim-time", action="store_true",
                   help="nodes follow /clock instead of the wall clock")
    if duration:
        p.add_argument("--duration", type=float, default=None, metavar="S",
                       help="stop after this many wall-clock seconds")


def add_params_file(p: argparse.ArgumentParser) -> None:
    """--params-file for the offline verbs: the parameter files the nodes would get."""
    p.add_argument("--params-file", action="append", default=[], metavar="YAML", type=Path,
                   help="parameter file the nodes would get (e.g. config/vehicle.yaml); "
                   "repeatable, later files win; default: the node parameter defaults")


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Options of every verb that runs the reasoner; unset, each keeps the reasoner node's
    parameter (its declared default, or what --params-file gives it)."""
    from edge_llm_ros.params import default_of

    def node(name: str) -> str:
        return f"default: the reasoner node's, {default_of('reasoner', name)!s}"

    p.add_argument("--backend", choices=["llama_cpp", "tensorrt_edgellm", "rules"],
                   default=None, help=f"reasoner runtime ({node('model.backend')})")
    p.add_argument("--model", type=Path, default=None,
                   help="GGUF (llama_cpp) or HF checkpoint (tensorrt_edgellm); default: the "
                   "tuned model built at setup")
    p.add_argument("--threads", type=int, default=None,
                   help=f"CPU threads ({node('model.threads')})")
    p.add_argument("--deadline-ms", type=float, default=None,
                   help=f"decision deadline ({node('deadline_ms')} ms)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help=f"({node('max_new_tokens')})")
    add_params_file(p)


def add_json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print only the figures, as one JSON object on the last line")


def reasoner_configs(args: argparse.Namespace) -> tuple[BackendSettings, ReasonerConfig]:
    """The reasoner node's runtime settings and config: its parameter defaults, then
    --params-file, then the add_model_args options given (ConfigError names a bad one)."""
    from edge_llm_ros.reasoning.factory import BackendSettings
    from edge_llm_ros.reasoning.reasoner import ReasonerConfig
    from edge_llm_ros.tools.offline.node_configs import REASONER_FLAGS, flag_overrides, node_params

    params = node_params("reasoner", getattr(args, "params_file", []),
                         flag_overrides(args, REASONER_FLAGS))
    return BackendSettings.from_params(params), ReasonerConfig.from_params(params)


def reasoner_from(settings: BackendSettings, config: ReasonerConfig,
                  instruction: str = "") -> Reasoner:
    """A warmed-up reasoner (the first decision then shows steady-state timing)."""
    from edge_llm_ros.reasoning.factory import make_backend
    from edge_llm_ros.reasoning.reasoner import Reasoner

    backend = make_backend(settings, log=lambda m: print(m, file=sys.stderr))
    reasoner = Reasoner(backend, config)
    reasoner.warm_up(instruction)
    return reasoner


def progress(as_json: bool) -> Log:
    """Where progress lines go: stdout, or nowhere when only the JSON figures are wanted."""
    return (lambda *_: None) if as_json else print


def print_figures(figures: dict[str, Any], as_json: bool) -> None:
    """Figures indented for a person (unless --json), then always as one JSON line last."""
    if not as_json:
        print(json.dumps(figures, indent=2))
    print(json.dumps(figures))


def fail(message: str) -> int:
    """One clear line on stderr; the exit status of bad input."""
    print(f"error: {message}", file=sys.stderr)
    return 2
