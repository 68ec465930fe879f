"""The instruction stage: free text -> InstructionIntent, once per new instruction.

It runs off the per-scene deadline (an instruction arrives seldom and the vehicle keeps
driving on the keyword parser's reading meanwhile), so it may take tens of
milliseconds; readings are cached by text, so a repeated instruction costs nothing.
Two kinds of model read: the intent reader (a multilingual sentence encoder with heads
trained here, reasoning/intent_reader.py; the default) answers an InstructionIntent
directly; a language model (the instruction GGUF) answers a tag line generated under a
grammar and parsed strictly. Anything unusable (no model, a load or runtime error, an
unparsable answer) falls back to the keyword parser and says why.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from edge_llm_ros.reasoning.backend import GenerationRequest, ReasonerBackend
from edge_llm_ros.reasoning.instruction import (
    MAX_ANSWER_TOKENS,
    SOURCE_MODEL,
    SOURCE_REGEX,
    InstructionIntent,
    IntentParseError,
    answer_grammar,
    clean_instruction,
    instruction_prompt,
    intent_from_text,
    intent_to_text,
    regex_intent,
)


class IntentReader(Protocol):
    """A model that reads an instruction straight into an intent (EncoderIntentReader)."""

    model_id: str

    def warm_up(self) -> None: ...

    def read(self, text: str) -> InstructionIntent: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Interpretation:
    instruction: str  # as received
    intent: InstructionIntent
    source: str  # SOURCE_MODEL or SOURCE_REGEX
    interpret_ms: float  # model time (0 for a cached or keyword reading), milliseconds
    answer: str = ""  # the model's raw tag line
    note: str = ""  # why the keyword parser was used
    cached: bool = False


class InstructionInterpreter:
    """Thread-safe; one model call at a time. `backend`: an IntentReader, a language model
    answering tag lines, or None (keyword parser only)."""

    def __init__(self, backend: IntentReader | ReasonerBackend | None,
                 cache_size: int = 64) -> None:
        self.backend = backend
        self._cache: OrderedDict[str, Interpretation] = OrderedDict()
        self._cache_size = max(1, cache_size)
        self._lock = threading.Lock()
        self._grammar = answer_grammar()

    @property
    def model_id(self) -> str:
        return self.backend.model_id if self.backend is not None else "keyword parser only"

    def warm_up(self) -> None:
        if isinstance(self.backend, ReasonerBackend):
            self.backend.warm_up(instruction_prompt("")[0])
        elif self.backend is not None:
            self.backend.warm_up()

    def interpret(self, text: str) -> Interpretation:
        key = clean_instruction(text)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return Interpretation(text, hit.intent, hit.source, 0.0, hit.answer, hit.note,
                                      cached=True)
            reading = self._read(text, key)
            if reading.source == SOURCE_MODEL:  # a fallback reading is retried next time
                self._cache[key] = reading
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return reading

    def _read(self, text: str, key: str) -> Interpretation:
        if not key:
            return Interpretation(text, InstructionIntent(), SOURCE_MODEL, 0.0, "none")
        if self.backend is None:
            return Interpretation(text, regex_intent(text), SOURCE_REGEX, 0.0,
                                  note="no instruction model loaded")
        if not isinstance(self.backend, ReasonerBackend):
            return self._read_direct(self.backend, text)
        static, dynamic = instruction_prompt(text)
        pieces: list[str] = []
        t0 = time.perf_counter()
        try:
            self.backend.generate(GenerationRequest(static, dynamic, MAX_ANSWER_TOKENS,
                                                    self._grammar),
                                  lambda piece: pieces.append(piece) is None)
        except Exception as exc:  # noqa: BLE001 - any runtime failure: keep driving on keywords
            return Interpretation(text, regex_intent(text), SOURCE_REGEX,
                                  (time.perf_counter() - t0) * 1e3,
                                  note=f"instruction model failed: {type(exc).__name__}: {exc}")
        elapsed_ms = (time.perf_counter() - t0) * 1e3
        answer = "".join(pieces).strip()
        try:
            intent = intent_from_text(answer)
        except IntentParseError as exc:
            return Interpretation(text, regex_intent(text), SOURCE_REGEX, elapsed_ms, answer,
                                  note=f"unusable answer: {exc}")
        return Interpretation(text, intent, SOURCE_MODEL, elapsed_ms, answer)

    @staticmethod
    def _read_direct(reader: IntentReader, text: str) -> Interpretation:
        t0 = time.perf_counter()
        try:
            intent = reader.read(text)
        except Exception as exc:  # noqa: BLE001 - any runtime failure: keep driving on keywords
            return Interpretation(text, regex_intent(text), SOURCE_REGEX,
                                  (time.perf_counter() - t0) * 1e3,
                                  note=f"instruction reader failed: {type(exc).__name__}: "
                                       f"{exc}")
        return Interpretation(text, intent, SOURCE_MODEL, (time.perf_counter() - t0) * 1e3,
                              intent_to_text(intent))

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None
