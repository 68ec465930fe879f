"""Static checks of launch/*.launch.py and config/*.yaml.

`launch` and `launch_ros` are not installable here (not on PyPI), so the launch files
are read with `ast`, never imported: the checks catch what would otherwise only fail
on a ROS machine at `ros2 launch` time (a node executable that is not installed, a
share file that does not exist, an undeclared or misspelt launch argument, an
argument passed to an include that ignores it) and what would never fail loudly at
all (a parameter file setting a parameter no node declares).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edge_llm_ros.params import (
    NODE_SPECS,
    ConfigError,
    launch_args,
    load_params_file,
    validate_params,
)
from edge_llm_ros.params.core import BUILTIN_PARAMETERS, ParamSpec
from edge_llm_ros.params.specs import COMMON

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "edge_llm_ros"
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
# Share directories launch files may refer to; CMakeLists.txt must install each.
SHARE_DIRS = ("config", "launch", "worlds")
# YAML files in config/ that are not ROS parameter files.
NON_PARAMETER_FILES = {"gz_bridge.yaml"}
PARAMETER_FILES = sorted(
    p for p in (REPO / "config").glob("*.yaml") if p.name not in NON_PARAMETER_FILES
)
# The on-board parameter file: launch files pass it first, before a node's own file.
VEHICLE_CONFIG = REPO / "config" / "vehicle.yaml"
COMMON_NAMES = frozenset(spec.name for spec in COMMON) | BUILTIN_PARAMETERS
# Nodes that load a model are lifecycle nodes (they have the `autostart` parameter).
MANAGED_KINDS = frozenset(k for k, specs in NODE_SPECS.items()
                          if any(spec.name == "autostart" for spec in specs))


# --- Reading a launch file -----------------------------------------------------------


@dataclass
class NodeRef:
    package: str | None
    executable: str | None
    name: str | None
    line: int
    action: str = "Node"  # Node or LifecycleNode
    call: ast.Call | None = None


@dataclass
class Include:
    target: str | None  # share-relative path, e.g. "launch/vehicle.launch.py"
    arguments: dict[str, ast.expr]
    line: int


@dataclass
class LaunchFileInfo:
    declared: dict[str, ast.Call] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    nodes: list[NodeRef] = field(default_factory=list)
    share_paths: list[tuple[str, int]] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    # Whatever the checks cannot resolve statically is a failure, not a silent pass.
    problems: list[str] = field(default_factory=list)


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _arg(call: ast.Call, position: int | None, keyword: str) -> ast.expr | None:
    """An argument given by keyword, or at `position` (None: keyword only)."""
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _literal_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_our_share(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and _call_name(node) in ("FindPackageShare", "get_package_share_directory")
        and _literal_str(_arg(node, 0, "package")) == PACKAGE
    )


def _is_other_package_share(location: ast.expr | None) -> bool:
    """A path joined onto the share directory of a package other than this one."""
    if not isinstance(location, ast.Call):
        return False
    parts = _share_join_parts(location)
    if not parts or not isinstance(parts[0], ast.Call):
        return False
    first = parts[0]
    package = _literal_str(_arg(first, 0, "package"))
    return _call_name(first) in ("FindPackageShare", "get_package_share_directory") and (
        package is not None and package != PACKAGE
    )


def _share_join_parts(call: ast.Call) -> list[ast.expr] | None:
    """The parts of PathJoinSubstitution([...]) or os.path.join(...), else None."""
    name = _call_name(call)
    if name == "PathJoinSubstitution" and call.args and isinstance(call.args[0], ast.List):
        return list(call.args[0].elts)
    if name == "join" and isinstance(call.func, ast.Attribute):
        return list(call.args)
    return None


def _include_arguments(node: ast.expr | None, info: LaunchFileInfo) -> dict[str, ast.expr]:
    """launch_arguments written as {...}.items() or [(key, value), ...]."""
    if node is None:
        return {}
    pairs: list[tuple[ast.expr, ast.expr]] = []
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "items"
        and isinstance(node.func.value, ast.Dict)
    ):
        pairs = []
        for k, v in zip(node.func.value.keys, node.func.value.values, strict=True):
            if k is not None:
                pairs.append((k, v))
            elif isinstance(v, ast.Call) and _call_name(v) == "forward_arguments":
                # **forward_arguments(...): each name passes LaunchConfiguration(name) on.
                pairs += [(ast.Constant(n, lineno=v.lineno),
                           ast.parse(f"LaunchConfiguration({n!r})", mode="eval").body)
                          for n in _shared_names(v, info)]
            else:
                info.problems.append(
                    f"line {v.lineno}: only **forward_arguments(...) may be unpacked into "
                    "launch_arguments")
    elif isinstance(node, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Tuple) and len(e.elts) == 2 for e in node.elts
    ):
        pairs = [(e.elts[0], e.elts[1]) for e in node.elts]  # type: ignore[attr-defined]
    else:
        info.problems.append(
            f"line {node.lineno}: launch_arguments must be a literal {{...}}.items() or "
            "list of pairs to be checked"
        )
    arguments: dict[str, ast.expr] = {}
    for key, value in pairs:
        name = _literal_str(key)
        if name is None:
            info.problems.append(f"line {key.lineno}: include argument name is not a literal")
        else:
            arguments[name] = value
    return arguments


def _shared_names(call: ast.Call, info: LaunchFileInfo) -> list[str]:
    """Argument names given to declare_shared_arguments / forward_arguments: literals,
    or *NAME of a tuple in edge_llm_ros.params.launch_args."""
    names: list[str] = []
    for arg in call.args:
        if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
            value = getattr(launch_args, arg.value.id, None)
            if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                names.extend(value)
                continue
        literal = _literal_str(arg)
        if literal is None:
            info.problems.append(
                f"line {call.lineno}: arguments of {_call_name(call)}() must be string literals "
                "or *TUPLE from edge_llm_ros.params.launch_args")
        else:
            names.append(literal)
    return names


def _shared_declaration_source(name: str) -> str:
    """The DeclareLaunchArgument that declare_shared_arguments builds, as source."""
    argument = launch_args.SHARED_ARGUMENTS[name]
    default = repr(argument.default)
    if argument.share_default:
        parts = ", ".join(repr(p) for p in argument.share_default)
        default = f"PathJoinSubstitution([FindPackageShare({PACKAGE!r}), {parts}])"
    return (f"DeclareLaunchArgument({name!r}, default_value={default}, "
            f"description={argument.description!r})")


def _declare_shared(call: ast.Call, info: LaunchFileInfo) -> None:
    for name in _shared_names(call, info):
        if name not in launch_args.SHARED_ARGUMENTS:
            info.problems.append(f"line {call.lineno}: '{name}' is not in SHARED_ARGUMENTS")
            continue
        shared = analyse_launch_source(_shared_declaration_source(name))
        for declared_name, declaration in shared.declared.items():
            ast.increment_lineno(declaration, call.lineno - 1)
            info.declared[declared_name] = declaration
        info.share_paths += [(path, call.lineno) for path, _ in shared.share_paths]
        info.problems += shared.problems


def analyse_launch_source(source: str) -> LaunchFileInfo:
    """Everything the checks need from one launch file's source."""
    tree = ast.parse(source)
    info = LaunchFileInfo()
    share_calls_joined: set[int] = set()
    share_calls: list[ast.Call] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and (
            isinstance(node.value, ast.Attribute) and node.value.attr == "launch_configurations"
        ):
            key = _literal_str(node.slice)
            if key is None:
                info.problems.append(f"line {node.lineno}: launch_configurations[...] not literal")
            else:
                info.used.add(key)
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name == "declare_shared_arguments":
            _declare_shared(node, info)
        elif name == "forward_arguments":
            info.used.update(_shared_names(node, info))
        if name == "DeclareLaunchArgument":
            arg_name = _literal_str(_arg(node, 0, "name"))
            if arg_name is None:
                info.problems.append(f"line {node.lineno}: launch argument name is not a literal")
            else:
                info.declared[arg_name] = node
        elif name == "LaunchConfiguration":
            arg_name = _literal_str(_arg(node, 0, "variable_name"))
            if arg_name is None:
                info.problems.append(f"line {node.lineno}: LaunchConfiguration name not literal")
            else:
                info.used.add(arg_name)
        elif name in ("Node", "LifecycleNode"):
            info.nodes.append(
                NodeRef(
                    package=_literal_str(_arg(node, None, "package")),
                    executable=_literal_str(_arg(node, None, "executable")),
                    name=_literal_str(_arg(node, None, "name")),
                    line=node.lineno,
                    action=name,
                    call=node,
                )
            )
        elif name == "IncludeLaunchDescription":
            source_call = _arg(node, 0, "launch_description_source")
            location = None
            if isinstance(source_call, ast.Call) and source_call.args:
                location = source_call.args[0]
            if _is_other_package_share(location):
                continue  # another package's launch file: its arguments are its business
            target = None
            if isinstance(location, ast.Call):
                target = _resolve_share_path(location, info, share_calls_joined)
            if target is None:
                info.problems.append(
                    f"line {node.lineno}: include target is not "
                    f"PathJoinSubstitution([FindPackageShare('{PACKAGE}'), 'launch', ...])"
                )
            info.includes.append(
                Include(
                    target=target,
                    arguments=_include_arguments(_arg(node, None, "launch_arguments"), info),
                    line=node.lineno,
                )
            )
        if _is_our_share(node):
            share_calls.append(node)
        parts = _share_join_parts(node)
        if parts and _is_our_share(parts[0]):
            path = _resolve_share_path(node, info, share_calls_joined)
            if path is not None:
                info.share_paths.append((path, node.lineno))
    for call in share_calls:
        if id(call) not in share_calls_joined:
            info.problems.append(
                f"line {call.lineno}: use the package share only as the first part of "
                "PathJoinSubstitution([...]) / os.path.join(...) with literal parts, so the "
                "file it names can be checked"
            )
    return info


