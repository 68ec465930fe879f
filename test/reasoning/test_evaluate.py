"""Quality and speed figures come from real runs of the tuned model (small samples here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_llm_ros.reasoning.evaluate import PARAPHRASES, evaluate_reasoner, is_unsafe_miss
from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig

from .conftest import obj, scene

REPO = Path(__file__).resolve().parents[2]


def test_unsafe_miss_means_keep_lane_or_faster_when_slowing_was_needed() -> None:
    from edge_llm_ros.reasoning.dataset import make_scene
    from edge_llm_ros.reasoning.rules import RuleDecision

    s = make_scene("car_braking_ahead", 3)
    s.label = RuleDecision("stop", 0.0, (), "car ahead", critical=True)
    assert is_unsafe_miss(s, "keep_lane", 0.0)
    assert is_unsafe_miss(s, "slow_down", s.scene.ego.speed_mps + 3.0)
    assert not is_unsafe_miss(s, "slow_down", 0.0)
    assert set(PARAPHRASES.values()).isdisjoint(PARAPHRASES)  # held out, not training words
    assert scene(1.0, obj(1, "car", 1.0, 1.0)).objects


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["reasoner-smollm2-135m.Q8_0.gguf",
                                        "reasoner-smollm2-135m-student.Q8_0.gguf"])
def test_the_tuned_models_agree_with_the_expert_on_held_out_scenes(model_name: str,
                                                                   tuned_gguf: Path) -> None:
    from edge_llm_ros.reasoning.factory import resolve_model_path
    from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend

    path = resolve_model_path(model_name)
    assert path.is_file(), f"setup builds {model_name}"
    r = Reasoner(LlamaCppBackend(path, threads=2), ReasonerConfig(deadline_ms=150.0))
    r.warm_up()
    try:
        figures = evaluate_reasoner(r, scenes=60, log=lambda _m: None)
    finally:
        r.close()
    model = figures["as_generated"]["model_no_deadline"]
    # 600 scenes (eval reasoner): agreement 0.81 (student 0.83), 39 (49) unsafe misses of
    # 243 that needed slowing; the stock model (keep_lane always) agrees on under half.
    # 60 scenes leave about +-0.05 of sampling noise.
    assert model["scenes"] == 60 and model["agreement"] >= 0.70, model
    assert model["unsafe_misses"] <= 8, model
    deployed = figures["as_generated"]["deployed_at_deadline"]
    assert deployed["unsafe_misses"] <= model["unsafe_misses"] + 1, deployed
    assert figures["no_instruction"]["rules_only"]["scenes"] == 60


@pytest.mark.slow
def test_bench_reasoner_prints_its_figures_as_json(tuned_gguf: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edge_llm_ros.cli", "bench", "reasoner", "--json",
         "--frames", "12", "--baseline-scenes", "2"],
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
