"""The deadline: a Decision always arrives in time, from the model when it can, else the rules.

Everything here runs the real llama.cpp backend on real model files.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_llm_ros.reasoning.backend import ModelLoadError
from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
from edge_llm_ros.reasoning.rules import parse_instruction, rule_decide
from edge_llm_ros.reasoning.sanitize import sanitize_scene
from edge_llm_ros.tools.training.reasoner_dataset import EVAL_FIRST_SEED, generate

from .conftest import obj, scene

pytestmark = pytest.mark.slow
# Scheduling slack on a loaded 2-core CI machine: the watchdog wakes on an
# Event timeout, so it is late only by thread wake-up time.
WAKE_SLACK_MS = 25.0


def test_missing_and_corrupt_models_fail_at_load_with_a_clear_message(tmp_path: Path,
                                                                      base_gguf: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        LlamaCppBackend(tmp_path / "nope.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF model"):
        LlamaCppBackend(junk)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(base_gguf.read_bytes()[:2_000_000])
    with pytest.raises(ModelLoadError, match="could not load"):
        LlamaCppBackend(truncated)


def test_a_too_slow_model_is_cut_at_the_deadline_and_the_rules_decide(base_gguf: Path) -> None:
    """One thread and a long, never-cached instruction: prefill alone outlasts 40 ms."""
    backend = LlamaCppBackend(base_gguf, threads=1)
    r = Reasoner(backend, ReasonerConfig(deadline_ms=40.0, max_new_tokens=512))
    try:
        for i, sample in enumerate(generate(4, EVAL_FIRST_SEED)):
            instruction = f"variant {i}: " + "please drive carefully around here " * 4
            r.wait_idle()
            d = r.decide(sample.scene, instruction)
            assert d.latency_ms <= 40.0 + WAKE_SLACK_MS, d
            assert d.source == 1 and "deadline" in d.fallback_reason
            clean, _ = sanitize_scene(sample.scene)
            rule = rule_decide(clean, parse_instruction(instruction))
            assert (d.action, d.target_speed_mps, d.driver_object_ids) == \
                (rule.action, rule.target_speed_mps, list(rule.driver_object_ids))
        assert r.wait_idle(10.0), "the cut generation must stop within a token"
    finally:
        r.close()


def test_busy_cores_cannot_make_a_decision_late(tuned_backend: LlamaCppBackend) -> None:
    """Two processes spinning on both cores (as other nodes would): decisions stay in time."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    r = Reasoner(tuned_backend, ReasonerConfig(deadline_ms=150.0))
    r.warm_up()
    try:
        for sample in generate(10, EVAL_FIRST_SEED + 7):
            r.wait_idle()
            d = r.decide(sample.scene, sample.instruction)
            assert d.latency_ms <= 150.0 + WAKE_SLACK_MS, d
    finally:
        for h in hogs:
            h.kill()
            h.wait()
        r.wait_idle()
        r.backend = None  # the session fixture owns the backend
        r.close()


def test_the_tuned_model_decides_in_time_and_reuses_the_static_prefix(
        tuned_backend: LlamaCppBackend) -> None:
    # the whole answer (not published on the action): the stats are of a full generation
    r = Reasoner(tuned_backend, ReasonerConfig(deadline_ms=1000.0, publish_on_action=False))
    r.warm_up()
    try:
        d = r.decide(scene(10.0, obj(3, "car", 60.0, 1.0)))  # nothing critical: no override
        assert d.source == 0 and d.settled_ms < d.latency_ms <= 1000.0 + WAKE_SLACK_MS
        r.wait_idle()
        stats = r.last_stats
        assert stats is not None and stats.reused_tokens >= 10  # the system prompt
        assert stats.prompt_tokens - stats.reused_tokens < 60  # only the scene is prefilled
    finally:
        r.wait_idle()
        r.backend = None
        r.close()


def test_the_safety_envelope_holds_whatever_the_model_says(
        tuned_backend: LlamaCppBackend) -> None:
    """A remote 'keep lane at 14' hint in the prompt; the car ahead is 1 s away."""
    from edge_llm_ros.reasoning.encoding import RemoteHint

    r = Reasoner(tuned_backend, ReasonerConfig(deadline_ms=2000.0))
    try:
        critical = scene(12.0, obj(4, "car", 12.0, 12.0))
        d = r.decide(critical, "we are in a hurry", RemoteHint("keep_lane", 14.0), "r9")
        assert d.action == "stop" and d.target_speed_mps == 0.0
        assert d.driver_object_ids == [4]
    finally:
        r.wait_idle()
        r.backend = None
        r.close()


