"""Labelled scenes from the simulator scenarios: reproducible, varied, and held out for eval."""

from __future__ import annotations

from collections import Counter

from edge_llm_ros.reasoning.encoding import RemoteHint, select_objects
from edge_llm_ros.reasoning.rules import RuleDecision, rule_decide
from edge_llm_ros.tools.training.reasoner import answer_for
from edge_llm_ros.tools.training.reasoner_dataset import (
    EVAL_FIRST_SEED,
    INSTRUCTIONS,
    LEAD_SCENARIO,
    TRAIN_FIRST_SEED,
    TRAINING_SCENARIOS,
    combine_with_remote,
    generate,
    generate_training,
    make_lead_scene,
    make_scene,
)
from edge_llm_ros.types import ACTION_NAMES


def test_same_scenario_and_seed_same_scene() -> None:
    a, b = make_scene("car_braking_ahead", 17), make_scene("car_braking_ahead", 17)
    assert a.scene == b.scene and a.label == b.label and a.instruction == b.instruction
    assert make_scene("car_braking_ahead", 18).scene != a.scene


def test_the_set_covers_every_scenario_and_every_action() -> None:
    samples = list(generate(700, TRAIN_FIRST_SEED))
    assert {s.scenario for s in samples} == set(TRAINING_SCENARIOS)
    counts = Counter(s.label.action for s in samples)
    assert set(counts) == set(ACTION_NAMES), counts
    assert counts["keep_lane"] < 0.6 * len(samples)  # not a one-answer data set
    assert sum(1 for s in samples if s.instruction) > 150
    assert sum(1 for s in samples if s.remote) > 50


def test_labels_are_the_expert_on_what_the_prompt_shows() -> None:
    for s in generate(120, EVAL_FIRST_SEED):
        assert s.scene.objects == select_objects(s.scene)
        expected = combine_with_remote(rule_decide(s.scene, s.intent), s.remote)
        assert s.label == expected
        slots = answer_for(s).split('"ids":[')[1].split("]")[0]
        ids = [s.scene.objects[int(k) - 1].track_id for k in slots.split(",") if k]
        assert set(ids) <= set(s.label.driver_object_ids)


def test_eval_seeds_never_meet_training_seeds() -> None:
    train = {(s.scenario, s.seed) for s in generate(3200, TRAIN_FIRST_SEED)}
    evaluation = {(s.scenario, s.seed) for s in generate(1200, EVAL_FIRST_SEED)}
    assert not train & evaluation


def test_remote_advice_is_taken_only_when_more_cautious() -> None:
    keep = RuleDecision("keep_lane", 14.0, (), "path clear")
    assert combine_with_remote(keep, RemoteHint("slow_down", 8.0)).action == "slow_down"
    slow = RuleDecision("slow_down", 6.0, (3,), "car closing")
    assert combine_with_remote(slow, RemoteHint("keep_lane", 14.0)) == slow
    stop = RuleDecision("stop", 0.0, (3,), "car close", critical=True)
    assert combine_with_remote(stop, RemoteHint("slow_down", 0.0)) == stop
    assert combine_with_remote(keep, RemoteHint("change_lane_left", 10.0)) == keep


def test_training_sets_hold_the_asked_share_of_critical_scenes() -> None:
    plain = list(generate(120, TRAIN_FIRST_SEED))
    boosted = generate_training(120, TRAIN_FIRST_SEED, critical_share=0.5)
    assert len(boosted) == 120
    assert sum(s.label.critical for s in boosted) >= 60 > sum(s.label.critical for s in plain)
    # Deterministic, and the ordinary scenes kept are the plain set's own.
    again = generate_training(120, TRAIN_FIRST_SEED, critical_share=0.5)
    assert [(s.scenario, s.seed) for s in again] == [(s.scenario, s.seed) for s in boosted]
    assert {(s.scenario, s.seed) for s in boosted if not s.label.critical} <= {
        (s.scenario, s.seed) for s in plain}
    # Extra critical scenes come from seeds past the plain set, still in the training range.
    assert max(s.seed for s in boosted) < EVAL_FIRST_SEED


def test_the_floor_replaces_only_ordinary_keep_lane_scenes() -> None:
    """A critical floor must not thin out the slow-down scenes the model needs most."""
    plain = list(generate(200, TRAIN_FIRST_SEED))
    boosted = generate_training(200, TRAIN_FIRST_SEED, critical_share=0.3, lead_share=0.1)
    replaced = [p for p, b in zip(plain, boosted, strict=True) if (p.scenario, p.seed) != (
        b.scenario, b.seed)]
    assert replaced and all(p.label.action == "keep_lane" and not p.label.critical
                            for p in replaced)
    counts = Counter(s.label.action for s in boosted)
    assert counts["slow_down"] >= Counter(s.label.action for s in plain)["slow_down"]


def test_closing_lead_scenes_span_the_decision_boundary() -> None:
    """make_lead_scene: one car or truck ahead in the ego lane, deterministic per seed, over
    the time-to-collision range where the answer turns from keep lane to slow down to stop."""
    a, b = make_lead_scene(5), make_lead_scene(5)
    assert a.scene == b.scene and a.label == b.label and a.scenario == LEAD_SCENARIO
    scenes = [make_lead_scene(k) for k in range(300)]
    actions = Counter(s.label.action for s in scenes)
    assert min(actions["keep_lane"], actions["slow_down"], actions["stop"]) >= 30, actions
    for s in scenes:
        assert s.label == combine_with_remote(rule_decide(s.scene, s.intent), s.remote)
    in_lane = [s for s in scenes if any(o.lane_relation == 0 and o.class_name in ("car", "truck")
                                        for o in s.scene.objects)]
    assert len(in_lane) >= 0.9 * len(scenes)
    mixed = generate_training(100, TRAIN_FIRST_SEED, lead_share=0.2)
    assert len(mixed) == 100 and sum(s.scenario == LEAD_SCENARIO for s in mixed) == 20


def test_training_wordings_never_include_the_held_out_paraphrases() -> None:
    from edge_llm_ros.tools.evaluation.reasoner import PARAPHRASES

    assert not set(PARAPHRASES.values()) & {text for text, _ in INSTRUCTIONS}
    assert set(PARAPHRASES) <= {text for text, _ in INSTRUCTIONS}
