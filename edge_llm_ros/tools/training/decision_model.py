"""`edge-llm-ros train-decision-model`: a small decision language model, trained here from
scratch on the rollout teacher's labels, and its GGUF for llama.cpp.

Why a model of its own rather than the tuned 135M one: on a 2-core vehicle CPU the
135M model needs 110-180 ms to read a 35-token scene, so against a 150 ms deadline
it settles fewer than half the decisions and the rules decide the rest. The scene
language is small (integers and one-letter tags), the answer a JSON object under a
grammar; a 4-block decoder with 128-wide states reads and answers it in a few ms.

It is a llama-architecture decoder with the base model's tokenizer (the same token
ids the runtime's tokenizer produces), so llama.cpp runs it, quantized, with the
same grammar, prefix cache and deadline machinery as any GGUF. Only the rows of the
embedding the scene language uses are trained. The output layer is trained over the
answer vocabulary (every token an answer uses, and the end token) plus one shared
row standing for every other token, whose logit carries log(count) so the softmax
is the full vocabulary's; in the exported file every other token gets that row, so
llama.cpp sees the distribution training saw.

Shipped as a small weight archive (`models/decision_model/`); `build-reasoner`
assembles the GGUF at setup with the base file's tokenizer.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge_llm_ros.reasoning.encoding import PROMPT_INTENT, dynamic_text, encode_scene, static_prefix
from edge_llm_ros.reasoning.model_files import sha256_file
from edge_llm_ros.tools.training.decision_dataset import (
    DECISION_EVAL_FIRST_SEED,
    DECISION_TRAIN_FIRST_SEED,
    RANDOM_TRAFFIC,
    generate_decision_scenes,
    training_families,
)
from edge_llm_ros.tools.training.reasoner import LlamaTokenizer, answer_for
from edge_llm_ros.tools.training.reasoner_dataset import LabelledScene
from edge_llm_ros.tools.training.schedule import Optimiser, pad_batch, shuffled_batches

WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "manifest.json"
CONTEXT_TOKENS = 512
DECISION_TOKENS = 5  # every action name is settled within its first five tokens


@dataclass
class AnswerModelConfig:
    """A small decoder trained from scratch to answer short prompts: its shape and training."""

    hidden: int = 192
    blocks: int = 4
    heads: int = 6
    kv_heads: int = 2
    ffn: int = 512
    epochs: int = 2
    decision_token_weight: float = 4.0  # the answer's first tokens (the action) weigh this much
    batch_size: int = 64
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    seed: int = 0
    threads: int = 2
    rms_eps: float = 1e-5
    rope_theta: float = 10000.0
    # Token embeddings: "" trains one row per token the data uses (unseen tokens stay
    # zero); "frozen" derives every token's row from the base model's embedding (a fixed
    # projection to `hidden` and one trained mixing matrix), so a word the training data
    # never had still lands near the words it resembles; "init" starts every row there
    # and trains the rows the data uses.
    lexical_embedding: str = ""
    # Continue training from this weight archive (same shape) instead of from scratch:
    # a longer schedule in stages, each on scenes the earlier stages never drew.
    init_from: str = ""


ARCHITECTURE_FIELDS = ("hidden", "blocks", "heads", "kv_heads", "ffn", "rms_eps", "rope_theta")


def architecture_of(manifest: dict) -> AnswerModelConfig:
    """The network's shape from an archive's manifest (whatever else it was trained with)."""
    return AnswerModelConfig(**{k: manifest["train"][k] for k in ARCHITECTURE_FIELDS})


@dataclass
class DecisionModelConfig(AnswerModelConfig):
    per_family: int = 2500  # teacher-labelled scenes per training family
    random_traffic_scenes: int = 10000  # more of the unscripted family (on top of per_family)
    first_seed: int = DECISION_TRAIN_FIRST_SEED  # a later stage starts past the earlier draws


def prompt_and_answer(tok: Callable[[str], list[int]], sample: LabelledScene, eos_id: int
                      ) -> tuple[list[int], int]:
    """(token ids, where the answer starts): the prompt exactly as the reasoner builds it."""
    prompt = tok(static_prefix(sample.instruction, sample.intent, PROMPT_INTENT)) + tok(
        dynamic_text(encode_scene(sample.scene, sample.scene.objects, PROMPT_INTENT),
                     sample.remote))
    return prompt + tok(answer_for(sample)) + [eos_id], len(prompt)


def _hf_config(cfg: AnswerModelConfig, vocab: int):
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=vocab, hidden_size=cfg.hidden, intermediate_size=cfg.ffn,
                       num_hidden_layers=cfg.blocks, num_attention_heads=cfg.heads,
                       num_key_value_heads=cfg.kv_heads, max_position_embeddings=CONTEXT_TOKENS,
                       rms_norm_eps=cfg.rms_eps, rope_theta=cfg.rope_theta,
                       tie_word_embeddings=False, hidden_act="silu")


def train_decision_model(out_dir: Path, base_gguf: Path, cfg: DecisionModelConfig,
                         log: Callable[[str], None] = print) -> dict:
    """Generate the teacher-labelled set, train, write the weight archive and manifest."""
    import torch

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    t_start = time.monotonic()
    tok = LlamaTokenizer(base_gguf)
    families = training_families()
    log(f"[train] {cfg.per_family} teacher-labelled scenes for each of {len(families)} "
        f"families: {', '.join(families)}")
    if cfg.first_seed < DECISION_TRAIN_FIRST_SEED or \
            cfg.first_seed + cfg.per_family + cfg.random_traffic_scenes > DECISION_EVAL_FIRST_SEED:
        raise ValueError(f"training seeds must lie in [{DECISION_TRAIN_FIRST_SEED}, "
                         f"{DECISION_EVAL_FIRST_SEED}), the evaluation's start there")
    samples = list(generate_decision_scenes(cfg.per_family, cfg.first_seed, families))
    if RANDOM_TRAFFIC in families and cfg.random_traffic_scenes > 0:
        samples += generate_decision_scenes(cfg.random_traffic_scenes,
                                            cfg.first_seed + cfg.per_family, [RANDOM_TRAFFIC])
    data = [prompt_and_answer(tok, s, tok.eos_id) for s in samples]
    init, init_manifest = None, {}
    if cfg.init_from:
        init_manifest, init = load_archive(Path(cfg.init_from))
        log(f"[train] continuing from {cfg.init_from} ({init_manifest['scenes']} scenes, "
            f"{init_manifest['steps']} steps)")
    arrays, steps, final_loss = train_answer_model(data, int(tok.vocab_size), tok.eos_id, cfg,
                                                   DECISION_TOKENS, log, init=init)
    history = [*init_manifest.get("stages", [_stage_of(init_manifest)])] if init else []
    return write_archive(out_dir, arrays, {
        "architecture": "llama", "prompt_format": PROMPT_INTENT,
        "vocab_size": int(tok.vocab_size), "base_gguf": base_gguf.name,
        "base_sha256": sha256_file(base_gguf), "train": asdict(cfg), "families": families,
        "scenes": len(data), "steps": steps, "final_loss": final_loss,
        "train_seconds": round(time.monotonic() - t_start, 1),
        **({"stages": [*history, _stage_of({"train": asdict(cfg), "scenes": len(data),
                                            "steps": steps, "final_loss": final_loss})]}
           if init else {})}, log)


def _stage_of(manifest: dict) -> dict:
    """One training stage as the manifest records it (a staged archive lists them all)."""
    train = manifest["train"]
    return {"first_seed": train.get("first_seed", DECISION_TRAIN_FIRST_SEED),
            "per_family": train["per_family"],
            "random_traffic_scenes": train["random_traffic_scenes"], "epochs": train["epochs"],
            "learning_rate": train["learning_rate"], "scenes": manifest["scenes"],
            "steps": manifest["steps"], "final_loss": manifest["final_loss"]}


LEXICAL_RMS = 0.05  # scale of the projected base embeddings fed to the first block


def lexical_basis(base_gguf: Path, hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, projection): the base model's token embeddings centred and projected on
    their first `hidden` principal directions, scaled to LEXICAL_RMS; deterministic, so
    export recomputes every row from the base file and the archive stays small."""
    embed = base_token_embeddings(base_gguf)
    mean = embed.mean(axis=0)
    _, singular, vt = np.linalg.svd(embed - mean, full_matrices=False)
    projection = vt[:hidden].T  # (base width, hidden)
    signs = np.sign(projection[np.abs(projection).argmax(axis=0), range(hidden)])
    projection = projection * signs  # SVD's sign is arbitrary: fix it
    rms = float(np.sqrt(np.mean(((embed - mean) @ projection) ** 2)))
    return mean.astype(np.float32), (projection * (LEXICAL_RMS / rms)).astype(np.float32)


