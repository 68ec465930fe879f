"""The instruction stage's default model, the shipped intent reader (multilingual sentence
encoder + heads trained here): instructions in three languages, typos, indirect requests,
several clauses, flagged text; clause splitting; clear errors for missing or corrupt
heads; the interpreter falls back to the keyword parser when the reader fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.reasoning.backend import ModelLoadError
from edge_llm_ros.reasoning.instruction import SOURCE_MODEL, SOURCE_REGEX, intent_to_text
from edge_llm_ros.reasoning.intent_reader import (
    INTENT_TAGS,
    EncoderIntentReader,
    IntentHeads,
    intent_from_scores,
    reader_segments,
    split_clauses,
)
from edge_llm_ros.reasoning.interpreter import InstructionInterpreter
from test.reasoning.test_interpreter import PHRASINGS


def _shipped() -> Path:
    from edge_llm_ros.paths import model_file
    from edge_llm_ros.reasoning.model_files import INTENT_READER_DIR_NAME
    return model_file(INTENT_READER_DIR_NAME)


@pytest.fixture(scope="module")
def interpreter():
    from edge_llm_ros.reasoning.factory import instruction_reader

    reader = InstructionInterpreter(instruction_reader("encoder", "", threads=1), cache_size=8)
    reader.warm_up()
    yield reader
    reader.close()


# The language model's test phrasings, and more written for this test (none drawn from
# the training templates or the phrase bank).
@pytest.mark.parametrize(("text", "expected"), [
    *PHRASINGS,
    ("kepe it under 30 km/h", "cap 30 kmh"),
    ("stay in yuor lane", "stay"),
    ("下大雨了", "caution weather"),
    ("it's raining, keep it under 50 km/h and stay in your lane",
     "cap 50 kmh stay caution weather"),
])
def test_instructions_in_three_languages(interpreter: InstructionInterpreter, text: str,
                                         expected: str) -> None:
    reading = interpreter.interpret(text)
    assert reading.source == SOURCE_MODEL and not reading.note
    assert intent_to_text(reading.intent) == expected, reading
    assert reading.answer == expected and (reading.interpret_ms > 0 or reading.cached)


def test_a_repeated_instruction_comes_from_the_cache(interpreter: InstructionInterpreter
                                                      ) -> None:
    first = interpreter.interpret("keep it under 50 km/h and stay in your lane")
    again = interpreter.interpret("  keep it under 50 km/h   and stay in your lane ")
    assert again.cached and again.interpret_ms == 0.0 and again.intent == first.intent


def test_clauses_split_at_punctuation_and_joining_words_short_bits_kept_together() -> None:
    assert split_clauses("hey car, slow down to 30 km/h and stay in your lane") == [
        "hey car slow down to 30 km/h", "stay in your lane"]
    assert split_clauses("听着：靠边停车；下大雨了") == ["听着 靠边停车", "下大雨了"]
    assert split_clauses("halt") == ["halt"]
    assert reader_segments("pull over") == ["pull over"]  # one clause: the text alone
    assert reader_segments("STOP the car, it's icy") == ["stop the car, it's icy",
                                                         "stop the car", "it's icy"]


def test_tags_pool_over_clauses_with_one_reason_and_one_side() -> None:
    logits = np.full((3, len(INTENT_TAGS)), -5.0)
    logits[1, INTENT_TAGS.index("cap")] = 3.0
    logits[2, INTENT_TAGS.index("caution:weather")] = 1.0
    logits[2, INTENT_TAGS.index("caution:unspecified")] = 2.0
    logits[0, INTENT_TAGS.index("left")] = 0.5
    logits[2, INTENT_TAGS.index("right")] = 1.5
    intent = intent_from_scores(logits, ["all", "keep it under 20 mph", "rain, careful"])
    assert intent_to_text(intent) == "cap 20 mph right caution unspecified"
    # A cap with no number anywhere is no cap: a value is needed to act on it.
    assert intent_from_scores(logits, ["a", "slow", "b"]).speed_cap_unit == ""


def test_missing_corrupt_and_mismatched_heads_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="manifest.json is missing"):
        IntentHeads.load(tmp_path)
    shipped = _shipped()
    (tmp_path / "manifest.json").write_text((shipped / "manifest.json").read_text())
    (tmp_path / "heads.npz").write_bytes(b"not an archive")
    with pytest.raises(ModelLoadError, match="sha256"):
        IntentHeads.load(tmp_path)
    manifest = json.loads((shipped / "manifest.json").read_text())
    manifest.pop("heads_sha256")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="cannot read"):
        IntentHeads.load(tmp_path)
    manifest["tags"] = ["cap"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "heads.npz").write_bytes((shipped / "heads.npz").read_bytes())
    with pytest.raises(ModelLoadError, match="trained for tags"):
        IntentHeads.load(tmp_path)


def test_a_failing_reader_falls_back_to_keywords_and_is_retried() -> None:
    reader = EncoderIntentReader(_shipped())
    interpreter = InstructionInterpreter(reader)
    reader.close()  # the encoder is gone: read() raises
    reading = interpreter.interpret("pull over please")
    assert reading.source == SOURCE_REGEX and "instruction reader failed" in reading.note
    assert reading.intent.pull_over
    assert not interpreter.interpret("pull over please").cached