def test_a_busy_model_means_an_immediate_rule_decision(base_gguf: Path) -> None:
    backend = LlamaCppBackend(base_gguf, threads=1)
    r = Reasoner(backend, ReasonerConfig(deadline_ms=30.0, max_new_tokens=200))
    try:
        s = scene(10.0, obj(1, "car", 30.0, 2.0))
        r.decide(s, "a long instruction that is not cached yet " * 3)
        t0 = time.perf_counter()
        d = r.decide(s, "another long instruction, not cached either " * 3)
        if r.counters.model_busy:  # the first generation was still in flight
            assert d.fallback_reason == "model still busy with the previous scene"
            assert (time.perf_counter() - t0) * 1000.0 < 30.0
        assert d.source == 1
    finally:
        r.close()


def test_publish_on_action_does_not_wait_for_the_rest_of_the_answer(
        tuned_backend: LlamaCppBackend) -> None:
    r = Reasoner(tuned_backend, ReasonerConfig(deadline_ms=5000.0, publish_on_action=True))
    r.warm_up()
    try:
        d = r.decide(scene(10.0, obj(3, "car", 40.0, 1.0)))
        assert d.source == 0 and d.settled_ms <= d.latency_ms < 5000.0
        assert d.generated_tokens <= 2, d  # the action's first token or two, not the answer
        assert d.target_speed_mps >= 0.0 and d.rationale  # completed from the rule policy
    finally:
        r.wait_idle()
        r.backend = None
        r.close()


def test_the_model_cannot_choose_a_manoeuvre_the_envelope_forbids(
        tuned_backend: LlamaCppBackend) -> None:
    """Asked to pull over with a cyclist alongside on the right: whatever the model says,
    the decision is not a pull over (the old envelope let the model's pull over through)."""
    from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

    r = Reasoner(tuned_backend, ReasonerConfig(deadline_ms=2000.0))
    try:
        s = road_scene(8.0, [Actor(4, "cyclist", 0.0, -2.5, 7.0)], lane_index=0)
        d = r.decide(s, "please pull over, let me out")
        assert d.action != "pull_over", d
        if d.source == 1 and d.fallback_reason.startswith("safety envelope"):
            assert "pull_over" in d.fallback_reason and d.action == "slow_down"
    finally:
        r.wait_idle()
        r.backend = None
        r.close()


def test_the_envelope_sets_the_actions_and_speeds_a_scene_allows() -> None:
    from edge_llm_ros.reasoning.reasoner import (
        envelope_actions,
        envelope_grammar,
        envelope_speed_ceiling_mps,
    )
    from edge_llm_ros.reasoning.rules import RuleDecision

    calm = RuleDecision("keep_lane", 13.0, (), "clear", lane_speed_cap_mps=9.0,
                        forbidden=frozenset({"change_lane_right", "pull_over"}))
    assert envelope_actions(calm) == ("keep_lane", "slow_down", "stop", "yield",
                                      "change_lane_left")
    assert envelope_speed_ceiling_mps(calm, "keep_lane") == 9.5
    assert envelope_speed_ceiling_mps(calm, "change_lane_left") == float("inf")
    critical = RuleDecision("slow_down", 4.0, (2,), "cut-in", critical=True)
    assert envelope_actions(critical) == ("slow_down", "stop", "yield", "pull_over")
    assert envelope_speed_ceiling_mps(critical, "pull_over") == 4.5
    escape = RuleDecision("change_lane_left", 10.0, (3,), "escape", binding=True)
    assert envelope_actions(escape) == ("change_lane_left",)
    grammar = envelope_grammar(calm)
    assert "pull_over" not in grammar and "change_lane_right" not in grammar
    assert 'speed9 ::= "9" | "8" |' in grammar  # keep_lane / slow_down no faster than 9 m/s
    assert '("keep_lane" | "slow_down") "\\",\\"v\\":" speed9 ' in grammar
    from llama_cpp import LlamaGrammar  # the runtime accepts it
    LlamaGrammar.from_string(grammar, verbose=False)


def test_the_decision_model_chooses_only_among_what_the_envelope_allows(
        decision_gguf: Path) -> None:
    """Hard cases (cut-ins, merges, lane-change and pull-over conflicts, oncoming traffic):
    the answer is constrained to the scene's envelope, so nothing the model says needs
    overruling, and every model decision is an allowed action at an allowed speed."""
    from edge_llm_ros.reasoning.reasoner import envelope_actions, envelope_speed_ceiling_mps
    from edge_llm_ros.reasoning.rules import rule_decide
    from edge_llm_ros.tools.training.hard_cases import generate_hard_cases

    r = Reasoner(LlamaCppBackend(decision_gguf, threads=2),
                 ReasonerConfig(deadline_ms=5000.0, publish_on_action=False))
    try:
        cases = list(generate_hard_cases(3))
        for case in cases:
            d = r.decide(case.scene, case.instruction, intent=case.intent)
            rule = rule_decide(case.scene, case.intent, r.config.thresholds)
            assert d.action in envelope_actions(rule), (case.family, d)
            assert d.target_speed_mps <= envelope_speed_ceiling_mps(rule, d.action), d
        assert r.counters.envelope_overrides == 0
        assert r.counters.model == len(cases) and r.counters.fallback == 0
    finally:
        r.close()
