"""Hard-case families: tagged, reproducible from a seed, and each the situation it names."""

from __future__ import annotations

import math

import pytest

from edge_llm_ros.tools.training.hard_cases import (
    FAMILIES,
    generate_hard_cases,
    make_hard_case,
)
from edge_llm_ros.tools.training.reasoner_dataset import scene_to_dict
from edge_llm_ros.types import LANE_EGO


def test_every_family_is_tagged_and_a_pure_function_of_its_seed() -> None:
    for family in FAMILIES:
        a, b = make_hard_case(family, 11), make_hard_case(family, 11)
        assert a.family == family and a.seed == 11 and a.acceptable and a.note
        assert scene_to_dict(a.scene) == scene_to_dict(b.scene)
        assert scene_to_dict(a.scene) != scene_to_dict(make_hard_case(family, 12).scene)
    with pytest.raises(ValueError, match="unknown hard-case family"):
        make_hard_case("nope", 0)


def test_generation_covers_the_families_asked_for() -> None:
    cases = list(generate_hard_cases(3, 100, ["merge", "over_limit"]))
    assert [c.family for c in cases] == ["merge"] * 3 + ["over_limit"] * 3
    assert [c.seed for c in cases[:3]] == [100, 101, 102]


def test_cut_ins_move_towards_our_lane_from_the_side_they_name() -> None:
    for family, side in (("cut_in_left", 1.0), ("cut_in_right", -1.0)):
        for seed in range(10):
            s = make_hard_case(family, seed).scene
            cutter = [o for o in s.objects if o.track_id < 50][0]
            assert cutter.position_m[1] * side > 2.0 and cutter.velocity_mps[1] * side < -0.5


def test_families_stage_their_situation() -> None:
    for seed in range(10):
        pull = make_hard_case("pull_over_conflict", seed)
        assert pull.intent.pull_over and any(o.position_m[1] < -1.5 for o in pull.scene.objects)
        oncoming = make_hard_case("oncoming_passing", seed).scene
        assert any(o.velocity_mps[0] < -5.0 for o in oncoming.objects)
        assert oncoming.ego.lane_index == 0
        assert make_hard_case("ego_stopped", seed).scene.ego.speed_mps == 0.0
        over = make_hard_case("over_limit", seed).scene.ego
        assert over.speed_mps > 1.15 * over.speed_limit_mps
        lead = make_hard_case("closing_lead_far", seed).scene
        o = next(o for o in lead.objects if o.lane_relation == LANE_EGO)
        assert o.time_to_collision_s >= 4.0 and o.relative_speed_mps >= 6.0
        dense = make_hard_case("dense_one_threat", seed).scene
        assert len(dense.objects) >= 6
        assert all(math.isfinite(o.distance_m) for o in dense.objects)
