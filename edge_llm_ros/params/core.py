"""Parameter specs and validation, free of rclpy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ParamValue = bool | int | float | str | list[str] | list[int] | list[float]

_TYPE_NAMES = {bool: "bool", int: "integer", float: "double", str: "string"}


class ConfigError(ValueError):
    """A parameter file or value is wrong; the message names what and where."""


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: its type comes from the default.

    `default=None` with `value_type` set marks a required parameter: the node
    refuses to start without it. List parameters give a list default (possibly
    empty) and `value_type` for the element type.
    """

    name: str
    default: ParamValue | None
    description: str
    value_type: type | None = None
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = True

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def is_list(self) -> bool:
        return isinstance(self.default, list)

    @property
    def element_type(self) -> type:
        if self.is_list:
            if self.value_type is None:
                raise ValueError(f"list parameter {self.name!r} needs value_type")
            return self.value_type
        if self.default is None:
            if self.value_type is None:
                raise ValueError(f"required parameter {self.name!r} needs value_type")
            return self.value_type
        return type(self.default)

    def describe_type(self) -> str:
        name = _TYPE_NAMES[self.element_type]
        return f"{name} array" if self.is_list else name


def _coerce_scalar(spec: ParamSpec, where: str, value: Any) -> bool | int | float | str:
    expected = spec.element_type
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is bool and isinstance(value, bool):
        return value
    if expected is int and is_number and isinstance(value, int):
        return value
    if expected is float and is_number:
        if math.isnan(value):
            raise ConfigError(f"{where}: NaN is not a valid value")
        return float(value)
    if expected is str and isinstance(value, str):
        return value
    raise ConfigError(
        f"{where}: expected {_TYPE_NAMES[expected]}, got {type(value).__name__} {value!r}"
    )


def _check_range(spec: ParamSpec, where: str, value: bool | int | float | str) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.min_value is not None and value < spec.min_value:
            raise ConfigError(f"{where}: {value} is below the minimum {spec.min_value}")
        if spec.max_value is not None and value > spec.max_value:
            raise ConfigError(f"{where}: {value} is above the maximum {spec.max_value}")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(spec.choices)}")


def coerce_value(spec: ParamSpec, value: Any, node_name: str) -> ParamValue:
    """Check one value against its spec; return it in the spec's type."""
    where = f"node '{node_name}': parameter '{spec.name}'"
    if spec.is_list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list of {spec.describe_type()}, got {value!r}")
        items = [_coerce_scalar(spec, f"{where}[{i}]", v) for i, v in enumerate(value)]
        for i, item in enumerate(items):
            _check_range(spec, f"{where}[{i}]", item)
        return items  # type: ignore[return-value]
    scalar = _coerce_scalar(spec, where, value)
    _check_range(spec, where, scalar)
    return scalar


# Parameters every rclpy node has whether or not it declares them.
BUILTIN_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})


def validate_params(
    node_name: str, specs: Sequence[ParamSpec], overrides: Mapping[str, Any]
) -> dict[str, ParamValue]:
    """Full parameter set of a node: defaults, overridden, checked.

    Raises ConfigError naming the parameter for an unknown name, a wrong type, a
    value out of range, or a required parameter left unset.
    """
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted(set(overrides) - set(by_name) - BUILTIN_PARAMETERS)
    if unknown:
        raise ConfigError(
            f"node '{node_name}': unknown parameter(s) {', '.join(repr(u) for u in unknown)}; "
            f"known: {', '.join(sorted(by_name))}"
        )
    result: dict[str, ParamValue] = {}
    for spec in specs:
        if spec.name in overrides and overrides[spec.name] is not None:
            result[spec.name] = coerce_value(spec, overrides[spec.name], node_name)
        elif spec.required:
            raise ConfigError(
                f"node '{node_name}': required parameter '{spec.name}' ({spec.describe_type()}) "
                f"is not set: {spec.description}"
            )
        else:
            default = spec.default
            result[spec.name] = list(default) if isinstance(default, list) else default  # type: ignore[assignment]
    return result


def _flatten(prefix: str, tree: Mapping[str, Any], out: dict[str, Any], where: str) -> None:
    for key, value in tree.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: parameter names must be strings, got {key!r}")
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(f"{name}.", value, out, where)
        else:
            out[name] = value


def load_params_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a ROS 2 parameter file: {node name: {dotted parameter: value}}.

    Node keys keep their namespace form (`/ns/node`, `/**`) as written; use
    `node_params_from_file` to get what one node would receive.
    """
    path = Path(path)
    where = f"parameter file '{path}'"
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of node names, got {type(data).__name__}")
    nodes: dict[str, dict[str, Any]] = {}
    for node_key, section in data.items():
        if not isinstance(section, Mapping) or set(section) != {"ros__parameters"}:
            raise ConfigError(
                f"{where}: node '{node_key}' must hold exactly one key 'ros__parameters'"
            )
        params = section["ros__parameters"]
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"{where}: '{node_key}.ros__parameters' must be a mapping")
        flat: dict[str, Any] = {}
        _flatten("", params, flat, f"{where}: node '{node_key}'")
        nodes[str(node_key)] = flat
    return nodes


def _matches(node_key: str, node_name: str, namespace: str) -> bool:
    if node_key in ("/**", "**"):
        return True
    full = f"{namespace.rstrip('/')}/{node_name}"
    key = node_key if node_key.startswith("/") else f"/{node_key}"
    if key == full:
        return True
    if key.startswith("/**/"):
        return key[len("/**/") :] == node_name
    return False


def node_params_from_file(
    path: str | Path, node_name: str, namespace: str = "/"
) -> dict[str, Any]:
    """The overrides a node named `node_name` in `namespace` gets from a file,
    with the same matching rules rcl applies (`/**` wildcards, then the node)."""
    merged: dict[str, Any] = {}
    for node_key, params in load_params_file(path).items():
        if _matches(node_key, node_name, namespace):
            merged.update(params)
    return merged
