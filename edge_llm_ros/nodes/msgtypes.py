"""Python message classes from ROS type names ("pkg/msg/Name")."""

from __future__ import annotations

import importlib
from typing import Any


def import_message_type(type_name: str) -> Any:
    """The rclpy message class for 'pkg/msg/Name' (or 'pkg/Name')."""
    parts = type_name.split("/")
    if len(parts) == 2:
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a message type name: {type_name!r}")
    package, kind, name = parts
    module = importlib.import_module(f"{package}.{kind}")
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"{package}.{kind} has no type {name}") from None


def is_importable(type_name: str) -> bool:
    try:
        import_message_type(type_name)
    except (ImportError, ValueError):
        return False
    return True


def ros_type_name(msg_class: Any) -> str:
    """'pkg/msg/Name' for a message class."""
    module = msg_class.__module__.split(".")
    return f"{module[0]}/{module[1]}/{msg_class.__name__}"
