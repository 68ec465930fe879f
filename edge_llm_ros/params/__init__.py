"""Node parameters: one declared spec per node, the ROS parameter-file format,
and validation that names the offending parameter.

The specs are the single source of truth: nodes declare exactly these (with
descriptors and ranges), `edge-llm-ros run` validates parameter files against
them before starting anything, and the tests check every config/*.yaml and
launch file against them without ROS.
"""

from edge_llm_ros.params.core import (
    ConfigError,
    ParamSpec,
    ParamValue,
    load_params_file,
    node_params_from_file,
    validate_params,
)
from edge_llm_ros.params.specs import (
    NODE_SPECS,
    check_params_file,
    default_of,
    node_defaults,
    node_spec,
)

__all__ = [
    "NODE_SPECS",
    "ConfigError",
    "ParamSpec",
    "ParamValue",
    "check_params_file",
    "default_of",
    "load_params_file",
    "node_defaults",
    "node_params_from_file",
    "node_spec",
    "validate_params",
]
