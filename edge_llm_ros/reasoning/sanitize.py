"""Scene checks before reasoning: bad numbers are dropped or clamped, and named."""

from __future__ import annotations

import dataclasses
import math

from edge_llm_ros.types import SceneSummary, TrackedObject

MAX_EGO_SPEED_MPS = 70.0
MAX_OBJECT_SPEED_MPS = 100.0
MAX_DISTANCE_M = 500.0


def _ok(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def sanitize_scene(scene: SceneSummary) -> tuple[SceneSummary, list[str]]:
    """A scene the policy can trust, and what was wrong with the input (empty if nothing)."""
    problems: list[str] = []
    ego = dataclasses.replace(scene.ego)
    if not _ok(ego.speed_mps) or not -1.0 <= ego.speed_mps <= MAX_EGO_SPEED_MPS:
        problems.append(f"ego speed {ego.speed_mps!r} m/s is not plausible; using 0")
        ego.speed_mps = 0.0
    ego.speed_mps = max(ego.speed_mps, 0.0)
    if not _ok(ego.speed_limit_mps) or not 0.0 <= ego.speed_limit_mps <= MAX_EGO_SPEED_MPS:
        problems.append(f"speed limit {ego.speed_limit_mps!r} m/s is not plausible; ignored")
        ego.speed_limit_mps = 0.0
    objects: list[TrackedObject] = []
    for o in scene.objects:
        if not _ok(o.distance_m) or abs(o.distance_m) > MAX_DISTANCE_M:
            problems.append(f"object {o.track_id}: distance {o.distance_m!r} m dropped")
            continue
        rel = o.relative_speed_mps
        if not _ok(rel) or abs(rel) > MAX_OBJECT_SPEED_MPS:
            problems.append(f"object {o.track_id}: closing speed {rel!r} m/s dropped")
            continue
        ttc = o.time_to_collision_s
        if isinstance(ttc, (int, float)) and math.isnan(ttc):
            # Unknown TTC: recompute the straight-line value rather than trust nothing.
            ttc = o.distance_m / rel if rel > 0.0 and o.distance_m >= 0.0 else math.inf
            problems.append(f"object {o.track_id}: NaN time-to-collision recomputed")
        elif not isinstance(ttc, (int, float)) or ttc < 0.0:
            ttc = 0.0 if isinstance(ttc, (int, float)) else math.inf
        objects.append(dataclasses.replace(o, time_to_collision_s=float(ttc)))
    return dataclasses.replace(scene, ego=ego, objects=objects), problems