def _resolve_share_path(call: ast.Call, info: LaunchFileInfo, joined: set[int]) -> str | None:
    parts = _share_join_parts(call)
    if not parts or not _is_our_share(parts[0]):
        return None
    joined.add(id(parts[0]))
    rest = [_literal_str(p) for p in parts[1:]]
    if not rest or any(p is None for p in rest):
        info.problems.append(f"line {call.lineno}: share path parts must be string literals")
        return None
    return "/".join(rest)  # type: ignore[arg-type]


def _argument_default(call: ast.Call) -> ast.expr | None:
    return _arg(call, 1, "default_value")


def _argument_choices(call: ast.Call) -> list[str] | None:
    node = _arg(call, None, "choices")
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal_str(e) for e in node.elts]
        if all(v is not None for v in values):
            return values  # type: ignore[return-value]
    return None


# --- Checking a launch file ----------------------------------------------------------


def installed_share_dirs() -> set[str]:
    """Directories CMakeLists.txt installs to share/${PROJECT_NAME} as themselves."""
    text = (REPO / "CMakeLists.txt").read_text()
    text = re.sub(r"#[^\n]*", "", text)
    dirs: set[str] = set()
    for body in re.findall(r"install\s*\((.*?)\)", text, flags=re.DOTALL):
        tokens = body.split()
        if not tokens or tokens[0] != "DIRECTORY" or "DESTINATION" not in tokens:
            continue
        destination = tokens[tokens.index("DESTINATION") + 1]
        if destination != "share/${PROJECT_NAME}":
            continue
        # "config/" would install the directory's contents, not config/ itself.
        dirs.update(t for t in tokens[1 : tokens.index("DESTINATION")] if not t.endswith("/"))
    return dirs


