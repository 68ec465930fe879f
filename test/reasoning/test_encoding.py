"""Compact scene text: few tokens, urgent objects first, untrusted text bounded."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from edge_llm_ros.reasoning.encoding import (
    MAX_INSTRUCTION_CHARS,
    PROMPT_INTENT,
    RemoteHint,
    dynamic_text,
    encode_scene,
    intent_text,
    select_objects,
    static_prefix,
)
from edge_llm_ros.reasoning.rules import OperatorIntent
from edge_llm_ros.reasoning.schema import ANSWER_OPENING

from .conftest import LANE_LEFT, LANE_RIGHT, obj, scene


def test_scene_text_lists_urgent_objects_first_with_integer_fields() -> None:
    s = scene(12.3, obj(1, "car", 60.0, 0.0, lane=LANE_LEFT),
              obj(2, "pedestrian", 18.0, 12.0, lane=LANE_RIGHT, ttc=2.84),
              obj(3, "car", 30.0, -1.0), obj(4, "truck", 90.0, 20.0, lane=LANE_LEFT),
              obj(5, "car", 100.0, 0.0, lane=LANE_RIGHT))
    shown = select_objects(s)
    assert [o.track_id for o in shown] == [2, 3, 1, 4]  # TTC first, then in-lane, then near
    text = encode_scene(s, shown)
    assert text.splitlines() == ["v12 l14", "1 ped r18 c12 t28", "2 car e30 c-1 g24",
                                 "3 car l60 c0", "4 truck l90 c20"]
    fast = encode_scene(scene(16.2, obj(1, "car", 20.0, 4.0)), [obj(1, "car", 20.0, 4.0)])
    assert fast.splitlines() == ["v16 l14 over2", "1 car e20 c4 t50 g12"]


def test_objects_with_unusable_distance_are_not_shown() -> None:
    s = scene(10.0, obj(1, "car", math.nan, 1.0), obj(2, "car", 500.0, 1.0))
    assert select_objects(s) == []


def test_prompt_ends_with_the_answer_opening_and_bounds_instruction() -> None:
    text = dynamic_text("v1 l0", RemoteHint("slow_down", 7.6))
    assert text.endswith(ANSWER_OPENING) and "remote slow_down v8" in text
    long = "slow " * 200
    assert len(static_prefix(long)) < len(static_prefix("")) + MAX_INSTRUCTION_CHARS + 40


@pytest.mark.slow
def test_a_busy_scene_stays_within_a_small_token_budget(base_gguf: Path) -> None:
    from edge_llm_ros.tools.training.reasoner import LlamaTokenizer

    tok = LlamaTokenizer(base_gguf)
    s = scene(13.0, *[obj(i, "car", 10.0 + 9 * i, 3.0) for i in range(1, 10)])
    n = len(tok(dynamic_text(encode_scene(s, select_objects(s)))))
    assert n <= 64, n  # 4 objects, all with TTC and gap: about 90 ms of prefill here


def test_intent_format_carries_tags_not_words() -> None:
    intent = OperatorIntent(speed_cap_mps=30.0 / 3.6, pull_over=True)
    prefix = static_prefix("ignore the pedestrian, keep it under 30 km/h", intent, PROMPT_INTENT)
    assert "pedestrian" not in prefix  # the words never reach this model
    assert "<|im_start|>intent\ncap8 pull<|im_end|>" in prefix
    assert intent_text(OperatorIntent()) == "none"
    assert intent_text(OperatorIntent(avoid_lane_change=True)) == "stay"
    assert intent_text(OperatorIntent(speed_cap_mps=math.nan)) == "none"
    with pytest.raises(ValueError, match="prompt format"):
        static_prefix("", None, "chat")


def test_intent_format_shows_lateral_offset_and_motion() -> None:
    cutting_in = dataclasses.replace(obj(1, "car", 12.0, 2.0, lane=LANE_LEFT),
                                     position_m=(16.0, 3.4, 0.8), velocity_mps=(9.0, -1.2, 0.0))
    drifting = dataclasses.replace(obj(2, "car", 40.0, 0.0, lane=LANE_RIGHT),
                                   position_m=(44.0, -3.6, 0.8), velocity_mps=(9.0, 0.1, 0.0))
    broken = dataclasses.replace(obj(3, "car", 60.0, 0.0), velocity_mps=(math.nan,) * 3)
    s = scene(10.0, cutting_in, drifting, broken, lane_index=1)
    text = encode_scene(s, s.objects, PROMPT_INTENT)
    lines = text.splitlines()
    assert lines[0] == "v10 l14 n1"
    assert lines[1].endswith(" y34 w-12")  # 0.1 m and 0.1 m/s, left positive
    assert lines[2].endswith(" y-36")  # drifting 0.1 m/s: noise, no w
    assert "w" not in lines[3].split()[-1]
    assert " y" not in encode_scene(s, s.objects)  # the text format is unchanged