def base_token_embeddings(base_gguf: Path) -> np.ndarray:
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    tensor = next(t for t in reader.tensors if t.name == "token_embd.weight")
    return gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)


def lexical_rows(arrays: dict[str, np.ndarray], base_gguf: Path) -> np.ndarray:
    """Every token's embedding row of a lexical-embedding archive (before any trained rows)."""
    base = base_token_embeddings(base_gguf)
    projected = (base - arrays["lexical_mean"]) @ arrays["lexical_projection"]
    if "lexical_mix" not in arrays:
        return projected
    return projected @ arrays["lexical_mix"].astype(np.float32).T


def train_answer_model(data: list[tuple[list[int], int]], vocab: int, pad_id: int,
                       cfg: AnswerModelConfig, first_tokens: int,
                       log: Callable[[str], None] = print, base_gguf: Path | None = None,
                       init: dict[str, np.ndarray] | None = None
                       ) -> tuple[dict[str, np.ndarray], int, float]:
    """Train a small llama decoder on (token ids, answer start) pairs, from scratch or from
    an archive's arrays (`init`, same shape), the loss on the answer only (its first
    `first_tokens` tokens weigh cfg.decision_token_weight); (archive arrays, steps, final
    loss)."""
    import torch
    from transformers import LlamaForCausalLM

    t_start = time.monotonic()
    answer_vocab = sorted({t for ids, start in data for t in ids[start:]})
    used_vocab = sorted({t for ids, _ in data for t in ids})
    log(f"[train] {len(data)} sequences, mean {np.mean([len(d[0]) for d in data]):.0f} tokens; "
        f"{len(used_vocab)} token ids used, {len(answer_vocab)} in answers")

    model = LlamaForCausalLM(_hf_config(cfg, vocab))
    model.lm_head = None  # the output layer is the answer rows below
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0.0, 0.02)
    lexical, mix, extra = None, None, []
    if cfg.lexical_embedding not in ("", "frozen", "init"):
        raise ValueError(f"lexical_embedding must be '', 'frozen' or 'init', got "
                         f"{cfg.lexical_embedding!r}")
    if cfg.lexical_embedding:
        if base_gguf is None:
            raise ValueError("lexical_embedding needs the base GGUF")
        lexical_mean, lexical_projection = lexical_basis(base_gguf, cfg.hidden)
        lexical = torch.from_numpy(
            (base_token_embeddings(base_gguf) - lexical_mean) @ lexical_projection)
    if cfg.lexical_embedding == "init":
        with torch.no_grad():
            model.model.embed_tokens.weight.copy_(lexical)
        lexical = None  # trained as an ordinary embedding from here
    elif cfg.lexical_embedding == "frozen":
        model.model.embed_tokens.weight.requires_grad_(False)
        mix = torch.nn.Parameter(torch.eye(cfg.hidden))
        extra = [mix]
    answer_ids = torch.tensor(answer_vocab, dtype=torch.long)
    out_rows = torch.nn.Parameter(torch.randn(len(answer_vocab), cfg.hidden) * 0.02)
    other_row = torch.nn.Parameter(torch.zeros(cfg.hidden))
    log_others = math.log(vocab - len(answer_vocab))
    index_of = {t: i for i, t in enumerate(answer_vocab)}
    if init is not None:
        _load_init(model, out_rows, other_row, mix, init, answer_vocab)
    params = [p for p in model.parameters() if p.requires_grad] + [out_rows, other_row, *extra]
    steps = cfg.epochs * math.ceil(len(data) / cfg.batch_size)
    optimiser = Optimiser(params, cfg.learning_rate, 0.01, cfg.warmup_steps, steps, log)
    model.train()
    for indices in shuffled_batches(len(data), cfg.batch_size, cfg.epochs):
        batch = [data[i] for i in indices]
        ids, mask = pad_batch([seq for seq, _ in batch], pad_id)
        rows, cols, targets, weights = [], [], [], []
        for r, (seq, start) in enumerate(batch):
            for p in range(start, len(seq)):  # position p-1 predicts token p
                rows.append(r)
                cols.append(p - 1)
                targets.append(index_of[seq[p]])
                weights.append(cfg.decision_token_weight if p < start + first_tokens
                               else 1.0)
        if lexical is None:
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        else:
            hidden = model.model(inputs_embeds=lexical[ids] @ mix.T,
                                 attention_mask=mask).last_hidden_state
        h = hidden[torch.tensor(rows), torch.tensor(cols)]
        logits = torch.cat([h @ out_rows.T, (h @ other_row + log_others)[:, None]], dim=1)
        per_token = torch.nn.functional.cross_entropy(logits, torch.tensor(targets),
                                                      reduction="none")
        w = torch.tensor(weights)
        optimiser.step((per_token * w).sum() / w.sum())
    log(f"[train] {steps} steps in {time.monotonic() - t_start:.0f} s, "
        f"final loss {optimiser.recent_loss:.4f}")

    state = {k: v.detach().float().numpy() for k, v in model.model.state_dict().items()}
    used = np.array(used_vocab, dtype=np.int64)
    arrays = {"used_ids": used, "answer_ids": answer_ids.numpy(),
              "embed_rows": state.pop("embed_tokens.weight")[used].astype(np.float16),
              "output_rows": out_rows.detach().numpy().astype(np.float16),
              "other_row": other_row.detach().numpy().astype(np.float32)}
    if cfg.lexical_embedding == "frozen":
        del arrays["embed_rows"]
        arrays["lexical_mix"] = mix.detach().numpy().astype(np.float32)
    if cfg.lexical_embedding:  # rows the data never used are recomputed from the base file
        arrays.update(lexical_mean=lexical_mean, lexical_projection=lexical_projection)
    for name, value in state.items():
        if "rotary" not in name:
            arrays[name] = value.astype(np.float16 if value.ndim == 2 else np.float32)
    return arrays, steps, optimiser.recent_loss