def _lifecycle_problems(node: NodeRef) -> list[str]:
    """A managed node is started as launch_ros LifecycleNode, which drives its
    transitions (autostart=...), with the node's own autostart parameter off."""
    where = f"line {node.line}: '{node.executable}'"
    if node.action != "LifecycleNode" or node.call is None:
        return [f"{where} loads a model: start it as LifecycleNode"]
    problems = []
    if _arg(node.call, None, "autostart") is None:
        problems.append(f"{where}: LifecycleNode needs autostart= (the launch argument)")
    if _arg(node.call, None, "namespace") is None:
        problems.append(f"{where}: LifecycleNode needs namespace= (required on Jazzy)")
    parameters = _arg(node.call, None, "parameters")
    given = [e.id for e in getattr(parameters, "elts", []) if isinstance(e, ast.Name)]
    if "LAUNCH_DRIVES_LIFECYCLE" not in given:
        problems.append(f"{where}: parameters must end with LAUNCH_DRIVES_LIFECYCLE, so the "
                        "node does not bring itself up while launch does")
    return problems


def check_launch_source(source: str, repo: Path = REPO) -> list[str]:
    """Every problem in one launch file's source, as readable lines."""
    info = analyse_launch_source(source)
    errors = list(info.problems)

    for arg_name, call in info.declared.items():
        description = _literal_str(_arg(call, 2, "description"))
        if not description or not description.strip():
            errors.append(f"launch argument '{arg_name}' has no description")
        choices = _argument_choices(call)
        default = _literal_str(_argument_default(call))
        if choices is not None and default is not None and default not in choices:
            errors.append(f"launch argument '{arg_name}': default {default!r} not in {choices}")
    for arg_name in sorted(info.used - set(info.declared)):
        errors.append(f"LaunchConfiguration('{arg_name}') is used but never declared")
    for arg_name in sorted(set(info.declared) - info.used):
        errors.append(f"launch argument '{arg_name}' is declared but nothing uses it")

    for node in info.nodes:
        if node.package is None:
            errors.append(f"line {node.line}: Node package is not a literal")
            continue
        if node.package != PACKAGE:
            continue
        if node.executable is None:
            errors.append(f"line {node.line}: {PACKAGE} Node executable is not a literal")
            continue
        if not (repo / "scripts" / "nodes" / node.executable).is_file():
            errors.append(
                f"line {node.line}: executable '{node.executable}' is not in scripts/nodes/"
            )
        if node.executable not in NODE_SPECS:
            errors.append(f"line {node.line}: '{node.executable}' has no entry in NODE_SPECS")
        if node.executable in MANAGED_KINDS:
            errors += _lifecycle_problems(node)
        elif node.action == "LifecycleNode":
            errors.append(f"line {node.line}: '{node.executable}' is not a lifecycle node; "
                          "start it as Node")
        # Parameter files address nodes by name (/**/<name>) and the checks below
        # validate that section against NODE_SPECS[<name>]: name and kind must agree.
        if node.name != node.executable:
            errors.append(
                f"line {node.line}: node '{node.executable}' must be named after its kind "
                f"(name={node.name!r})"
            )

    installed = installed_share_dirs() if (repo / "CMakeLists.txt").is_file() else set()
    for path, line in info.share_paths:
        if not (repo / path).is_file():
            errors.append(f"line {line}: share file '{path}' does not exist in the repository")
        top = path.split("/", 1)[0]
        if top not in SHARE_DIRS or top not in installed:
            errors.append(f"line {line}: '{path}' is not under a directory CMake installs")

    for include in info.includes:
        if include.target is None:
            continue
        target = repo / include.target
        if not target.is_file():
            errors.append(f"line {include.line}: included '{include.target}' does not exist")
            continue
        target_info = analyse_launch_source(target.read_text())
        for arg_name, value in include.arguments.items():
            if arg_name not in target_info.declared:
                errors.append(
                    f"line {include.line}: '{include.target}' does not declare '{arg_name}'"
                )
                continue
            choices = _argument_choices(target_info.declared[arg_name])
            literal = _literal_str(value)
            if choices is not None and literal is not None and literal not in choices:
                errors.append(
                    f"line {include.line}: {arg_name}:={literal!r} is not one of {choices}"
                )
        for arg_name, call in target_info.declared.items():
            if _argument_default(call) is None and arg_name not in include.arguments:
                errors.append(
                    f"line {include.line}: required argument '{arg_name}' of "
                    f"'{include.target}' is not passed"
                )
    return errors


