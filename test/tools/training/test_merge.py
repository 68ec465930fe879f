"""Merging the adapter into the base GGUF: the result computes what transformers computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.reasoning.backend import ModelLoadError
from edge_llm_ros.reasoning.model_files import sha256_file
from edge_llm_ros.tools.training.merge import merge_to_gguf, rope_permute

pytestmark = pytest.mark.slow


def test_rope_permute_interleaves_halves_per_head() -> None:
    w = np.arange(8 * 2).reshape(8, 2)  # 2 heads of 4 rows
    p = rope_permute(w, 2)
    assert p[:, 0].tolist() == [0, 4, 2, 6, 8, 12, 10, 14]


def _random_adapter(model, base: Path, out: Path, blocks: tuple[int, ...] = (0, 11, 29),
                    **manifest) -> None:
    """Random low-rank updates on a few projections, applied to `model` in place too."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    tensors, r, alpha = {}, 4, 8.0
    for layer in blocks:
        for mod in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.down_proj"):
            lin = model.get_submodule(f"model.layers.{layer}.{mod}")
            a = (torch.randn(r, lin.in_features) * 0.05).half()
            b = (torch.randn(lin.out_features, r) * 0.05).half()
            tensors[f"model.layers.{layer}.{mod}.lora_A.weight"] = a
            tensors[f"model.layers.{layer}.{mod}.lora_B.weight"] = b
            with torch.no_grad():
                lin.weight += (alpha / r) * (b.float() @ a.float())
    out.mkdir()
    save_file(tensors, str(out / "adapter.safetensors"))
    (out / "adapter.json").write_text(json.dumps(
        {"rank": r, "alpha": alpha, "base_sha256": sha256_file(base), **manifest}))


def _logits(path: Path, text: str) -> tuple[np.ndarray, list[int]]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=128, logits_all=True, verbose=False)
    ids = llm.tokenize(text.encode(), add_bos=False, special=True)
    llm.eval(ids)
    out = np.array(llm.scores[: len(ids)])
    llm.close()
    return out, ids


def test_merged_gguf_matches_transformers_with_the_same_update(base_gguf: Path,
                                                               tmp_path: Path) -> None:
    import torch
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base_gguf.parent), gguf_file=base_gguf.name,
                                                 dtype=torch.float32)
    _random_adapter(model, base_gguf, tmp_path / "adapter")
    merged = merge_to_gguf(base_gguf, tmp_path / "adapter", tmp_path / "m.gguf", quant="F16",
                           log=lambda _m: None)
    text = "<|im_start|>scene\nv12 l14\n1 car e14 c5 t28\n" + '{"a":"'
    outputs = []
    for path in (merged, base_gguf):
        llm = Llama(model_path=str(path), n_ctx=128, logits_all=True, verbose=False)
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        llm.eval(ids)
        outputs.append(np.array(llm.scores[: len(ids)]))
        llm.close()
    with torch.no_grad():
        reference = model(torch.tensor([ids])).logits[0].numpy()
    merged_err = np.abs(outputs[0] - reference).max()
    base_err = np.abs(outputs[1] - reference).max()
    # F16 rounding only; a wrong row order for q/k would be as far off as the base.
    assert merged_err < 0.3 and base_err > 10 * merged_err, (merged_err, base_err)
    assert (outputs[0].argmax(1) == reference.argmax(1)).all()


def test_an_adapter_for_another_base_or_a_broken_one_is_refused(base_gguf: Path,
                                                               tmp_path: Path) -> None:
    from edge_llm_ros.paths import model_file

    shipped = model_file("reasoner_lora")
    other = tmp_path / "other"
    other.mkdir()
    (other / "adapter.safetensors").write_bytes((shipped / "adapter.safetensors").read_bytes())
    manifest = json.loads((shipped / "adapter.json").read_text())
    manifest["base_sha256"] = "0" * 64
    (other / "adapter.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="not the base"):
        merge_to_gguf(base_gguf, other, tmp_path / "x.gguf")
    (other / "adapter.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="unreadable"):
        merge_to_gguf(base_gguf, other, tmp_path / "x.gguf", check_base_hash=False)
    assert not (tmp_path / "x.gguf").exists()


def test_a_shallower_student_merges_to_what_transformers_computes(base_gguf: Path,
                                                                  tmp_path: Path) -> None:
    import gguf
    import torch
    from transformers import AutoModelForCausalLM

    from edge_llm_ros.tools.training.merge import load_tuned_hf_model
    from edge_llm_ros.tools.training.student import prune_hf_layers, student_layers

    model = AutoModelForCausalLM.from_pretrained(str(base_gguf.parent), gguf_file=base_gguf.name,
                                                 dtype=torch.float32)
    layers = student_layers(len(model.model.layers), 4)
    assert layers == [0, 1, 2, 29]
    prune_hf_layers(model, layers)
    _random_adapter(model, base_gguf, tmp_path / "adapter", blocks=(0, 3), layers=layers)
    merged = merge_to_gguf(base_gguf, tmp_path / "adapter", tmp_path / "s.gguf", quant="F16",
                           log=lambda _m: None)
    reader = gguf.GGUFReader(str(merged))
    assert reader.fields["llama.block_count"].contents() == 4
    assert not [t.name for t in reader.tensors if t.name.startswith("blk.4.")]
    text = "<|im_start|>scene\nv12 l14\n1 car e14 c5 t28\n" + '{"a":"'
    student, ids = _logits(merged, text)
    with torch.no_grad():
        reference = model(torch.tensor([ids])).logits[0].numpy()
        rebuilt = load_tuned_hf_model(base_gguf, tmp_path / "adapter")(
            torch.tensor([ids])).logits[0].numpy()
    full, _ = _logits(base_gguf, text)
    err = np.abs(student - reference).max()
    assert err < 0.3 and np.abs(full - reference).max() > 10 * err, err
    assert np.abs(rebuilt - reference).max() < 1e-3  # baseline / HF export prune the same


def test_student_layers_and_a_bad_manifest(base_gguf: Path, tmp_path: Path) -> None:
    from edge_llm_ros.tools.training.student import student_layers

    assert student_layers(30, 0) == list(range(30))
    assert student_layers(30, 20) == list(range(19)) + [29]
    with pytest.raises(ValueError):
        student_layers(30, 1)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    from safetensors.numpy import save_file
    save_file({}, str(adapter / "adapter.safetensors"))
    (adapter / "adapter.json").write_text(json.dumps(
        {"rank": 4, "alpha": 8.0, "base_sha256": sha256_file(base_gguf), "layers": [3, 1, 40]}))
    with pytest.raises(ModelLoadError, match="layers"):
        merge_to_gguf(base_gguf, adapter, tmp_path / "x.gguf", log=lambda _m: None)
