"""3D boxes and labels from the pipeline's object messages, and the decision as text.

Inputs are message objects read by attribute (rosbags' decoded messages and rclpy's
alike), so the bag tool and the live node share this code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edge_llm_ros.perception.draw import CLASS_COLOURS_RGB

OTHER_RGB = (230, 230, 230)
#: A tracked object moving slower than this has no heading worth drawing: its box is
#: drawn along the ego's axes (TrackedObject carries no yaw).
HEADING_MIN_SPEED_MPS = 1.0
#: Decision.SOURCE_* -> the word shown.
DECISION_SOURCES = {0: "model", 1: "fallback", 2: "remote-informed"}


@dataclass(frozen=True)
class VizBox:
    """One box to draw: pose and size in `frame_id`, a colour and a label."""

    frame_id: str
    object_id: int
    class_name: str
    center_m: tuple[float, float, float]
    size_m: tuple[float, float, float]  # length (x), width (y), height (z)
    yaw_rad: float
    label: str

    @property
    def colour_rgb(self) -> tuple[int, int, int]:
        return class_colour_rgb(self.class_name)


def class_colour_rgb(class_name: str) -> tuple[int, int, int]:
    """The class's colour, the same as in the annotated images of `perceive`."""
    return CLASS_COLOURS_RGB.get(class_name, OTHER_RGB)


def _xyz(v: Any) -> tuple[float, float, float]:
    return float(v.x), float(v.y), float(v.z)


def boxes_from_objects(array: Any) -> list[VizBox]:
    """Boxes of an Object3DArray (lidar objects or ground truth), in its header's frame."""
    frame = str(array.header.frame_id)
    out = []
    for o in array.objects:
        speed = math.hypot(float(o.velocity_mps.x), float(o.velocity_mps.y))
        label = f"{o.class_name} #{int(o.id)}" + (f" {speed:.1f} m/s" if speed > 0.0 else "")
        out.append(VizBox(frame, int(o.id), str(o.class_name), _xyz(o.center_m), _xyz(o.size_m),
                          float(o.yaw_rad), label))
    return out


def tracked_label(o: Any) -> str:
    """'car #7 8.5 m/s TTC 2.3 s': class, track id, speed over ground, time to collision
    (left out when not closing)."""
    speed = math.hypot(float(o.velocity_mps.x), float(o.velocity_mps.y))
    ttc = float(o.time_to_collision_s)
    text = f"{o.class_name} #{int(o.track_id)} {speed:.1f} m/s"
    return text + (f" TTC {ttc:.1f} s" if math.isfinite(ttc) and ttc >= 0.0 else "")


def heading_rad(o: Any) -> float:
    """A tracked object's heading from its velocity; 0 (the ego's axes) when it is slow."""
    vx, vy = float(o.velocity_mps.x), float(o.velocity_mps.y)
    return math.atan2(vy, vx) if math.hypot(vx, vy) >= HEADING_MIN_SPEED_MPS else 0.0


def boxes_from_scene(scene: Any) -> list[VizBox]:
    """Boxes of a SceneSummary's tracked objects, in its frame (base_link)."""
    frame = str(scene.header.frame_id) or "base_link"
    return [VizBox(frame, int(o.track_id), str(o.class_name), _xyz(o.position_m),
                   _xyz(o.size_m), heading_rad(o), tracked_label(o))
            for o in scene.objects]


def decision_text(decision: Any) -> str:
    """One line a person reads: action, target speed, who decided, how late, why.

    'slow_down -> 6.0 m/s | model, 23 ms of 100 | car ahead braking'
    """
    source = DECISION_SOURCES.get(int(decision.source), f"source {int(decision.source)}")
    if decision.fallback_reason:
        source += f" ({decision.fallback_reason})"
    head = (f"{decision.action_name} -> {float(decision.target_speed_mps):.1f} m/s | {source}, "
            f"{float(decision.latency_ms):.0f} ms of {float(decision.deadline_ms):.0f}")
    rationale = str(decision.rationale).strip()
    return f"{head} | {rationale}" if rationale else head


def ids_driving(decision: Any | None) -> set[int]:
    """Track ids of the objects that drove a decision (none without one)."""
    return set() if decision is None else {int(i) for i in decision.driver_object_ids}

