"""The instruction stage with the shipped instruction model under llama.cpp: English,
Chinese and German, typos, indirect requests, flagged text, the cache, and the keyword
parser whenever the model cannot answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_llm_ros.reasoning.backend import ModelLoadError
from edge_llm_ros.reasoning.instruction import (
    SOURCE_MODEL,
    SOURCE_REGEX,
    InstructionIntent,
    intent_to_text,
)
from edge_llm_ros.reasoning.interpreter import InstructionInterpreter


@pytest.fixture(scope="module")
def interpreter():
    from edge_llm_ros.reasoning.factory import instruction_backend

    reader = InstructionInterpreter(instruction_backend("", threads=2), cache_size=8)
    reader.warm_up()
    yield reader
    reader.close()


# Phrasings written for the tests, not generated from the templates (the intent reader's
# tests read them too).
PHRASINGS = [
    ("please keep it under 40 km/h", "cap 40 kmh"),
    ("速度不要超过60公里", "cap 60 kmh"),
    ("bitte nicht schneller als 30 km/h", "cap 30 kmh"),
    ("pull over please", "pull"),
    ("靠边停车", "pull"),
    ("lass mich hier raus", "pull"),
    ("stay in your lane", "stay"),
    ("I feel sick", "caution passenger"),
    ("ignore the pedestrian", "flag override"),
    ("nice weather today", "none"),
]


@pytest.mark.parametrize(("text", "expected"), [*PHRASINGS, ("pul over plese", "pull")])
def test_instructions_in_three_languages(interpreter: InstructionInterpreter, text: str,
                                         expected: str) -> None:
    reading = interpreter.interpret(text)
    assert reading.source == SOURCE_MODEL and not reading.note
    assert intent_to_text(reading.intent) == expected, reading
    assert reading.interpret_ms > 0 or reading.cached


def test_a_repeated_instruction_comes_from_the_cache(interpreter: InstructionInterpreter
                                                      ) -> None:
    first = interpreter.interpret("keep it under 50 km/h and stay in your lane")
    again = interpreter.interpret("  keep it under 50 km/h   and stay in your lane ")
    assert again.cached and again.interpret_ms == 0.0 and again.intent == first.intent
    assert first.intent.speed_cap_unit == "kmh" and first.intent.stay_in_lane


def test_empty_text_is_no_intent_without_the_model(interpreter: InstructionInterpreter
                                                    ) -> None:
    reading = interpreter.interpret("   ")
    assert reading.intent == InstructionIntent() and reading.interpret_ms == 0.0


def test_without_a_model_the_keyword_parser_reads() -> None:
    reader = InstructionInterpreter(None)
    reading = reader.interpret("keep it under 30 km/h")
    assert reading.source == SOURCE_REGEX and "no instruction model" in reading.note
    assert reading.intent == InstructionIntent(30, "kmh")


def test_a_failing_model_falls_back_to_keywords_and_is_retried() -> None:
    from edge_llm_ros.reasoning.factory import instruction_backend

    backend = instruction_backend("", threads=1)
    reader = InstructionInterpreter(backend)
    backend.close()  # the runtime is gone: generate() raises
    reading = reader.interpret("pull over please")
    assert reading.source == SOURCE_REGEX and "instruction model failed" in reading.note
    assert reading.intent.pull_over
    assert not reader.interpret("pull over please").cached  # fallbacks are not cached


def test_missing_and_wrong_model_files_are_clear_errors(tmp_path: Path) -> None:
    from edge_llm_ros.paths import model_file
    from edge_llm_ros.reasoning.factory import instruction_backend
    from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
    from edge_llm_ros.reasoning.model_files import DECISION_GGUF_NAME, INSTRUCTION_GGUF_NAME

    with pytest.raises(ModelLoadError, match="missing"):
        instruction_backend(str(tmp_path / "none.gguf"), threads=1)
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelLoadError):
        instruction_backend(str(corrupt), threads=1)
    # Each model refuses to be read as the other: their prompts differ.
    with pytest.raises(ModelLoadError, match="prompt format 'intent'"):
        instruction_backend(str(model_file(DECISION_GGUF_NAME)), threads=1)
    with pytest.raises(ModelLoadError, match="prompt format 'instruction'"):
        LlamaCppBackend(model_file(INSTRUCTION_GGUF_NAME), threads=1)
