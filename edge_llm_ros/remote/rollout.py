"""Roll a scene forward in time at constant velocity: the remote plans each horizon step on
the scene it expects then, not on the one it was sent."""

from __future__ import annotations

import math
from dataclasses import replace

from edge_llm_ros.types import SceneSummary, TrackedObject


def _finite(x: float, default: float) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else default


def roll_object(o: TrackedObject, dt_s: float, ego_speed_before: float,
                ego_speed_after: float) -> TrackedObject:
    """The object dt_s later, the ego having driven at its new speed meanwhile."""
    closing = _finite(o.relative_speed_mps, 0.0)
    # The object's own speed along the path is ego speed minus closing speed.
    closing_after = closing + (ego_speed_after - ego_speed_before)
    mean_closing = 0.5 * (closing + closing_after)
    distance = _finite(o.distance_m, 0.0) - mean_closing * dt_s
    vx, vy, vz = (_finite(v, 0.0) for v in o.velocity_mps)
    x, y, z = (_finite(p, 0.0) for p in o.position_m)
    ttc = distance / closing_after if closing_after > 0.1 and distance > 0 else math.inf
    return replace(o, distance_m=distance, relative_speed_mps=closing_after,
                   time_to_collision_s=ttc,
                   position_m=(x - mean_closing * dt_s, y + vy * dt_s, z))


def roll_scene(scene: SceneSummary, dt_s: float, ego_speed_after: float) -> SceneSummary:
    ego_before = max(_finite(scene.ego.speed_mps, 0.0), 0.0)
    objects = [roll_object(o, dt_s, ego_before, ego_speed_after) for o in scene.objects]
    # Objects we have passed by more than a car length no longer matter to the plan.
    objects = [o for o in objects if o.distance_m > -10.0]
    return replace(scene, stamp_ns=scene.stamp_ns + int(dt_s * 1e9),
                   ego=replace(scene.ego, speed_mps=ego_speed_after), objects=objects)
