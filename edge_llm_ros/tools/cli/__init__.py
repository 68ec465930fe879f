"""`edge-llm-ros`: one command with verbs, the offline twin of every node.

build_parser only assembles: each verb group's module (run, perception, reasoner, bench,
engines, dds) adds its own parsers and holds its command functions. Verbs that start ROS
nodes or load models import them lazily, so `--help`, `info` and the offline verbs work
without a sourced ROS environment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edge_llm_ros.tools.cli import (
    bench,
    dds,
    engines,
    importers,
    params,
    perception,
    reasoner,
    report,
    run,
    view,
)
from edge_llm_ros.tools.cli.common import FORMATTER

GROUPS = (run, perception, reasoner, bench, engines, dds, report, params, view, importers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-llm-ros", formatter_class=FORMATTER,
        description="On-board language reasoning for vehicles on ROS 2: run the nodes, "
        "the simulator and bag tools from one command.",
        epilog="Run `edge-llm-ros VERB --help` for a verb's options and examples.",
    )
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the verb; bad input (a config or bag the verb cannot use) exits 2 with one
    line on stderr, as argparse does for bad options."""
    from edge_llm_ros.params import ConfigError

    args, stray = build_parser().parse_known_args(argv)
    if stray:  # e.g. another bench target's option: say so with this verb's own usage
        args.verb_parser.error(f"unrecognized arguments: {' '.join(stray)}")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from edge_llm_ros.bag import BagError

        if isinstance(exc, BagError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
