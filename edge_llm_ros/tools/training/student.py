"""A shallower student of the base model: the same weights with some decoder blocks left out.

Prefill dominates the time to a settled action on a CPU and costs the same
per block, so a student keeping k of n blocks settles in about k/n of the
time. Which blocks: the first k-1 and the last. Deeper blocks of a decoder
change its hidden state least (the last one maps it to the vocabulary and is
kept); LoRA training on the task then heals the gap. The adapter's manifest
lists the kept base blocks ("layers"); build-reasoner drops the others from
the GGUF, and the naive baseline and the Hugging Face export prune the same.
"""

from __future__ import annotations


def student_layers(total_blocks: int, keep_blocks: int) -> list[int]:
    """Base block indices a student of `keep_blocks` keeps, in order (0: all)."""
    if keep_blocks == 0 or keep_blocks >= total_blocks:
        return list(range(total_blocks))
    if keep_blocks < 2:
        raise ValueError(f"a student needs at least 2 blocks, got {keep_blocks}")
    return list(range(keep_blocks - 1)) + [total_blocks - 1]


def check_layers(layers: list[int], total_blocks: int) -> None:
    if not layers or sorted(set(layers)) != list(layers) or layers[-1] >= total_blocks \
            or layers[0] < 0:
        raise ValueError(f"kept blocks {layers} are not increasing indices below "
                         f"{total_blocks}")


def prune_hf_layers(model, layers: list[int]) -> None:
    """Keep only `layers` of a transformers decoder (Llama-like), renumbered in place."""
    import torch

    blocks = model.model.layers
    check_layers(layers, len(blocks))
    if len(layers) == len(blocks):
        return
    kept = [blocks[i] for i in layers]
    for new_index, block in enumerate(kept):
        attn = getattr(block, "self_attn", None)
        if attn is not None and hasattr(attn, "layer_idx"):
            attn.layer_idx = new_index  # indexes the key/value cache
    model.model.layers = torch.nn.ModuleList(kept)
    model.config.num_hidden_layers = len(kept)
    layer_types = getattr(model.config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) > len(kept):
        model.config.layer_types = [layer_types[i] for i in layers]
