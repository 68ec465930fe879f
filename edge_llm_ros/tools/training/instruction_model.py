"""`edge-llm-ros train-instruction-model`: the on-board instruction model, trained here
from scratch on generated English, Chinese and German instructions (the training
templates of tools/training/instruction_dataset.py; the held-out ones are for eval).

The same small llama decoder and GGUF tooling as the decision model
(tools/training/decision_model.py): the SmolLM2 tokenizer (byte-level, so Chinese and
German need no new vocabulary), only the embedding rows the data uses trained, the
output layer over the answer vocabulary. It reads an instruction once, off the
per-scene deadline, and answers the tag line of reasoning/instruction.py.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from edge_llm_ros.reasoning.instruction import (
    INSTRUCTION_PROMPT_FORMAT,
    instruction_prompt,
    intent_to_text,
)
from edge_llm_ros.reasoning.model_files import sha256_file
from edge_llm_ros.tools.training.decision_model import (
    AnswerModelConfig,
    train_answer_model,
    write_archive,
)
from edge_llm_ros.tools.training.instruction_dataset import (
    LANGUAGES,
    SPLIT_TRAIN,
    InstructionSample,
    generate_instructions,
)
from edge_llm_ros.tools.training.reasoner import LlamaTokenizer

INSTRUCTION_TRAIN_SEED = 1000  # evaluation draws held-out templates with other seeds


@dataclass
class InstructionModelConfig(AnswerModelConfig):
    per_language: int = 12000  # training instructions per language
    epochs: int = 3
    decision_token_weight: float = 1.0  # every tag of the answer counts the same
    lexical_embedding: str = "frozen"  # words the templates never had still mean something
    # Word noise on the instruction's tokens (not its digits): each dropped or swapped for
    # one of its nearest neighbours in the base model's embedding with these chances, so
    # the model learns to read an instruction from more than one word.
    token_drop: float = 0.0
    token_swap: float = 0.0
    neighbours: int = 8


def nearest_neighbours(base_gguf: Path, token_ids: list[int], count: int) -> dict[int, list[int]]:
    """Each token's `count` nearest tokens by cosine in the base model's embedding."""
    import numpy as np

    from edge_llm_ros.tools.training.decision_model import base_token_embeddings

    embed = base_token_embeddings(base_gguf)
    embed /= np.linalg.norm(embed, axis=1, keepdims=True) + 1e-8
    out: dict[int, list[int]] = {}
    for at in range(0, len(token_ids), 256):
        chunk = token_ids[at:at + 256]
        sims = embed[chunk] @ embed.T
        sims[np.arange(len(chunk)), chunk] = -np.inf  # not itself
        best = np.argpartition(-sims, count, axis=1)[:, :count]
        for t, row in zip(chunk, best, strict=True):
            out[t] = [int(i) for i in row]
    return out


def noisy(ids: list[int], start: int, end: int, keep: set[int],
          neighbours: dict[int, list[int]], cfg: InstructionModelConfig,
          rng: random.Random) -> list[int]:
    """ids with the instruction's tokens in [start, end) dropped or swapped at random
    (tokens in `keep`, the digits, never)."""
    out = ids[:start]
    for t in ids[start:end]:
        r = rng.random()
        if t in keep or r >= cfg.token_drop + cfg.token_swap:
            out.append(t)
        elif r >= cfg.token_drop and neighbours.get(t):
            out.append(rng.choice(neighbours[t]))
    return out + ids[end:]


def prompt_and_answer(tok: Callable[[str], list[int]], sample: InstructionSample, eos_id: int
                      ) -> tuple[list[int], int]:
    """(token ids, where the answer starts): the prompt exactly as the interpreter builds it."""
    static, dynamic = instruction_prompt(sample.text)
    prompt = tok(static) + tok(dynamic)
    return prompt + tok(intent_to_text(sample.intent)) + [eos_id], len(prompt)


def train_instruction_model(out_dir: Path, base_gguf: Path, cfg: InstructionModelConfig,
                            log: Callable[[str], None] = print) -> dict:
    """Generate the training instructions, train, write the weight archive and manifest."""
    import torch

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    t_start = time.monotonic()
    tok = LlamaTokenizer(base_gguf)
    samples = list(generate_instructions(cfg.per_language, SPLIT_TRAIN,
                                         INSTRUCTION_TRAIN_SEED + cfg.seed))
    log(f"[train] {len(samples)} instructions ({', '.join(LANGUAGES)}), training templates only")
    data = [prompt_and_answer(tok, s, tok.eos_id) for s in samples]
    if cfg.token_drop + cfg.token_swap > 0:
        rng = random.Random(cfg.seed)
        static_len = len(tok(instruction_prompt("")[0]))
        tail_len = len(tok("<|im_end|>\n<|im_start|>intent\n"))
        used = sorted({t for ids, start in data for t in ids[static_len:start - tail_len]})
        keep = {t for t in used if any(c.isdigit() for c in tok.text(t))}
        neighbours = nearest_neighbours(base_gguf, used, cfg.neighbours)
        noised = []
        for ids, start in data:
            new = noisy(ids, static_len, start - tail_len, keep, neighbours, cfg, rng)
            noised.append((new, start - (len(ids) - len(new))))
        data = noised
        log(f"[train] word noise: drop {cfg.token_drop:.0%}, swap {cfg.token_swap:.0%} of "
            f"{len(used)} instruction tokens ({len(keep)} digit tokens kept)")
    arrays, steps, final_loss = train_answer_model(data, int(tok.vocab_size), tok.eos_id, cfg,
                                                   0, log, base_gguf=base_gguf)
    return write_archive(out_dir, arrays, {
        "architecture": "llama", "prompt_format": INSTRUCTION_PROMPT_FORMAT,
        "vocab_size": int(tok.vocab_size), "base_gguf": base_gguf.name,
        "base_sha256": sha256_file(base_gguf), "train": asdict(cfg),
        "languages": list(LANGUAGES), "instructions": len(data), "steps": steps,
        "final_loss": final_loss, "train_seconds": round(time.monotonic() - t_start, 1)}, log)
