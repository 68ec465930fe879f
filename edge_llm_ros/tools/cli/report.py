"""`report`: what a user sees of a recorded run, read back from its bag."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_llm_ros.tools.cli.common import add_json_flag, add_verb


def picture_path(bag: Path) -> Path:
    """The run's picture, beside the bag: out/demo-X -> out/demo-X.png."""
    bag = Path(bag)
    return bag.with_name((bag.stem if bag.suffix == ".mcap" else bag.name) + ".png")


def report_run(bag: Path, png: Path | None = None, title: str = "",
               as_json: bool = False) -> dict:
    """Print the run's figures (decisions by the deadline, by the model, e2e latency from
    the sensor stamp, each stage's latency) and write its picture; returns the figures."""
    from edge_llm_ros.tools.reports.run_report import (
        format_summary,
        plot_run,
        read_decisions,
        summarize,
    )

    samples = read_decisions(bag)
    summary = summarize(samples)
    png = picture_path(bag) if png is None else png
    summary["picture"] = str(plot_run(samples, png, title or f"{Path(bag).name}"))
    if as_json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary))
        print(f"picture: {summary['picture']}")
    return summary


def cmd_report(args: argparse.Namespace) -> int:
    report_run(args.bag, args.png, as_json=args.json)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "report", help="decisions by the deadline and by the model, from a bag",
                 description="Read a recorded run (sim --pipeline --record, make demo, a replay "
                 "recorded through the on-board nodes) and print what a user sees: decisions "
                 "by the deadline, share decided by the model (and remote-informed), e2e "
                 "latency from the sensor stamp p50/p99, each stage's latency; write a picture "
                 "of each stage's latency over time against the deadline, and who decided "
                 "each frame.",
                 examples=["edge-llm-ros report out/demo-20261203-151500",
                           "edge-llm-ros report out/run1 --png out/run1.png --json"])
    p.add_argument("bag", type=Path, help="recorded bag (directory or .mcap)")
    p.add_argument("--png", type=Path, default=None,
                   help="where to write the picture (default: beside the bag, BAG.png)")
    add_json_flag(p)
    p.set_defaults(func=cmd_report)
