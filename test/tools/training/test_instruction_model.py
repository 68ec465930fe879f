"""The instruction model's tooling: a short real training run on generated instructions,
its archive, and the GGUF llama.cpp loads under the instruction prompt format (the
shipped model's quality is `eval instructions`' job and test/reasoning/test_interpreter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_llm_ros.reasoning.backend import ModelLoadError

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("llama_cpp")

from edge_llm_ros.reasoning.instruction import INSTRUCTION_PROMPT_FORMAT  # noqa: E402
from edge_llm_ros.reasoning.interpreter import InstructionInterpreter  # noqa: E402
from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend  # noqa: E402
from edge_llm_ros.reasoning.model_files import base_gguf_path  # noqa: E402
from edge_llm_ros.tools.training.decision_model import export_gguf, load_archive  # noqa: E402
from edge_llm_ros.tools.training.instruction_model import (  # noqa: E402
    InstructionModelConfig,
    train_instruction_model,
)


def test_a_short_training_run_gives_a_gguf_the_interpreter_loads(tmp_path: Path) -> None:
    base = base_gguf_path()
    cfg = InstructionModelConfig(per_language=12, epochs=1, batch_size=12, warmup_steps=1)
    manifest = train_instruction_model(tmp_path / "archive", base, cfg, log=lambda _m: None)
    assert manifest["prompt_format"] == INSTRUCTION_PROMPT_FORMAT
    assert manifest["instructions"] == 36 and manifest["languages"] == ["en", "zh", "de"]
    loaded, arrays = load_archive(tmp_path / "archive")
    assert loaded["weights_sha256"] == manifest["weights_sha256"]
    # Frozen lexical embedding: no per-token rows, a projection of the base file's rows.
    assert "embed_rows" not in arrays
    assert arrays["lexical_projection"].shape[1] == cfg.hidden
    assert arrays["lexical_mix"].shape == (cfg.hidden, cfg.hidden)

    gguf_path = export_gguf(tmp_path / "archive", base, tmp_path / "im.gguf",
                            log=lambda _m: None)
    with pytest.raises(ModelLoadError, match="prompt format 'instruction'"):
        LlamaCppBackend(gguf_path, threads=1)  # the reasoner cannot be handed this model
    backend = LlamaCppBackend(gguf_path, threads=1,
                              prompt_formats=(INSTRUCTION_PROMPT_FORMAT,))
    reader = InstructionInterpreter(backend)
    try:
        # An untrained model's answer is grammatical (or the keyword parser steps in).
        reading = reader.interpret("keep it under 30 km/h")
        assert reading.source in ("model", "regex")
        if reading.source == "regex":
            assert "unusable answer" in reading.note
    finally:
        reader.close()


def test_the_gguf_computes_what_the_trained_network_computes(tmp_path: Path) -> None:
    """Every token's row is rebuilt from the base file at export: llama.cpp's logits for a
    prompt with words the training never saw match the trained network's."""
    import numpy as np
    import torch
    from llama_cpp import Llama

    from edge_llm_ros.reasoning.instruction import instruction_prompt
    from edge_llm_ros.tools.training.decision_model import hf_model_from_archive
    from edge_llm_ros.tools.training.reasoner import LlamaTokenizer

    base = base_gguf_path()
    cfg = InstructionModelConfig(per_language=8, epochs=1, batch_size=12, warmup_steps=1)
    train_instruction_model(tmp_path, base, cfg, log=lambda _m: None)
    gguf_path = export_gguf(tmp_path, base, tmp_path / "im.f16.gguf", quant="F16",
                            log=lambda _m: None)
    tok = LlamaTokenizer(base)
    static, dynamic = instruction_prompt("Zebra crossing ahead, mind the tram")
    prompt = tok(static) + tok(dynamic)
    with torch.no_grad():
        expected = hf_model_from_archive(tmp_path, base)(torch.tensor([prompt])).logits[0, -1]
    llm = Llama(str(gguf_path), n_ctx=256, logits_all=True, verbose=False)
    try:
        llm.eval(prompt)
        got = np.asarray(llm.scores[len(prompt) - 1])
    finally:
        llm.close()
    expected = expected.numpy()
    assert np.max(np.abs(got - expected)) < 0.05 * max(1.0, float(np.max(np.abs(expected))))
    assert int(np.argmax(got)) == int(np.argmax(expected))


def test_a_tampered_archive_is_refused(tmp_path: Path) -> None:
    base = base_gguf_path()
    cfg = InstructionModelConfig(per_language=4, epochs=1, batch_size=12, warmup_steps=1)
    train_instruction_model(tmp_path, base, cfg, log=lambda _m: None)
    weights = tmp_path / "weights.npz"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelLoadError, match="does not match"):
        export_gguf(tmp_path, base, tmp_path / "im.gguf", log=lambda _m: None)


def test_word_noise_touches_only_the_instruction_and_never_its_digits() -> None:
    import random

    from edge_llm_ros.tools.training.instruction_model import noisy

    cfg = InstructionModelConfig(token_drop=0.3, token_swap=0.3)
    ids = [1, 2, 3, 10, 11, 12, 13, 14, 7, 8, 9]  # prefix 3, instruction 5, tail 3
    neighbours = {t: [t + 100] for t in range(10, 15)}
    changed = 0
    for seed in range(50):
        out = noisy(ids, 3, 8, {12}, neighbours, cfg, random.Random(seed))
        assert out[:3] == [1, 2, 3] and out[-3:] == [7, 8, 9]
        assert 12 in out  # the kept (digit) token
        assert set(out[3:-3]) <= {10, 11, 12, 13, 14, 110, 111, 113, 114}
        changed += out != ids
    assert changed > 40