def test_launch_files_exist() -> None:
    """The four launch files the README and DESIGN name are all there."""
    names = {p.name for p in LAUNCH_FILES}
    assert {
        "vehicle.launch.py",
        "replay.launch.py",
        "gazebo.launch.py",
        "simulation.launch.py",
        "remote.launch.py",
    } <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_is_consistent(path: Path) -> None:
    """Nodes, share files, arguments and includes of one launch file all resolve."""
    errors = check_launch_source(path.read_text())
    assert not errors, f"{path.name}:\n  " + "\n  ".join(errors)


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_starts_only_known_executables(path: Path) -> None:
    """Every node executable of this package a launch file names is one we install."""
    info = analyse_launch_source(path.read_text())
    ours = [n.executable for n in info.nodes if n.package == PACKAGE]
    installed = {p.name for p in (REPO / "scripts" / "nodes").glob("*")}
    assert set(ours) <= installed, f"{path.name}: {sorted(set(ours) - installed)} not installed"


BROKEN_LAUNCH_SOURCES = {
    "undeclared": (
        "LaunchDescription([Node(package='edge_llm_ros', executable='simulator', "
        "name='simulator', parameters=[LaunchConfiguration('confg')])])",
        "LaunchConfiguration('confg') is used but never declared",
    ),
    "unused": (
        "DeclareLaunchArgument('rate', default_value='', description='x')",
        "launch argument 'rate' is declared but nothing uses it",
    ),
    "no_description": (
        "DeclareLaunchArgument('rate', default_value='1')\nLaunchConfiguration('rate')",
        "launch argument 'rate' has no description",
    ),
    "unknown_executable": (
        "Node(package='edge_llm_ros', executable='no_such_node', name='no_such_node')",
        "executable 'no_such_node' is not in scripts/nodes/",
    ),
    "misnamed_node": (
        "Node(package='edge_llm_ros', executable='simulator', name='sim')",
        "node 'simulator' must be named after its kind",
    ),
    "missing_share_file": (
        "PathJoinSubstitution([FindPackageShare('edge_llm_ros'), 'config', 'nope.yaml'])",
        "share file 'config/nope.yaml' does not exist",
    ),
    "dynamic_share_path": (
        "share = FindPackageShare('edge_llm_ros')\nPathJoinSubstitution([share, 'config'])",
        "use the package share only as the first part",
    ),
    "include_unknown_argument": (
        "IncludeLaunchDescription(PythonLaunchDescriptionSource(PathJoinSubstitution("
        "[FindPackageShare('edge_llm_ros'), 'launch', 'vehicle.launch.py'])), "
        "launch_arguments={'sensor_sorce': 'simulator'}.items())",
        "'launch/vehicle.launch.py' does not declare 'sensor_sorce'",
    ),
    "include_our_file_dynamically": (
        "IncludeLaunchDescription(PythonLaunchDescriptionSource(some_path))",
        "include target is not",
    ),
    "managed_node_as_plain_node": (
        "Node(package='edge_llm_ros', executable='reasoner', name='reasoner')",
        "loads a model: start it as LifecycleNode",
    ),
    "lifecycle_node_without_autostart": (
        "LifecycleNode(package='edge_llm_ros', executable='reasoner', name='reasoner', "
        "namespace='', parameters=[LAUNCH_DRIVES_LIFECYCLE])",
        "LifecycleNode needs autostart=",
    ),
    "lifecycle_node_starting_itself": (
        "LifecycleNode(package='edge_llm_ros', executable='reasoner', name='reasoner', "
        "namespace='', autostart=True, parameters=[config])",
        "parameters must end with LAUNCH_DRIVES_LIFECYCLE",
    ),
    "plain_node_as_lifecycle_node": (
        "LifecycleNode(package='edge_llm_ros', executable='scene_fusion', name='scene_fusion', "
        "namespace='', autostart=True)",
        "'scene_fusion' is not a lifecycle node",
    ),
    "unknown_shared_argument": (
        "declare_shared_arguments('confg')",
        "'confg' is not in SHARED_ARGUMENTS",
    ),
    "forwarded_but_not_declared": (
        "IncludeLaunchDescription(PythonLaunchDescriptionSource(PathJoinSubstitution("
        "[FindPackageShare('edge_llm_ros'), 'launch', 'vehicle.launch.py'])), "
        "launch_arguments={**forward_arguments('autostart')}.items())",
        "LaunchConfiguration('autostart') is used but never declared",
    ),
    "include_bad_choice": (
        "IncludeLaunchDescription(PythonLaunchDescriptionSource(PathJoinSubstitution("
        "[FindPackageShare('edge_llm_ros'), 'launch', 'vehicle.launch.py'])), "
        "launch_arguments={'sensor_source': 'gazebo'}.items())",
        "sensor_source:='gazebo' is not one of",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_LAUNCH_SOURCES))
