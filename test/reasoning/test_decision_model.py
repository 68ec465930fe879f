"""The shipped decision model (teacher-distilled, `intent` prompt format) in the real
reasoner on llama.cpp: it reads structured intents and lateral motion, and answers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edge_llm_ros.reasoning.actions import BRAKING_ACTIONS, PULL_OVER
from edge_llm_ros.reasoning.encoding import PROMPT_INTENT
from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
from edge_llm_ros.reasoning.rules import OperatorIntent
from edge_llm_ros.types import LANE_LEFT, LANE_RIGHT, SOURCE_ONBOARD_MODEL

from .conftest import obj, scene

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reasoner(decision_gguf: Path):
    backend = LlamaCppBackend(decision_gguf, threads=2)
    assert backend.prompt_format == PROMPT_INTENT
    r = Reasoner(backend, ReasonerConfig(deadline_ms=2000.0, publish_on_action=False))
    r.warm_up()
    yield r
    r.close()


def test_a_car_cutting_in_from_the_left_is_met_with_braking(reasoner: Reasoner) -> None:
    # 8 m ahead in the left lane, drifting into the ego lane at 1.5 m/s.
    cut_in = dataclasses.replace(obj(7, "car", 8.0, 2.0, lane=LANE_LEFT),
                                 position_m=(12.0, 3.0, 0.8), velocity_mps=(10.0, -1.5, 0.0))
    s = scene(12.0, cut_in, limit=13.9)
    d = reasoner.decide(s, "")
    assert d.source == SOURCE_ONBOARD_MODEL, d.fallback_reason
    assert d.action in BRAKING_ACTIONS
    # The same car holding its lane is no reason to brake.
    steady = dataclasses.replace(cut_in, position_m=(30.0, 3.5, 0.8), distance_m=26.0,
                                 velocity_mps=(12.0, 0.0, 0.0), relative_speed_mps=0.0)
    reasoner.wait_idle()
    calm = reasoner.decide(scene(12.0, steady, limit=13.9), "")
    assert calm.source == SOURCE_ONBOARD_MODEL
    assert calm.action not in BRAKING_ACTIONS


def test_the_intent_reaches_the_model_and_an_occupied_shoulder_refuses_a_pull_over(
        reasoner: Reasoner) -> None:
    clear = scene(10.0, obj(1, "car", 60.0, 0.0, lane=LANE_LEFT), limit=13.9, lane_index=0)
    pull = OperatorIntent(pull_over=True)
    d = reasoner.decide(clear, "", intent=pull)
    assert d.source == SOURCE_ONBOARD_MODEL
    assert d.action == PULL_OVER
    cyclist = dataclasses.replace(obj(2, "cyclist", 1.0, 0.0, lane=LANE_RIGHT),
                                  position_m=(5.0, -1.8, 0.8), velocity_mps=(9.0, 0.0, 0.0))
    reasoner.wait_idle()
    blocked = reasoner.decide(scene(10.0, cyclist, limit=13.9, lane_index=0), "", intent=pull)
    assert blocked.action != PULL_OVER
