"""Running `edge-llm-ros` in this process (main, as the script calls it) or as a real child."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_llm_ros.tools.cli import build_parser, main

REPO = Path(__file__).resolve().parents[3]
Result = tuple[int, str, str]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """`edge-llm-ros ARGS...` in process: (exit status, stdout, stderr); argparse's exits too."""
    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`python -m edge_llm_ros.tools.cli ARGS...` as a real process, from the repository."""
    def run(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edge_llm_ros.tools.cli", *args],
                              capture_output=True, text=True, timeout=timeout_s, cwd=REPO)
    return run


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parsers of a parser's sub-commands by name ({} when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def leaf_commands(parser: argparse.ArgumentParser | None = None,
                  path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every runnable command line prefix: ('run',), ('bench', 'reasoner'), ..."""
    parser = parser or build_parser()
    children = subcommands(parser)
    if not children:
        yield path
    for name, child in children.items():
        yield from leaf_commands(child, (*path, name))


def _options(command: tuple[str, ...]) -> set[str]:
    parser = build_parser()
    for name in command:
        parser = subcommands(parser)[name]
    return {s for a in parser._actions for s in a.option_strings if s not in ("-h", "--help")}


@pytest.fixture
def options_of() -> Callable[[tuple[str, ...]], set[str]]:
    """The option strings (--frames, -o, ...) of one command, --help left out."""
    return _options


@pytest.fixture
def commands() -> list[tuple[str, ...]]:
    """Every runnable command: ('run',), ('bench', 'reasoner'), ('dds-profile', 'secure'), ..."""
    return list(leaf_commands())
