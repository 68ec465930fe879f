"""Compact text for a scene: a few dozen tokens, so prefill fits the deadline.

Prefill dominates the time to a settled action, and this tokenizer spends one
token per digit, so the scene is written as integers with one-letter tags:

    v16 l14 over2          ego speed and speed limit, m/s (l0: unknown); by how much
                           the ego is above the limit, when it is
    1 car e14 c5 t28 g9    slot, class, lane+distance (m), closing speed (m/s), TTC and,
                           for ego-lane objects ahead, time gap (0.1 s)

lanes: e ego, l left, r right, o off road, u unknown; TTC and gap are left out
when 10 s or more (or not on a collision course).

Two prompt formats, one per model family, named in the model file:
- `text`: the operator's words in the prompt (the LoRA-tuned SmolLM2 reads them);
- `intent`: the operator's structured intent as tags (`cap8 pull stay`, or `none`)
  and each object's lateral offset `y` and lateral speed `w` (0.1 m and 0.1 m/s, left
  positive; `w` only when moving sideways), the ego's lane `n` (0: right-most) in the
  head line. The teacher-distilled decision model reads this one: cut-ins and merges
  are lateral motion, and the intent stage has already read the words. Over-limit and gap are
derived numbers: a model this small compares two numbers poorly, and the
policy's thresholds are on exactly these. Objects are
listed most urgent first and referred to by slot in the answer; the reasoner
maps slots back to track ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_llm_ros.reasoning.rules import VULNERABLE_CLASSES, OperatorIntent, time_gap_s
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
PROMPT_TEXT = "text"
PROMPT_INTENT = "intent"
PROMPT_FORMATS = (PROMPT_TEXT, PROMPT_INTENT)
LATERAL_MOTION_MPS = 0.3  # slower sideways drift is measurement noise
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


def _component(vector: tuple, index: int) -> float:
    try:
        value = float(vector[index])
    except (TypeError, ValueError, IndexError):
        return math.nan
    return value


def encode_object(slot: int, o: TrackedObject, ego_speed_mps: float,
                  lateral: bool = False) -> str:
    cls = _CLASS_TAG.get(o.class_name, "obj")
    lane = _LANE_TAG.get(o.lane_relation, "u")
    text = f"{slot} {cls} {lane}{_num(o.distance_m, -30, 120)} " \
           f"c{_num(o.relative_speed_mps, -40, 40)}"
    if lateral:
        text += f" y{_num(_component(o.position_m, 1) * 10.0, -99, 99)}"
        vy = _component(o.velocity_mps, 1)
        if math.isfinite(vy) and abs(vy) >= LATERAL_MOTION_MPS:
            text += f" w{_num(vy * 10.0, -99, 99)}"
    ttc = _ttc(o)
    if ttc < 10.0:
        text += f" t{_num(ttc * 10.0, 0, 99)}"
    if o.lane_relation == LANE_EGO and o.distance_m >= 0.0:
        gap = time_gap_s(o.distance_m, ego_speed_mps)
        if gap < 10.0:
            text += f" g{_num(gap * 10.0, 0, 99)}"
    return text


def encode_scene(scene: SceneSummary, objects: list[TrackedObject],
                 prompt_format: str = PROMPT_TEXT) -> str:
    ego = scene.ego
    v = ego.speed_mps if isinstance(ego.speed_mps, (int, float)) and math.isfinite(
        ego.speed_mps) else 0.0
    limit = ego.speed_limit_mps if isinstance(ego.speed_limit_mps, (int, float)) and \
        math.isfinite(ego.speed_limit_mps) else 0.0
    head = f"v{_num(v, 0, 60)} l{_num(limit, 0, 60)}"
    if limit > 0.0 and v > limit + 0.5:
        head += f" over{_num(v - limit, 1, 60)}"
    lateral = prompt_format == PROMPT_INTENT
    if lateral and isinstance(ego.lane_index, int) and ego.lane_index >= 0:
        head += f" n{min(ego.lane_index, 9)}"
    lines = [head]
    lines += [encode_object(i + 1, o, v, lateral) for i, o in enumerate(objects)]
    return "\n".join(lines)


@dataclass(frozen=True)
class RemoteHint:
    """The fresh remote plan's first step, the only part of it the model sees."""

    action: str
    target_speed_mps: float


def intent_text(intent: OperatorIntent) -> str:
    """'cap8 pull stay' (speed cap in m/s, pull over, no lane change), 'none' when empty."""
    tags = []
    if math.isfinite(intent.speed_cap_mps):
        tags.append(f"cap{_num(intent.speed_cap_mps, 0, 60)}")
    if intent.pull_over:
        tags.append("pull")
    if intent.avoid_lane_change:
        tags.append("stay")
    return " ".join(tags) or "none"


def static_prefix(instruction: str = "", intent: OperatorIntent | None = None,
                  prompt_format: str = PROMPT_TEXT) -> str:
    """System prompt and the operator's instruction (its words, or its intent's tags for
    the `intent` format): both change rarely, so both are cached."""
    text = f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
    if prompt_format == PROMPT_INTENT:
        tags = intent_text(intent or OperatorIntent())
        return text + f"<|im_start|>intent\n{tags}<|im_end|>\n<|im_start|>scene\n"
    if prompt_format != PROMPT_TEXT:
        raise ValueError(f"prompt format must be one of {', '.join(PROMPT_FORMATS)}, "
                         f"got {prompt_format!r}")
    instruction = " ".join(instruction.split())[:MAX_INSTRUCTION_CHARS]
    if instruction:
        text += f"<|im_start|>operator\n{instruction}<|im_end|>\n"
    return text + "<|im_start|>scene\n"


def dynamic_text(scene_text: str, remote: RemoteHint | None = None) -> str:
    text = scene_text + "\n"
    if remote is not None:
        text += f"remote {remote.action} v{_num(remote.target_speed_mps, 0, 40)}\n"
    return text + ANSWER_OPENING
