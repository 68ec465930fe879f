"""Compact text for a scene: a few dozen tokens, so prefill fits the deadline.

Prefill dominates the time to a settled action, and this tokenizer spends one
token per digit, so the scene is written as integers with one-letter tags:

    v16 l14 over2          ego speed and speed limit, m/s (l0: unknown); by how much
                           the ego is above the limit, when it is
    1 car e14 c5 t28 g9    slot, class, lane+distance (m), closing speed (m/s), TTC and,
                           for ego-lane objects ahead, time gap (0.1 s)

lanes: e ego, l left, r right, o off road, u unknown; TTC and gap are left out
when 10 s or more (or not on a collision course). Over-limit and gap are
derived numbers: a model this small compares two numbers poorly, and the
policy's thresholds are on exactly these. Objects are
listed most urgent first and referred to by slot in the answer; the reasoner
maps slots back to track ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_llm_ros.reasoning.rules import VULNERABLE_CLASSES, time_gap_s
from edge_llm_ros.reasoning.schema import ANSWER_OPENING
from edge_llm_ros.types import (
    LANE_EGO,
    LANE_LEFT,
    LANE_OFF_ROAD,
    LANE_RIGHT,
    SceneSummary,
    TrackedObject,
)

SYSTEM_PROMPT = "Drive safely. Scene in, one action as JSON out."
MAX_PROMPT_OBJECTS = 4
MAX_INSTRUCTION_CHARS = 160

_LANE_TAG = {LANE_EGO: "e", LANE_LEFT: "l", LANE_RIGHT: "r", LANE_OFF_ROAD: "o"}
_CLASS_TAG = {"car": "car", "truck": "truck", "bus": "truck", "pedestrian": "ped",
              "cyclist": "bike", "bicycle": "bike", "motorcycle": "bike"}


def _num(x: float, lo: int, hi: int) -> int:
    return int(min(max(round(x), lo), hi)) if math.isfinite(x) else 0


def _ttc(o: TrackedObject) -> float:
    t = o.time_to_collision_s
    return t if isinstance(t, (int, float)) and math.isfinite(t) and t >= 0.0 else math.inf


def select_objects(scene: SceneSummary, limit: int = MAX_PROMPT_OBJECTS
                   ) -> list[TrackedObject]:
    """The objects the decision can hinge on, most urgent first."""
    objs = [o for o in scene.objects if isinstance(o.distance_m, (int, float))
            and math.isfinite(o.distance_m) and -30.0 <= o.distance_m <= 120.0]

    def urgency(o: TrackedObject) -> tuple:
        in_lane_ahead = o.lane_relation == LANE_EGO and o.distance_m >= 0.0
        vulnerable_near = o.class_name in VULNERABLE_CLASSES and abs(o.distance_m) < 30.0
        adjacent_near = o.lane_relation in (LANE_LEFT, LANE_RIGHT) and abs(o.distance_m) < 40.0
        rank = 0 if _ttc(o) < 10.0 else 1 if in_lane_ahead else 2 if vulnerable_near \
            else 3 if adjacent_near else 4
        return (rank, _ttc(o), abs(o.distance_m))

    return sorted(objs, key=urgency)[:limit]


def encode_object(slot: int, o: TrackedObject, ego_speed_mps: float) -> str:
    cls = _CLASS_TAG.get(o.class_name, "obj")
    lane = _LANE_TAG.get(o.lane_relation, "u")
    text = f"{slot} {cls} {lane}{_num(o.distance_m, -30, 120)} " \
           f"c{_num(o.relative_speed_mps, -40, 40)}"
    ttc = _ttc(o)
    if ttc < 10.0:
        text += f" t{_num(ttc * 10.0, 0, 99)}"
    if o.lane_relation == LANE_EGO and o.distance_m >= 0.0:
        gap = time_gap_s(o.distance_m, ego_speed_mps)
        if gap < 10.0:
            text += f" g{_num(gap * 10.0, 0, 99)}"
    return text


def encode_scene(scene: SceneSummary, objects: list[TrackedObject]) -> str:
    ego = scene.ego
    v = ego.speed_mps if isinstance(ego.speed_mps, (int, float)) and math.isfinite(
        ego.speed_mps) else 0.0
    limit = ego.speed_limit_mps if isinstance(ego.speed_limit_mps, (int, float)) and \
        math.isfinite(ego.speed_limit_mps) else 0.0
    head = f"v{_num(v, 0, 60)} l{_num(limit, 0, 60)}"
    if limit > 0.0 and v > limit + 0.5:
        head += f" over{_num(v - limit, 1, 60)}"
    lines = [head]
    lines += [encode_object(i + 1, o, v) for i, o in enumerate(objects)]
    return "\n".join(lines)


@dataclass(frozen=True)
class RemoteHint:
    """The fresh remote plan's first step, the only part of it the model sees."""

    action: str
    target_speed_mps: float


def static_prefix(instruction: str = "") -> str:
    """System prompt and operator instruction: both change rarely, so both are cached."""
    text = f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
    instruction = " ".join(instruction.split())[:MAX_INSTRUCTION_CHARS]
    if instruction:
        text += f"<|im_start|>operator\n{instruction}<|im_end|>\n"
    return text + "<|im_start|>scene\n"


def dynamic_text(scene_text: str, remote: RemoteHint | None = None) -> str:
    text = scene_text + "\n"
    if remote is not None:
        text += f"remote {remote.action} v{_num(remote.target_speed_mps, 0, 40)}\n"
    return text + ANSWER_OPENING