def test_launch_checker_catches_mistakes(case: str) -> None:
    """The launch checks can fail: each deliberate mistake is reported by name."""
    source, expected = BROKEN_LAUNCH_SOURCES[case]
    errors = check_launch_source(source)
    assert any(expected in e for e in errors), errors


def test_launch_checker_leaves_other_packages_includes_alone() -> None:
    """Including another package's launch file (e.g. ros_gz_sim's) is not an error here."""
    source = (
        "IncludeLaunchDescription(PythonLaunchDescriptionSource(PathJoinSubstitution("
        "[FindPackageShare('ros_gz_sim'), 'launch', 'gz_sim.launch.py'])), "
        "launch_arguments={'gz_args': '-r road.sdf'}.items())"
    )
    assert check_launch_source(source) == []


def switched_nodes(source: str) -> dict[str, list[NodeRef]]:
    """{launch argument: the nodes started under `if as_bool(argument, ...):`}: the optional
    nodes a true/false argument switches on (record:=true -> bag_recorder, ...)."""
    found: dict[str, list[NodeRef]] = {}
    for node in ast.walk(ast.parse(source)):
        test = getattr(node, "test", None)
        if not (isinstance(node, ast.If) and isinstance(test, ast.Call)
                and _call_name(test) == "as_bool"):
            continue
        argument = _literal_str(_arg(test, 0, "argument"))
        body = analyse_launch_source(ast.unparse(ast.Module(body=node.body, type_ignores=[])))
        if argument is not None:
            found.setdefault(argument, []).extend(body.nodes)
    return found