def _load_init(model, out_rows, other_row, mix, init: dict[str, np.ndarray],
               answer_vocab: list[int]) -> None:
    """Start from an archive: blocks, norm and the rows it trained; answer tokens it never
    had keep their fresh rows."""
    import torch

    state = model.model.state_dict()
    blocks = {k: torch.from_numpy(v.astype(np.float32)) for k, v in init.items()
              if k.startswith(("layers.", "norm."))}
    if set(blocks) != {k for k in state if k.startswith(("layers.", "norm."))
                       and "rotary" not in k}:
        raise ValueError("init archive's blocks do not fit this shape")
    with torch.no_grad():
        model.model.load_state_dict(blocks, strict=False)
        if "embed_rows" in init:
            model.model.embed_tokens.weight[torch.from_numpy(init["used_ids"])] = \
                torch.from_numpy(init["embed_rows"].astype(np.float32))
        if mix is not None and "lexical_mix" in init:
            mix.copy_(torch.from_numpy(init["lexical_mix"]))
        row_of = {int(t): i for i, t in enumerate(init["answer_ids"])}
        for i, t in enumerate(answer_vocab):
            if t in row_of:
                out_rows[i] = torch.from_numpy(init["output_rows"][row_of[t]].astype(np.float32))
        other_row.copy_(torch.from_numpy(init["other_row"].astype(np.float32)))


