"""Hand-written scenes: a tracked object or a SceneSummary in one line, for tests,
examples and quick experiments with `decide`."""

from __future__ import annotations

import math

from edge_llm_ros.types import (
    LANE_EGO,
    EgoState,
    SceneSummary,
    TrackedObject,
)


def obj(track_id: int, cls: str, distance: float, closing: float, lane: int = LANE_EGO,
        ttc: float | None = None) -> TrackedObject:
    """A tracked object as fusion reports it; TTC from distance/closing unless given."""
    if ttc is None:
        ttc = distance / closing if closing > 0.1 and distance >= 0 and lane == LANE_EGO \
            else math.inf
    return TrackedObject(track_id=track_id, class_name=cls, confidence=0.9,
                            position_m=(distance + 4.0, 0.0, 0.8), size_m=(4.5, 1.8, 1.5),
                            velocity_mps=(0.0, 0.0, 0.0), distance_m=distance,
                            relative_speed_mps=closing, time_to_collision_s=ttc,
                            lane_relation=lane)


def scene(speed: float, *objects: TrackedObject, limit: float = 13.9,
          lane_index: int = 1) -> SceneSummary:
    """A fused scene at t = 1 s with the ego at `speed` m/s in lane `lane_index`."""
    return SceneSummary(stamp_ns=1_000_000_000, ego=EgoState(
        speed_mps=speed, speed_limit_mps=limit, lane_index=lane_index), objects=list(objects))
