"""Scene helpers for the reasoning tests (the model fixtures live in test/conftest.py)."""

from __future__ import annotations

from edge_llm_ros.tools.synthetic.scenes import obj, scene
from edge_llm_ros.types import LANE_EGO, LANE_LEFT, LANE_RIGHT

__all__ = ["obj", "scene", "LANE_LEFT", "LANE_RIGHT", "LANE_EGO"]
