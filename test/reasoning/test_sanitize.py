"""Malformed scenes are named and never crash the policy."""

from __future__ import annotations

import math

import pytest

from edge_llm_ros.reasoning.reasoner import Reasoner
from edge_llm_ros.reasoning.sanitize import sanitize_scene

from .conftest import obj, scene


@pytest.mark.parametrize("bad, expected_problem", [
    (scene(math.nan), "ego speed"),
    (scene(1e6), "ego speed"),
    (scene(10.0, limit=math.inf), "speed limit"),
    (scene(10.0, obj(1, "car", math.nan, 2.0)), "distance"),
    (scene(10.0, obj(1, "car", 10.0, math.inf)), "closing speed"),
    (scene(10.0, obj(1, "car", 10.0, 5.0, ttc=math.nan)), "time-to-collision"),
])
def test_bad_numbers_are_reported_and_the_rules_still_decide(bad, expected_problem) -> None:
    clean, problems = sanitize_scene(bad)
    assert problems and expected_problem in problems[0]
    r = Reasoner(None)
    d = r.decide(bad)
    assert d.action and d.source == 1 and r.counters.bad_scenes == 1
    assert math.isfinite(d.target_speed_mps) and d.target_speed_mps >= 0.0


def test_nan_ttc_is_recomputed_not_ignored() -> None:
    clean, _ = sanitize_scene(scene(10.0, obj(1, "car", 10.0, 10.0, ttc=math.nan)))
    assert clean.objects[0].time_to_collision_s == pytest.approx(1.0)
    assert Reasoner(None).decide(scene(10.0, obj(1, "car", 10.0, 10.0, ttc=math.nan))).action \
        == "stop"


def test_a_scene_without_objects_is_fine() -> None:
    clean, problems = sanitize_scene(scene(10.0))
    assert problems == [] and clean.objects == []
