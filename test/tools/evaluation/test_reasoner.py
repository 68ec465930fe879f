"""Quality and speed figures come from real runs of the tuned model (small samples here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
from edge_llm_ros.tools.evaluation.reasoner import PARAPHRASES, evaluate_reasoner, is_unsafe_miss
from edge_llm_ros.tools.synthetic.scenes import obj, scene

REPO = Path(__file__).resolve().parents[3]


def test_unsafe_miss_means_keep_lane_or_faster_when_slowing_was_needed() -> None:
    from edge_llm_ros.reasoning.rules import RuleDecision
    from edge_llm_ros.tools.training.reasoner_dataset import make_scene

    s = make_scene("car_braking_ahead", 3)
    s.label = RuleDecision("stop", 0.0, (), "car ahead", critical=True)
    assert is_unsafe_miss(s, "keep_lane", 0.0)
    assert is_unsafe_miss(s, "slow_down", s.scene.ego.speed_mps + 3.0)
    assert not is_unsafe_miss(s, "slow_down", 0.0)
    assert set(PARAPHRASES.values()).isdisjoint(PARAPHRASES)  # held out, not training words
    assert scene(1.0, obj(1, "car", 1.0, 1.0)).objects


@pytest.mark.slow
def test_the_tuned_model_agrees_with_the_expert_on_held_out_scenes(tuned_backend) -> None:
    r = Reasoner(tuned_backend, ReasonerConfig(deadline_ms=150.0))
    r.warm_up()
    try:
        figures = evaluate_reasoner(r, scenes=60, log=lambda _m: None)
    finally:
        r.wait_idle()
        r.backend = None
        r.close()
    model = figures["as_generated"]["model_no_deadline"]
    # 600 scenes (eval reasoner): 0.83 agreement, 26 unsafe misses of 231 that needed slowing
    # (the shipped adapter; the one before it: 0.84, 28). On these first 60 it agrees 0.73
    # (44 of 60): a 60-scene sample's standard error is ~5 points, so the floor sits below that
    # and still far above the stock model, which answers keep_lane to everything.
    assert model["scenes"] == 60 and model["agreement"] >= 0.70, model
    assert model["unsafe_misses"] <= 6, model
    deployed = figures["as_generated"]["deployed_at_deadline"]
    assert deployed["unsafe_misses"] <= model["unsafe_misses"] + 1, deployed
    assert figures["no_instruction"]["rules_only"]["scenes"] == 60


@pytest.mark.slow
def test_bench_reasoner_prints_its_figures_as_json(tuned_gguf: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edge_llm_ros.tools.cli", "bench", "reasoner", "--json",
         "--scenes", "12", "--baseline-scenes", "2"],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    onboard, baseline = figures["onboard"], figures["baseline"]
    for key in ("time_to_first_token_ms_p50", "time_to_settled_action_ms_p50",
                "decision_latency_ms_p50", "decision_latency_ms_p99", "deadline_hit_rate",
                "model_settled_share", "decode_tokens_per_s",
                "decode_share_of_bandwidth_ceiling"):
        assert isinstance(onboard[key], (int, float)), key
    assert onboard["scenes"] == 12 and baseline["scenes"] == 2
    assert figures["latency_ratio_baseline_over_onboard_p50"] > 0


@pytest.mark.slow
def test_a_car_closing_in_the_lane_is_never_answered_keep_lane(tuned_backend) -> None:
    """The scenario the product exists for: a car ahead in the ego lane, closing, with a
    time to collision between the rules' stop and slow-down thresholds (outside the safety
    envelope, so the model's answer stands). Aggregate agreement can hide a model that
    keeps its speed here: a 30 %-critical retrain (v3) and its 20-block student agreed
    more on the eval set yet answered keep_lane on 23 % and 42 % of these. Since the
    envelope covers leads closing faster than gentle braking absorbs
    (fallback.closing_decel_mps2), most of this grid is inside it and the model's
    keep_lane there is overridden; the rest is still the model's to answer."""
    import itertools

    from edge_llm_ros.reasoning.rules import rule_decide
    from edge_llm_ros.types import EgoState, SceneSummary, TrackedObject

    scenes = []
    for v, d, c in itertools.product([8, 12, 16], [10, 20, 30, 40], [3, 5, 8, 10]):
        s = SceneSummary(stamp_ns=1, ego=EgoState(speed_mps=float(v),
                                                        speed_limit_mps=13.9),
                            objects=[TrackedObject(5, "car", 1.0, (d, 0.0, 0.0),
                                                      (4.0, 2.0, 1.5), (0.0, 0.0, 0.0),
                                                      float(d), float(c), d / c, 0)])
        rule = rule_decide(s)
        if rule.action == "slow_down" and not rule.critical:
            scenes.append(s)
    assert len(scenes) >= 8
    r = Reasoner(tuned_backend, ReasonerConfig(deadline_ms=10_000.0))
    r.warm_up()
    answers = []
    try:
        for s in scenes:
            d = r.decide(s)
            r.wait_idle()
            answers.append((d.action, d.target_speed_mps, d.source))
    finally:
        r.backend = None
        r.close()
    assert all(source != 1 for *_, source in answers), answers  # the model answered
    kept = [a for a, *_ in answers if a == "keep_lane"]
    assert not kept, f"keep_lane on {len(kept)} of {len(scenes)}: {answers}"
