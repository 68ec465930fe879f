"""The fixed action set (names in edge_llm_ros.types, the message's order) and its bounds."""

from __future__ import annotations

from edge_llm_ros.types import ACTION_NAMES

KEEP_LANE, SLOW_DOWN, STOP, YIELD, CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT, PULL_OVER = ACTION_NAMES

# Actions that shed speed; a scene that needs one of these answered with
# keep_lane (or a higher target speed) is an unsafe miss.
BRAKING_ACTIONS = frozenset({SLOW_DOWN, STOP, YIELD, PULL_OVER})

MAX_RATIONALE_CHARS = 120
MAX_TARGET_SPEED_MPS = 40.0