def test_foxglove_argument_starts_foxglove_viz_from_the_config() -> None:
    """foxglove:=true (default false, as `edge-llm-ros sim` without --foxglove) adds the
    foxglove_viz node to the pipeline, with the parameter file every on-board node gets, the
    way record:=true adds bag_recorder; the files that include vehicle.launch.py pass it on."""
    vehicle_source = (REPO / "launch" / "vehicle.launch.py").read_text()
    vehicle = analyse_launch_source(vehicle_source)
    default = _literal_str(_argument_default(vehicle.declared["foxglove"]))
    assert default is not None and launch_args.as_bool("foxglove", default) is False
    switched = switched_nodes(vehicle_source)
    assert [n.executable for n in switched["record"]] == ["bag_recorder"]  # not vacuous
    [viz] = switched["foxglove"]
    assert (viz.package, viz.executable, viz.name, viz.action) == (
        PACKAGE, "foxglove_viz", "foxglove_viz", "Node")
    assert viz.call is not None
    parameters = _arg(viz.call, None, "parameters")
    assert [ast.unparse(e) for e in getattr(parameters, "elts", [])] == [
        "config", "viewer_extrinsics(config)"]
    assert "foxglove" in launch_args.PIPELINE_ARGUMENTS
    for name in ("simulation.launch.py", "replay.launch.py", "gazebo.launch.py"):
        info = analyse_launch_source((REPO / "launch" / name).read_text())
        assert "foxglove" in info.declared, name
        [include] = [i for i in info.includes if i.target == "launch/vehicle.launch.py"]
        assert ast.unparse(include.arguments["foxglove"]) == "LaunchConfiguration('foxglove')"


def test_the_viewer_takes_scene_fusions_calibration(tmp_path: Path) -> None:
    """A vehicle's calibration is written once, in scene_fusion's section; foxglove:=true
    gives foxglove_viz the same extrinsics (before: the simulator's defaults)."""
    from edge_llm_ros.params import default_of

    calibration = [1.0, 0.0, 0.0, 0.1, 0.0, 1.0, 0.0, 0.2, 0.0, 0.0, 1.0, 0.3, 0.0, 0.0, 0.0,
                   1.0]
    config = tmp_path / "vehicle.yaml"
    config.write_text("/**/scene_fusion:\n  ros__parameters:\n"
                      f"    camera_from_lidar: {calibration}\n")
    got = launch_args.viewer_extrinsics(str(config))
    assert got["camera_from_lidar"] == calibration
    assert got["base_from_lidar"] == default_of("scene_fusion", "base_from_lidar")
    assert launch_args.viewer_extrinsics("")["camera_from_lidar"] == default_of(
        "scene_fusion", "camera_from_lidar")


def test_a_foxglove_viz_section_in_the_config_is_checked(tmp_path: Path) -> None:
    """What foxglove:=true reads from `config`: the node's own parameters, range-checked."""
    good = tmp_path / "viz.yaml"
    good.write_text("/**/foxglove_viz:\n  ros__parameters:\n    host: 0.0.0.0\n"
                    "    port: 8770\n")
    check_parameter_file(good)
    bad = tmp_path / "bad_viz.yaml"
    bad.write_text("/**/foxglove_viz:\n  ros__parameters:\n    port: 70000\n")
    with pytest.raises(ConfigError, match="above the maximum 65535"):
        check_parameter_file(bad)


def test_cmake_installs_launch_config_and_worlds() -> None:
    """`ros2 launch edge_llm_ros X.launch.py` finds launch files, configs and worlds only
    when they are installed as share/edge_llm_ros/{launch,config,worlds}."""
    assert set(SHARE_DIRS) <= installed_share_dirs()


def test_cmake_installs_node_scripts_where_launch_ros_looks() -> None:
    """launch_ros runs `executable` from lib/<package>/; the node scripts must go there."""
    text = (REPO / "CMakeLists.txt").read_text()
    assert re.search(r'file\s*\(\s*GLOB\s+(\w+)\s+"scripts/nodes/\*"\s*\)', text)
    programs = r"install\s*\(\s*PROGRAMS\s+\$\{\w+\}\s+DESTINATION\s+lib/\$\{PROJECT_NAME\}"
    assert re.search(programs, text)


