"""Where the package's installed files are: the colcon share directory when
the package is built and sourced, the repository otherwise."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = "edge_llm_ros"
_REPO_ROOT = Path(__file__).resolve().parents[1]


def share_dir() -> Path:
    """share/edge_llm_ros of the first AMENT_PREFIX_PATH entry holding it, or
    the repository root (which has the same config/, launch/, worlds/)."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidate = Path(prefix) / "share" / PACKAGE
            if (candidate / "config").is_dir():
                return candidate
    return _REPO_ROOT


def config_file(name: str) -> Path:
    return share_dir() / "config" / name


def model_file(name: str) -> Path:
    """A model the package ships (models/ in the share directory or the repository)."""
    candidate = share_dir() / "models" / name
    if not candidate.exists() and (_REPO_ROOT / "models" / name).exists():
        return _REPO_ROOT / "models" / name  # built after the last colcon build
    return candidate
