"""One interface for every language-model runtime the reasoner can use.

A backend turns a prompt (a static prefix whose key/value cache it keeps, plus
the per-scene text) into tokens, streamed to a callback that can stop it, with
an optional grammar (GBNF) that constrains what may be generated. The reasoner
owns deadlines and parsing; backends only generate and time themselves.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field


class ModelLoadError(RuntimeError):
    """A model file is missing, unreadable or not what its backend expects."""


@dataclass(frozen=True)
class GenerationRequest:
    static_prefix: str  # same on every call: its key/value cache is computed once and reused
    dynamic_text: str  # the scene, ending with the forced start of the answer
    max_new_tokens: int
    grammar: str | None = None  # GBNF for the continuation; None: unconstrained


@dataclass
class GenerationStats:
    prompt_tokens: int = 0  # static + dynamic
    reused_tokens: int = 0  # prompt tokens whose key/value cache was reused
    generated_tokens: int = 0
    first_token_ms: float = float("nan")  # call start -> first generated token
    total_ms: float = float("nan")  # call start -> return
    stopped_by_caller: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def decode_tokens_per_s(self) -> float:
        """Tokens after the first over the time after the first token."""
        span_ms = self.total_ms - self.first_token_ms
        if self.generated_tokens < 2 or not span_ms > 0.0:
            return float("nan")
        return (self.generated_tokens - 1) / (span_ms / 1000.0)


# on_piece(text) -> keep going?  Called once per generated token with its text.
PieceCallback = Callable[[str], bool]
# still_wanted() -> is the answer still wanted?  Polled between prefill chunks, so a
# prompt whose deadline passed stops within one chunk instead of holding the model
# through the next scene.
WantedCallback = Callable[[], bool]


class ReasonerBackend(abc.ABC):
    """A loaded model. Not thread-safe: one generate() at a time."""

    name: str = "?"
    model_id: str = "?"
    # The prompt the model was trained on (reasoning/encoding.py: "text" or "intent").
    prompt_format: str = "text"

    @abc.abstractmethod
    def generate(self, request: GenerationRequest, on_piece: PieceCallback,
                 still_wanted: WantedCallback | None = None) -> GenerationStats:
        """Generate greedily until done, max_new_tokens, or on_piece returns False;
        a backend that prefills in steps stops early once still_wanted() is False."""

    def warm_up(self, static_prefix: str) -> None:  # noqa: B027 - optional hook
        """Compute the static prefix's key/value cache ahead of the first scene."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model."""

    @property
    def weight_bytes_per_token(self) -> float:
        """Bytes of weights read per decoded token (for the memory-bandwidth ceiling)."""
        return float("nan")
