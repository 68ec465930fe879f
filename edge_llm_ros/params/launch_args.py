"""Launch arguments turned into typed, checked parameter values.

Shared by the launch files (launch itself is not importable here, so this
stays plain Python and is tested directly).
"""

from __future__ import annotations

import yaml

from edge_llm_ros.params.core import ConfigError, ParamValue, coerce_value
from edge_llm_ros.params.specs import node_spec


def as_bool(argument: str, text: str) -> bool:
    """A true/false launch argument, spelled the ways launch conditions accept."""
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ConfigError(f"launch argument {argument}:={text!r} must be true or false")


def typed_overrides(node_kind: str, values: dict[str, tuple[str, str]]) -> dict[str, ParamValue]:
    """Parameters set by launch arguments ({parameter: (argument, text)}), typed by the spec.

    An empty argument is left out, so the parameter files keep their value.
    """
    specs = {spec.name: spec for spec in node_spec(node_kind)}
    overrides: dict[str, ParamValue] = {}
    for param, (argument, text) in values.items():
        if text == "":
            continue
        spec = specs[param]
        try:
            raw = text if spec.element_type is str else yaml.safe_load(text)
            overrides[param] = coerce_value(spec, raw, node_kind)
        except (ConfigError, yaml.YAMLError) as exc:
            raise ConfigError(f"launch argument {argument}:={text!r}: {exc}") from exc
    return overrides
