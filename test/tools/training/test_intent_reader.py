"""A short training run of the intent reader's heads: the archive loads, its manifest
says what it was trained on, and the trained heads read an instruction kind they were
trained on; the phrase bank stays out of the held-out split."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_llm_ros.reasoning.intent_reader import (
    INTENT_TAGS,
    EncoderIntentReader,
    IntentHeads,
    load_sentence_encoder,
)
from edge_llm_ros.tools.training.instruction_dataset import SPLIT_HELD_OUT, generate_instructions
from edge_llm_ros.tools.training.intent_reader import (
    IntentReaderConfig,
    tag_vector,
    train_intent_reader,
)


def test_a_short_run_writes_heads_that_read_instructions(tmp_path: Path) -> None:
    encoder = load_sentence_encoder(2)
    cfg = replace(IntentReaderConfig(), per_language=300, epochs=20)
    manifest = train_intent_reader(tmp_path, cfg, log=lambda _: None, encoder=encoder)
    training = manifest["training"]
    assert training["instructions"] == 900 and training["segments"] >= 900
    assert manifest["tags"] == list(INTENT_TAGS) and training["phrase_bank"]
    heads, loaded = IntentHeads.load(tmp_path)
    assert loaded == manifest and heads.w1.shape == (512, cfg.hidden)
    reader = EncoderIntentReader(tmp_path, encoder=encoder)
    assert reader.read("pull over").pull_over  # in every language's training data
    assert reader.read("").speed_cap_unit == ""


def test_tag_vectors_follow_the_intent() -> None:
    sample = next(s for s in generate_instructions(50, SPLIT_HELD_OUT, 3)
                  if s.intent.speed_cap_unit and s.intent.caution_reason)
    vector = tag_vector(sample.intent)
    on = {t for t, v in zip(INTENT_TAGS, vector, strict=True) if v}
    assert {"cap", f"caution:{sample.intent.caution_reason}"} <= on
    assert vector.dtype == np.float32 and vector.sum() == len(on)


def test_the_phrase_bank_never_reaches_the_held_out_split() -> None:
    plain = [s.text for s in generate_instructions(40, SPLIT_HELD_OUT, 5)]
    asked = [s.text for s in generate_instructions(40, SPLIT_HELD_OUT, 5,
                                                   extra_phrasings=True)]
    assert plain == asked