def write_archive(out_dir: Path, arrays: dict[str, np.ndarray], manifest: dict,
                  log: Callable[[str], None] = print) -> dict:
    """weights.npz and manifest.json (with the weights' sha256), each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (WEIGHTS_FILE + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out_dir / WEIGHTS_FILE)
    manifest = {**manifest, "weights_sha256": sha256_file(out_dir / WEIGHTS_FILE)}
    tmp_manifest = out_dir / (MANIFEST_FILE + ".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp_manifest, out_dir / MANIFEST_FILE)
    log(f"[train] wrote {out_dir / WEIGHTS_FILE} "
        f"({(out_dir / WEIGHTS_FILE).stat().st_size / 1e6:.1f} MB)")
    return manifest


def full_matrices(arrays: dict[str, np.ndarray], vocab: int, hidden: int,
                  base_gguf: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(embedding, output) over the whole vocabulary: unused embedding rows zero (or, for
    a lexical-embedding archive, every row from the base file), every output row outside
    the answer vocabulary the shared `other` row."""
    if "lexical_projection" in arrays:
        if base_gguf is None:
            raise ValueError("a lexical-embedding archive needs the base GGUF")
        embed = lexical_rows(arrays, base_gguf).astype(np.float32)
        if "embed_rows" in arrays:  # trained rows over their starting points
            embed[arrays["used_ids"]] = arrays["embed_rows"].astype(np.float32)
    else:
        embed = np.zeros((vocab, hidden), np.float32)
        embed[arrays["used_ids"]] = arrays["embed_rows"].astype(np.float32)
    output = np.tile(arrays["other_row"].astype(np.float32), (vocab, 1))
    output[arrays["answer_ids"]] = arrays["output_rows"].astype(np.float32)
    return embed, output