# --- Parameter files ----------------------------------------------------------------------


def _placeholder(spec: ParamSpec) -> Any:
    """A valid stand-in for a required parameter: launch files or users supply it."""
    kind = spec.element_type
    if kind is str:
        return "placeholder"
    if kind is bool:
        return False
    low = spec.min_value if spec.min_value is not None else 0
    return kind(low)


def _node_kind(node_key: str, where: str) -> str | None:
    """The node kind a parameter-file key addresses; None for the `/**` wildcard."""
    if node_key in ("/**", "**"):
        return None
    kind = node_key.rsplit("/", 1)[-1]
    if "*" in kind or kind not in NODE_SPECS:
        raise ConfigError(
            f"{where}: section '{node_key}' addresses no known node; known: "
            f"{', '.join(sorted(NODE_SPECS))} (as /**/<node>), or /** for every node"
        )
    return kind


def _validate_with_placeholders(kind: str, params: dict[str, Any]) -> None:
    specs = NODE_SPECS[kind]
    complete = dict(params)
    for spec in specs:
        if spec.required and complete.get(spec.name) is None:
            complete[spec.name] = _placeholder(spec)
    validate_params(kind, specs, complete)


def check_parameter_file(path: Path) -> None:
    """Raise ConfigError for anything in a parameter file no node would accept.

    Sections are `/**` (only the COMMON parameters every node declares) or a node
    (`/**/<kind>`), whose parameters, merged over `/**` the way rcl merges them, must
    validate against NODE_SPECS[<kind>]: unknown names, wrong types and values out of
    range all fail. Required parameters may be left to the launch files.
    """
    where = f"parameter file '{path.name}'"
    sections = load_params_file(path)
    wildcard: dict[str, Any] = {}
    for key in ("/**", "**"):
        wildcard.update(sections.get(key, {}))
    extra = sorted(set(wildcard) - COMMON_NAMES)
    if extra:
        raise ConfigError(
            f"{where}: '/**' applies to every node, so it may only set parameters every "
            f"node has ({', '.join(sorted(COMMON_NAMES))}); not {', '.join(extra)}"
        )
    for kind in NODE_SPECS:
        _validate_with_placeholders(kind, wildcard)
    for key, params in sections.items():
        kind = _node_kind(key, where)
        if kind is not None:
            _validate_with_placeholders(kind, {**wildcard, **params})


def test_parameter_files_found() -> None:
    """The parameter files the launch files pass by default are all there."""
    assert {p.name for p in PARAMETER_FILES} >= {"vehicle.yaml", "simulator.yaml", "bag.yaml",
                                                 "remote.yaml"}


@pytest.mark.parametrize("path", PARAMETER_FILES, ids=lambda p: p.name)
def test_parameter_file_validates(path: Path) -> None:
    """Every parameter in config/*.yaml is one its node declares, in type and range."""
    check_parameter_file(path)


def test_parameter_files_validate_together() -> None:
    """What a node gets at launch: vehicle.yaml first, then the other files, merged."""
    ordered = [VEHICLE_CONFIG] + [p for p in PARAMETER_FILES if p != VEHICLE_CONFIG]
    loaded = [load_params_file(p) for p in ordered]
    for kind in NODE_SPECS:
        merged: dict[str, Any] = {}
        for sections in loaded:
            for key, params in sections.items():
                if key in ("/**", "**") or key.rsplit("/", 1)[-1] == kind:
                    merged.update(params)
        _validate_with_placeholders(kind, merged)


BROKEN_PARAMETER_FILES = {
    "unknown_parameter": (
        "/**/simulator:\n  ros__parameters:\n    seed: 1\n    sede: 2\n",
        "unknown parameter(s) 'sede'",
    ),
    "unknown_nested_parameter": (
        "/**/simulator:\n  ros__parameters:\n    camera:\n      widht_px: 640\n",
        "'camera.widht_px'",
    ),
    "wrong_type": (
        "/**/bag_replay:\n  ros__parameters:\n    rate: fast\n",
        "parameter 'rate': expected double",
    ),
    "out_of_range": (
        "/**/simulator:\n  ros__parameters:\n    rate_hz: 0.0\n",
        "below the minimum",
    ),
    "unknown_node": (
        "/**/simulater:\n  ros__parameters:\n    seed: 1\n",
        "section '/**/simulater' addresses no known node",
    ),
    "node_parameter_in_wildcard": (
        "/**:\n  ros__parameters:\n    seed: 1\n",
        "may only set parameters every node has",
    ),
    "bad_wildcard_value": (
        "/**:\n  ros__parameters:\n    diagnostics_period_s: -1.0\n",
        "below the minimum",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_PARAMETER_FILES))
