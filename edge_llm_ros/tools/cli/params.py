"""`params-files`: the files generated from the parameter specs (config/vehicle.yaml and
docs/parameters.md), rewritten or checked."""

from __future__ import annotations

import argparse

from edge_llm_ros.tools.cli.common import add_verb


def cmd_params_files(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.params_files import update

    return update(check=args.check)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "params-files", help="regenerate config/vehicle.yaml and the parameter docs",
                 description="Write config/vehicle.yaml (every on-board parameter at its "
                 "default, described) and docs/parameters.md from edge_llm_ros/params/specs.py, "
                 "the one declaration of every parameter; a test fails while they are stale.",
                 examples=["edge-llm-ros params-files", "edge-llm-ros params-files --check"])
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 naming each stale file")
    p.set_defaults(func=cmd_params_files)