def hf_model_from_archive(archive_dir: Path, base_gguf: Path | None = None):
    """The archive as a transformers LlamaForCausalLM over the whole vocabulary (the network
    the GGUF holds), for checking the export and for GPU runtimes that load HF weights."""
    import torch
    from transformers import LlamaForCausalLM

    manifest, arrays = load_archive(archive_dir)
    cfg = architecture_of(manifest)
    vocab = int(manifest["vocab_size"])
    model = LlamaForCausalLM(_hf_config(cfg, vocab))
    state = {f"model.{k}": torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()
             if k.startswith(("layers.", "norm."))}
    embed, output = full_matrices(arrays, vocab, cfg.hidden, base_gguf)
    state["model.embed_tokens.weight"] = torch.from_numpy(embed)
    state["lm_head.weight"] = torch.from_numpy(output)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "rotary" not in m]:
        raise ValueError(f"archive does not fit the model: missing {missing}, "
                         f"unexpected {unexpected}")
    return model.eval()


_HF_TO_GGUF_BLOCK = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def load_archive(archive_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(manifest, arrays); ModelLoadError when either is missing, corrupt or mismatched."""
    from edge_llm_ros.reasoning.backend import ModelLoadError

    manifest_path, weights_path = archive_dir / MANIFEST_FILE, archive_dir / WEIGHTS_FILE
    try:
        manifest = json.loads(manifest_path.read_text())
        if sha256_file(weights_path) != manifest["weights_sha256"]:
            raise ModelLoadError(f"{weights_path} does not match {manifest_path} (sha256)")
        with np.load(weights_path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"decision model archive {archive_dir} unreadable: {exc}") from exc
    return manifest, arrays


def export_gguf(archive_dir: Path, base_gguf: Path, out_path: Path, quant: str = "Q8_0",
                log: Callable[[str], None] = print) -> Path:
    """The archive as a llama.cpp GGUF with the base file's tokenizer (atomic write)."""
    import gguf

    from edge_llm_ros.reasoning.backend import ModelLoadError
    from edge_llm_ros.tools.training.merge import QUANT_TYPES, _field, rope_permute, write_quantized

    if quant not in QUANT_TYPES:
        raise ValueError(f"quant must be one of {', '.join(QUANT_TYPES)}, got {quant!r}")
    manifest, arrays = load_archive(archive_dir)
    if sha256_file(base_gguf) != manifest["base_sha256"]:
        raise ModelLoadError(f"{base_gguf} is not the tokenizer source the decision model was "
                             f"trained with (sha256 differs from {archive_dir / MANIFEST_FILE})")
    cfg = architecture_of(manifest)
    vocab = int(manifest["vocab_size"])
    reader = gguf.GGUFReader(str(base_gguf))
    arch = "llama"
    if str(_field(reader, "general.architecture")) != arch:
        raise ModelLoadError(f"{base_gguf} is not a llama-architecture file")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    f16_path = out_path.with_name(out_path.name + ".f16.tmp")
    writer = gguf.GGUFWriter(str(f16_path), arch=arch)
    for field in reader.fields.values():
        name = field.name
        if name.startswith(("GGUF.", f"{arch}.")) or name in (
                gguf.Keys.General.ARCHITECTURE, "general.file_type") or \
                not name.startswith(("tokenizer.", "general.")):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), vtype, sub_type=sub)
    writer.add_context_length(CONTEXT_TOKENS)
    writer.add_embedding_length(cfg.hidden)
    writer.add_block_count(cfg.blocks)
    writer.add_feed_forward_length(cfg.ffn)
    writer.add_head_count(cfg.heads)
    writer.add_head_count_kv(cfg.kv_heads)
    writer.add_rope_dimension_count(cfg.hidden // cfg.heads)
    writer.add_rope_freq_base(cfg.rope_theta)
    writer.add_layer_norm_rms_eps(cfg.rms_eps)
    writer.add_vocab_size(vocab)
    writer.add_key_value("general.file_type", int(gguf.LlamaFileType.MOSTLY_F16),
                         gguf.GGUFValueType.UINT32)
    writer.add_key_value("edge_llm_ros.prompt_format", manifest["prompt_format"],
                         gguf.GGUFValueType.STRING)
    writer.add_key_value("edge_llm_ros.weights_sha256", manifest["weights_sha256"],
                         gguf.GGUFValueType.STRING)

    embed, output = full_matrices(arrays, vocab, cfg.hidden, base_gguf)
    writer.add_tensor("token_embd.weight", embed.astype(np.float16))
    for i in range(cfg.blocks):
        for hf, gg in _HF_TO_GGUF_BLOCK.items():
            w = arrays[f"layers.{i}.{hf}"].astype(np.float32)
            if hf.startswith("self_attn.q_proj"):
                w = rope_permute(w, cfg.heads)
            elif hf.startswith("self_attn.k_proj"):
                w = rope_permute(w, cfg.kv_heads)
            writer.add_tensor(f"blk.{i}.{gg}", w.astype(np.float16 if w.ndim == 2 else np.float32))
    writer.add_tensor("output_norm.weight", arrays["norm.weight"].astype(np.float32))
    writer.add_tensor("output.weight", output.astype(np.float16))
    return write_quantized(writer, f16_path, out_path, quant, log)
