"""Files generated from the parameter specs: config/vehicle.yaml and docs/parameters.md.

The specs (edge_llm_ros/params/specs.py) are the one declaration of every parameter;
these files are written from them so that neither can disagree with what the nodes
declare. test/tools/test_params_files.py fails when a committed file is not what this
module writes. After changing a spec:

    scripts/env.sh edge-llm-ros params-files          # rewrite both
    scripts/env.sh edge-llm-ros params-files --check  # exit 1 if stale
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from edge_llm_ros.params.core import ParamSpec
from edge_llm_ros.params.specs import NODE_SPECS

REPO = Path(__file__).resolve().parents[2]
VEHICLE_YAML = REPO / "config" / "vehicle.yaml"
PARAMETERS_MD = REPO / "docs" / "parameters.md"

# The on-board nodes config/vehicle.yaml configures, in data-flow order.
VEHICLE_NODES = ("camera_detector", "lidar_detector", "scene_fusion", "reasoner",
                 "instruction_interpreter", "offload_manager")
# Other nodes' launch-time files: deliberate overrides only (test/params checks them).
DEPLOYMENT_FILES = ("simulator.yaml", "remote.yaml", "bag.yaml", "compute/cpu_2core.yaml",
                    "compute/gpu.yaml")

_GENERATED = "GENERATED from edge_llm_ros/params/specs.py by edge_llm_ros/tools/params_files.py"
_COMMENT_WIDTH = 92


def yaml_value(value: Any) -> str:
    """A parameter value as YAML that loads back with the same type (flow style)."""
    return json.dumps(value)


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e12 else f"{value:g}"


def describe_range(spec: ParamSpec) -> str:
    """'double, 0.1 .. 60' style: the type plus its range or choices."""
    parts = [spec.describe_type()]
    if spec.choices:
        parts.append(" | ".join(spec.choices))
    elif spec.min_value is not None or spec.max_value is not None:
        lo = "" if spec.min_value is None else _bound(spec.min_value)
        hi = "" if spec.max_value is None else _bound(spec.max_value)
        parts.append(f"{lo} .. {hi}")
    if spec.required:
        parts.append("required")
    return ", ".join(parts)


def _tree(specs: tuple[ParamSpec, ...]) -> dict[str, Any]:
    """Dotted names as nested groups, in declaration order (a group where first seen)."""
    root: dict[str, Any] = {}
    for spec in specs:
        node = root
        *groups, leaf = spec.name.split(".")
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = spec
    return root


def _yaml_lines(tree: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, item in tree.items():
        if isinstance(item, dict):
            lines.append(f"{pad}{key}:")
            lines += _yaml_lines(item, indent + 2)
            continue
        spec: ParamSpec = item
        text = f"{spec.description} [{describe_range(spec)}]"
        lines += textwrap.wrap(text, _COMMENT_WIDTH - indent, initial_indent=f"{pad}# ",
                               subsequent_indent=f"{pad}# ")
        if spec.required:
            lines.append(f"{pad}# {key}: (no default: set it per run)")
        elif spec.is_list and not spec.default:
            # rcl cannot type an empty YAML list: leave the node's typed default in force
            lines.append(f"{pad}# {key}: []")
        else:
            lines.append(f"{pad}{key}: {yaml_value(spec.default)}")
    return lines


def vehicle_yaml() -> str:
    """config/vehicle.yaml: every on-board node's parameters at their declared defaults."""
    lines = [
        f"# {_GENERATED}: do not edit;",
        "# change the spec and rerun `edge-llm-ros params-files`.",
        "# On-board nodes, every parameter at its declared default, with its description",
        "# and [type, range]. Deployment-specific values belong in a file passed after this",
        "# one (launch argument `config`, `--params-file`), holding only the overrides.",
    ]
    for kind in VEHICLE_NODES:
        lines += ["", f"/**/{kind}:", "  ros__parameters:"]
        lines += _yaml_lines(_tree(NODE_SPECS[kind]), 4)
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def parameters_md() -> str:
    """docs/parameters.md: one table per node (README links it)."""
    lines = [
        "# Node parameters",
        "",
        f"<!-- {_GENERATED}; do not edit. -->",
        "",
        "Every node declares exactly these (`ros2 param describe <node> <name>` shows the same",
        "text); parameter files may set only these, and a wrong type, a value out of range or",
        "a missing required value stops the node at start-up, naming it. `config/vehicle.yaml`",
        "lists the on-board nodes' parameters at these defaults; `config/simulator.yaml`,",
        "`config/remote.yaml` and `config/bag.yaml` hold only deliberate overrides.",
        "",
    ]
    for kind, specs in NODE_SPECS.items():
        lines += [f"## {kind}", "", "| Parameter | Type, range | Default | Description |",
                  "|---|---|---|---|"]
        for spec in specs:
            default = "*(required)*" if spec.required else f"`{yaml_value(spec.default)}`"
            lines.append(f"| `{spec.name}` | {_md_cell(describe_range(spec))} | "
                         f"{_md_cell(default)} | {_md_cell(spec.description)} |")
        lines.append("")
    return "\n".join(lines)


GENERATED_FILES = {VEHICLE_YAML: vehicle_yaml, PARAMETERS_MD: parameters_md}


def stale_files() -> list[Path]:
    """Generated files whose committed text is not what the specs give."""
    return [path for path, make in GENERATED_FILES.items()
            if not path.is_file() or path.read_text() != make()]


def update(check: bool = False) -> int:
    """Write the stale generated files (`edge-llm-ros params-files`); with check, write
    nothing and return 1 naming each stale file."""
    stale = stale_files()
    if check:
        for path in stale:
            print(f"{path.relative_to(REPO)} differs from the specs; run "
                  "edge-llm-ros params-files", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(GENERATED_FILES[path]())
        print(f"wrote {path.relative_to(REPO)}")
    return 0

