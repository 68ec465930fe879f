"""The layout is the architecture: what a vehicle imports never imports what only a
developer runs, and rclpy stays in the thin ROS shell."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edge_llm_ros"
TOOLS = PACKAGE / "tools"
NODES = PACKAGE / "nodes"


def _imports(path: Path) -> set[str]:
    """Every absolute module a file imports, at any depth (lazy imports count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _runtime_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if TOOLS not in p.parents]


def test_runtime_modules_never_import_the_tools() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in _imports(path)
                                               if m.startswith("edge_llm_ros.tools"))
        for path in _runtime_files()
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders


def test_rclpy_and_messages_only_in_the_ros_shell() -> None:
    shells = (NODES, TOOLS / "nodes", TOOLS / "cli")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if any(shell == path.parent or shell in path.parents for shell in shells):
            continue
        ros = [m for m in _imports(path)
               if m.split(".")[0] in ("rclpy", "rcl_interfaces", "std_msgs", "sensor_msgs")
               or m.startswith("edge_llm_ros.msg")]
        if ros:
            offenders.append(f"{path.relative_to(PACKAGE)}: {ros}")
    assert not offenders, offenders


def test_training_libraries_stay_out_of_the_vehicle_process() -> None:
    """Importing every on-board node loads no tool module and no training library
    (transformers, peft, accelerate), so a vehicle install can leave them out."""
    code = (
        "import sys, importlib\n"
        "from edge_llm_ros.nodes.registry import ONBOARD_NODES, node_class\n"
        "for kind in ONBOARD_NODES: node_class(kind)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('edge_llm_ros.tools')"
        " or m.split('.')[0] in ('transformers', 'peft', 'accelerate'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


SHARED_NODE_MODULES = {"base", "convert", "registry", "msgtypes", "link_qos"}


def test_node_modules_share_only_the_shell_helpers() -> None:
    """A node module never imports another node (conversions live in nodes/convert.py),
    so each node can change, load and be tested alone."""
    node_files = [p for p in NODES.glob("*.py") if p.stem != "__init__"]
    node_files += [p for p in (TOOLS / "nodes").glob("*.py") if p.stem != "__init__"]
    offenders = {}
    for path in node_files:
        shared = {m for m in _imports(path) if m.startswith("edge_llm_ros.nodes.")}
        bad = sorted(m for m in shared if m.rsplit(".", 1)[1] not in SHARED_NODE_MODULES)
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = bad
    assert not offenders, offenders


def test_node_modules_name_messages_as_msg_attributes() -> None:
    """`msg.SceneSummary` is the message, `SceneSummary` the record (edge_llm_ros.types):
    importing message classes by name would shadow the records."""
    offenders = []
    for path in list(NODES.glob("*.py")) + list((TOOLS / "nodes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "edge_llm_ros.msg":
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, offenders