def test_parameter_checker_catches_mistakes(case: str, tmp_path: Path) -> None:
    """The parameter-file check can fail: a deliberately broken file is rejected by name."""
    text, expected = BROKEN_PARAMETER_FILES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as excinfo:
        check_parameter_file(path)
    assert expected in str(excinfo.value)


# --- Launch arguments that set parameters --------------------------------------------
#
# A launch argument that sets a node parameter (through params.launch_args.typed_overrides)
# must default to "" (the parameter file's value stays in force) or to the declared default:
# any other default is a second declaration that drifts.


def parameter_arguments(source: str) -> dict[str, tuple[str, str]]:
    """{launch argument: (node kind, parameter)} from `typed_overrides(kind, {...})` calls."""
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and _call_name(node) == "typed_overrides"):
            continue
        kind = _literal_str(_arg(node, 0, "node_kind"))
        values = _arg(node, 1, "values")
        if kind is None or not isinstance(values, ast.Dict):
            continue
        for key, value in zip(values.keys, values.values, strict=True):
            param = _literal_str(key) if key is not None else None
            if param is not None and isinstance(value, ast.Tuple) and value.elts:
                argument = _literal_str(value.elts[0])
                if argument is not None:
                    found[argument] = (kind, param)
    return found


def _drifted(argument: str, kind: str, param: str, text: str) -> str | None:
    from edge_llm_ros.params.launch_args import typed_overrides

    try:
        typed = typed_overrides(kind, {param: (argument, text)})
    except (ConfigError, KeyError) as exc:
        return f"argument '{argument}' default {text!r}: {exc}"
    default = next(s.default for s in NODE_SPECS[kind] if s.name == param)
    if typed and typed[param] != default:
        return (f"argument '{argument}' defaults to {text!r}, but {kind}.{param} is declared "
                f"with default {default!r}: use \"\" (keep the parameter file's value)")
    return None


def check_parameter_argument_defaults(sources: dict[str, str]) -> list[str]:
    """Problems with defaults of parameter-setting arguments, in the declaring file and in
    literal values other files pass to it through an include ({share path: source})."""
    errors: list[str] = []
    by_file = {name: parameter_arguments(src) for name, src in sources.items()}
    for name, source in sources.items():
        info = analyse_launch_source(source)
        for argument, call in info.declared.items():
            if argument in by_file[name]:
                default = _literal_str(_argument_default(call))
                if default is not None:
                    problem = _drifted(argument, *by_file[name][argument], default)
                    if problem:
                        errors.append(f"{name}: {problem}")
        for include in info.includes:
            targets = by_file.get(include.target or "", {})
            for argument, value in include.arguments.items():
                text = _literal_str(value)
                if argument in targets and text is not None:
                    problem = _drifted(argument, *targets[argument], text)
                    if problem:
                        errors.append(f"{name} -> {include.target}: {problem}")
    return errors


def test_parameter_arguments_found() -> None:
    """The check sees the arguments that set parameters (it is not vacuous)."""
    vehicle = parameter_arguments((REPO / "launch" / "vehicle.launch.py").read_text())
    assert vehicle.get("reasoner_backend") == ("reasoner", "model.backend")


def test_parameter_argument_defaults_are_empty_or_the_declared_default() -> None:
    sources = {f"launch/{p.name}": p.read_text() for p in LAUNCH_FILES}
    errors = check_parameter_argument_defaults(sources)
    assert not errors, "\n".join(errors)


def test_a_drifted_argument_default_is_named() -> None:
    source = (
        "overrides = typed_overrides('reasoner', {'deadline_ms': ('deadline', d)})\n"
        "DeclareLaunchArgument('deadline', default_value='100.0')\n"
    )
    errors = check_parameter_argument_defaults({"launch/x.launch.py": source})
    assert len(errors) == 1 and "reasoner.deadline_ms is declared with default 150.0" in errors[0]
    same = source.replace("'100.0'", "'150.0'")
    assert check_parameter_argument_defaults({"launch/x.launch.py": same}) == []
