"""The decision model: a short real training run, its archive, and the GGUF llama.cpp runs
computing what the trained network computes (the q/k row order for rotary embeddings, the
shared output row, the tokenizer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.reasoning.backend import ModelLoadError

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
llama_cpp = pytest.importorskip("llama_cpp")

from edge_llm_ros.reasoning.encoding import PROMPT_INTENT  # noqa: E402
from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend  # noqa: E402
from edge_llm_ros.reasoning.model_files import base_gguf_path  # noqa: E402
from edge_llm_ros.tools.training.decision_dataset import (  # noqa: E402
    DECISION_TRAIN_FIRST_SEED,
    generate_decision_scenes,
)
from edge_llm_ros.tools.training.decision_model import (  # noqa: E402
    DecisionModelConfig,
    export_gguf,
    hf_model_from_archive,
    load_archive,
    prompt_and_answer,
    train_decision_model,
)
from edge_llm_ros.tools.training.reasoner import LlamaTokenizer  # noqa: E402


@pytest.fixture(scope="module")
def base() -> Path:
    try:
        return base_gguf_path()
    except ModelLoadError as exc:
        pytest.skip(f"base model (tokenizer source) not installed: {exc}")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, base: Path) -> Path:
    out = tmp_path_factory.mktemp("decision_model")
    cfg = DecisionModelConfig(per_family=3, random_traffic_scenes=3, epochs=2, batch_size=16,
                              warmup_steps=2)
    manifest = train_decision_model(out, base, cfg, log=lambda _m: None)
    assert manifest["prompt_format"] == PROMPT_INTENT
    assert manifest["scenes"] == 3 * len(manifest["families"]) + 3
    return out


def test_gguf_computes_what_the_trained_network_computes(archive: Path, base: Path,
                                                         tmp_path: Path) -> None:
    gguf_path = export_gguf(archive, base, tmp_path / "decision.f16.gguf", quant="F16",
                            log=lambda _m: None)
    tok = LlamaTokenizer(base)
    sample = next(generate_decision_scenes(1, DECISION_TRAIN_FIRST_SEED + 7, ["cut_in_left"]))
    ids, start = prompt_and_answer(tok, sample, tok.eos_id)
    prompt = ids[:start]
    with torch.no_grad():
        expected = hf_model_from_archive(archive)(torch.tensor([prompt])).logits[0, -1].numpy()
    llm = llama_cpp.Llama(str(gguf_path), n_ctx=512, logits_all=True, verbose=False)
    try:
        llm.eval(prompt)
        got = np.asarray(llm.scores[len(prompt) - 1])
    finally:
        llm.close()
    # F16 weights: close, and the same ranking at the top.
    assert np.max(np.abs(got - expected)) < 0.05 * max(1.0, float(np.max(np.abs(expected))))
    assert int(np.argmax(got)) == int(np.argmax(expected))
    backend = LlamaCppBackend(gguf_path, threads=1)
    try:
        assert backend.prompt_format == PROMPT_INTENT
    finally:
        backend.close()


def test_a_tampered_archive_or_another_tokenizer_is_refused(archive: Path, base: Path,
                                                            tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in archive.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    weights = bad / "weights.npz"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(ModelLoadError, match="does not match"):
        load_archive(bad)
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="tokenizer source"):
        export_gguf(archive, other, tmp_path / "x.gguf", log=lambda _m: None)


def test_a_later_stage_continues_from_the_archive_on_scenes_it_never_drew(
        archive: Path, base: Path, tmp_path: Path) -> None:
    first_manifest, first = load_archive(archive)
    cfg = DecisionModelConfig(per_family=2, random_traffic_scenes=2, epochs=1, batch_size=16,
                              warmup_steps=1, learning_rate=1e-9, init_from=str(archive),
                              first_seed=DECISION_TRAIN_FIRST_SEED + 50_000)
    manifest = train_decision_model(tmp_path / "stage2", base, cfg, log=lambda _m: None)
    _, second = load_archive(tmp_path / "stage2")
    # A learning rate of ~0: the continued network is the one it started from.
    for name in ("layers.0.self_attn.q_proj.weight", "norm.weight", "other_row"):
        np.testing.assert_allclose(second[name].astype(np.float32),
                                   first[name].astype(np.float32), atol=1e-3)
    stages = manifest["stages"]
    assert [s["first_seed"] for s in stages] == [DECISION_TRAIN_FIRST_SEED,
                                                 DECISION_TRAIN_FIRST_SEED + 50_000]
    assert stages[0]["steps"] == first_manifest["steps"]
    with pytest.raises(ValueError, match="evaluation"):  # training never reaches eval seeds
        train_decision_model(tmp_path / "bad", base, DecisionModelConfig(
            first_seed=5_000_000 - 10, per_family=20, random_traffic_scenes=0),
            log=lambda _m: None)
