"""train-reasoner end to end on a handful of scenes: a shallower student trains, merges and
answers through llama.cpp with the same grammar as the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_llm_ros.tools.training.merge import merge_to_gguf
from edge_llm_ros.tools.training.reasoner import TrainConfig, train_reasoner

pytestmark = pytest.mark.slow


def test_a_student_trains_merges_and_decides(base_gguf: Path, tmp_path: Path) -> None:
    import gguf

    from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
    from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
    from edge_llm_ros.tools.training.reasoner_dataset import EVAL_FIRST_SEED, generate

    logs: list[str] = []
    manifest = train_reasoner(tmp_path / "lora", TrainConfig(
        scenes=16, batch_size=8, lora_rank=2, keep_blocks=3, critical_share=0.5),
        log=logs.append)
    assert manifest["layers"] == [0, 1, 29] and manifest["steps"] == 2
    assert json.loads((tmp_path / "lora" / "adapter.json").read_text())["layers"] == [0, 1, 29]
    critical = next(m for m in logs if "safety-critical scenes" in m)
    assert int(critical.split()[1]) >= 8, critical  # critical_share 0.5 of 16

    model = merge_to_gguf(base_gguf, tmp_path / "lora", tmp_path / "s.gguf", quant="Q8_0",
                          log=lambda _m: None)
    assert gguf.GGUFReader(str(model)).fields["llama.block_count"].contents() == 3
    reasoner = Reasoner(LlamaCppBackend(model), ReasonerConfig(deadline_ms=5000.0))
    try:
        reasoner.warm_up()
        for sample in generate(3, EVAL_FIRST_SEED):
            decision = reasoner.decide(sample.scene, sample.instruction, sample.remote)
            reasoner.wait_idle()
            # two steps teach it little, but the grammar keeps every answer a valid one
            assert decision.fallback_reason == "" or "envelope" in decision.fallback_reason, \
                decision.fallback_reason
    finally:
        reasoner.close()
