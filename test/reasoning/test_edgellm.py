"""TensorRT Edge-LLM backend: the engine cache logic here, real builds and generation on a GPU.

The cache-key tests run anywhere: the GPU/version probe is replaced by a fixed
environment, since what is under test is which inputs the key depends on. The
`gpu` tests build a tiny random checkpoint into an engine and generate from it;
they skip, saying why, where tensorrt-edgellm, a GPU or a native payload for
that GPU is missing (0.11.0 has none for sm90, the H100).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_llm_ros.engine_cache import MANIFEST, entry_matches, key_digest
from edge_llm_ros.reasoning import edgellm
from edge_llm_ros.reasoning.backend import GenerationRequest, ModelLoadError
from edge_llm_ros.reasoning.edgellm import ENGINE_FILE, build_edgellm_engine, edgellm_cache_key

ENV = {"edgellm_version": "0.11.0", "tensorrt_version": "10.16.0.72",
       "cuda_version": "runtime 13.0", "gpu_name": "NVIDIA A100-SXM4-80GB",
       "compute_capability": "8.0"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fixed GPU/version probe; tests mutate the returned dict to change the environment."""
    current = dict(ENV)
    monkeypatch.setattr(edgellm, "_environment", lambda: dict(current))
    return current


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    """A fake checkpoint: config, two weight shards, tokenizer, and files that don't matter."""
    root = tmp_path / "ckpt"
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"model_type": "qwen2", "hidden_size": 64}))
    (root / "model-00001-of-00002.safetensors").write_bytes(b"\x01" * 3000)
    (root / "model-00002-of-00002.safetensors").write_bytes(b"\x02" * 5000)
    (root / "tokenizer.json").write_text('{"model": {}}')
    (root / "README.md").write_text("not part of the engine")
    (root / ".cache").mkdir()
    (root / ".cache" / "download.json").write_text("{}")
    return root


def _digest(ckpt: Path, precision: str = "fp16", inp: int = 512, out: int = 64) -> str:
    return key_digest(edgellm_cache_key(ckpt, precision, inp, out))


def test_key_is_stable_and_records_everything(env: dict[str, str], ckpt: Path) -> None:
    """Same inputs, same key; the key names every dependency (the manifest shows why a rebuild)."""
    a = edgellm_cache_key(ckpt, "fp16", 512, 64)
    assert a == edgellm_cache_key(ckpt, "fp16", 512, 64)
    assert {*ENV, "model_sha256", "precision", "max_input_len", "max_output_len"} <= set(a)
    assert len(key_digest(a)) == 16 and key_digest(a) == _digest(ckpt)
    assert json.loads(json.dumps(a)) == a  # what the manifest stores compares equal


@pytest.mark.parametrize("precision,inp,out", [("auto", 512, 64), ("fp16", 1024, 64),
                                               ("fp16", 512, 128)])
def test_key_changes_with_precision_and_lengths(env: dict[str, str], ckpt: Path,
                                                precision: str, inp: int, out: int) -> None:
    """An engine's precision and its input/KV profile are baked in at build time."""
    assert _digest(ckpt, precision, inp, out) != _digest(ckpt)


@pytest.mark.parametrize("edit", ["weights", "config", "tokenizer", "new_shard", "rename"])
def test_key_changes_with_model_files(env: dict[str, str], ckpt: Path, edit: str) -> None:
    """Retrained weights, another config or tokenizer must not reuse a stale engine."""
    before = _digest(ckpt)
    shard = ckpt / "model-00002-of-00002.safetensors"
    if edit == "weights":
        shard.write_bytes(b"\x02" * 4999 + b"\x03")
    elif edit == "config":
        (ckpt / "config.json").write_text(json.dumps({"model_type": "qwen2", "hidden_size": 65}))
    elif edit == "tokenizer":
        (ckpt / "tokenizer.json").write_text('{"model": {"x": 1}}')
    elif edit == "new_shard":
        (ckpt / "model-extra.safetensors").write_bytes(b"\x04")
    else:
        shard.rename(ckpt / "model-00003-of-00002.safetensors")
    assert _digest(ckpt) != before


def test_key_ignores_unrelated_files_and_mtimes(env: dict[str, str], ckpt: Path) -> None:
    """Docs, hidden caches and timestamps don't change what the engine computes."""
    before = _digest(ckpt)
    (ckpt / "README.md").write_text("edited")
    (ckpt / ".cache" / "download.json").write_text('{"etag": 2}')
    shard = ckpt / "model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes())
    assert _digest(ckpt) == before


@pytest.mark.parametrize("field,value", [("edgellm_version", "0.12.0"),
                                         ("tensorrt_version", "11.0.0.114"),
                                         ("cuda_version", "runtime 13.1"),
                                         ("gpu_name", "NVIDIA GeForce RTX 3090"),
                                         ("compute_capability", "8.6")])
def test_key_changes_with_environment(env: dict[str, str], ckpt: Path, field: str,
                                      value: str) -> None:
    """TensorRT engines only run on the versions and GPU they were built with."""
    before = _digest(ckpt)
    env[field] = value
    assert _digest(ckpt) != before


def test_key_rejects_bad_input(env: dict[str, str], ckpt: Path, tmp_path: Path) -> None:
    """Clear errors instead of a build that fails minutes later."""
    with pytest.raises(ValueError, match="precision"):
        edgellm_cache_key(ckpt, "int8", 512, 64)
    with pytest.raises(ValueError, match="positive"):
        edgellm_cache_key(ckpt, "fp16", 0, 64)
    with pytest.raises(ModelLoadError, match="config.json"):
        edgellm_cache_key(tmp_path, "fp16", 512, 64)


def test_cached_engine_needs_engine_and_equal_manifest(env: dict[str, str], ckpt: Path,
                                                       tmp_path: Path) -> None:
    """A folder is reused only with a non-empty engine and a manifest recording this key."""
    key = edgellm_cache_key(ckpt, "fp16", 512, 64)
    folder = tmp_path / "engine"
    folder.mkdir()
    assert not entry_matches(folder, ENGINE_FILE, key)
    (folder / MANIFEST).write_text(json.dumps({"key": key}))
    assert not entry_matches(folder, ENGINE_FILE, key)  # no engine yet
    (folder / ENGINE_FILE).write_bytes(b"plan")
    assert entry_matches(folder, ENGINE_FILE, key)
    assert not entry_matches(folder, ENGINE_FILE, {**key, "max_output_len": 65})
    (folder / MANIFEST).write_text("{not json")
    assert not entry_matches(folder, ENGINE_FILE, key)


def test_build_reuses_on_match_and_rebuilds_on_mismatch(
        env: dict[str, str], ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache decisions of build_edgellm_engine, with the wheel's build step faked."""
    builds: list[tuple[Any, ...]] = []

    def fake_build(staging: Path, checkpoint: Path, precision: str, inp: int, capacity: int,
                   method: str, log: Any) -> None:
        builds.append((precision, inp, capacity, method))
        (staging / ENGINE_FILE).write_bytes(b"plan")

    monkeypatch.setattr(edgellm, "_require_build_tools", lambda: None)
    monkeypatch.setattr(edgellm, "_build_into", fake_build)
    cache, logs = tmp_path / "cache", []
    first = build_edgellm_engine(ckpt, cache, "fp16", 512, 64, log=logs.append)
    assert builds == [("fp16", 512, 576, "direct")]  # KV capacity = input + output
    assert first.parent == cache and (first / ENGINE_FILE).is_file()
    manifest = json.loads((first / MANIFEST).read_text())
    assert manifest["key"]["max_output_len"] == 64 and manifest["digest"] == first.name
    assert build_edgellm_engine(ckpt, cache, "fp16", 512, 64, log=logs.append) == first
    assert len(builds) == 1 and "cache hit" in logs[-1]
    env["tensorrt_version"] = "11.0.0.114"  # TensorRT upgraded: new key, new folder
    second = build_edgellm_engine(ckpt, cache, "fp16", 512, 64, log=logs.append)
    assert second != first and len(builds) == 2
    (second / MANIFEST).write_text(json.dumps({"key": {"stale": True}}))  # corrupted manifest
    assert build_edgellm_engine(ckpt, cache, "fp16", 512, 64, log=logs.append) == second
    assert len(builds) == 3 and "differs" in " ".join(logs)
    assert not [p for p in cache.iterdir() if p.name.startswith(".building-")]


def test_build_failure_leaves_no_engine(env: dict[str, str], ckpt: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed build raises ModelLoadError and publishes nothing a later call could reuse."""
    def failing_build(staging: Path, *args: Any) -> None:
        (staging / "partial").write_text("x")
        raise ModelLoadError("tensorrt-edgellm-build failed (exit 1)")

    monkeypatch.setattr(edgellm, "_require_build_tools", lambda: None)
    monkeypatch.setattr(edgellm, "_build_into", failing_build)
    cache = tmp_path / "cache"
    with pytest.raises(ModelLoadError, match="exit 1"):
        build_edgellm_engine(ckpt, cache, log=lambda _m: None)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_missing_runtime_or_gpu_is_a_clear_error(ckpt: Path, tmp_path: Path) -> None:
    """Without the wheel or a GPU, building and loading fail with ModelLoadError saying which."""
    reason = edgellm.edgellm_unavailable_reason()
    if reason is None:
        pytest.skip("tensorrt-edgellm and a supported GPU are present here")
    with pytest.raises(ModelLoadError) as build_err:
        build_edgellm_engine(ckpt, tmp_path / "cache", log=lambda _m: None)
    assert "tensorrt-edgellm" in str(build_err.value) or "GPU" in str(build_err.value)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / ENGINE_FILE).write_bytes(b"plan")
    with pytest.raises(ModelLoadError):
        edgellm.EdgeLlmBackend(tmp_path / "e", log=lambda _m: None)


def test_gpu_available_reports_a_reason() -> None:
    """The probe never raises; without a GPU it says why (driver missing, no device...)."""
    ok, why = edgellm.gpu_available()
    assert isinstance(ok, bool) and why


# ----------------------------------------------------------------------------- GPU


_UNAVAILABLE = edgellm.edgellm_unavailable_reason()

TINY_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant: {% endif %}")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Qwen2 with a byte-level BPE tokenizer trained here (no downloads)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    root = tmp_path_factory.mktemp("tiny_qwen2")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = ["the car ahead slows down, keep lane or stop", '{"a":"stop","v":0}',
              "pedestrian crossing yield change lane left right pull over"] * 50
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>")
    tok.chat_template = TINY_TEMPLATE
    tok.save_pretrained(root)
    (root / "chat_template.jinja").write_text(TINY_TEMPLATE)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    # head_dim 128, the size every attention kernel supports
    config = Qwen2Config(vocab_size=len(tok), hidden_size=256, intermediate_size=512,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=1024, eos_token_id=eos, bos_token_id=eos,
                         tie_word_embeddings=False, torch_dtype="float16")
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).to(torch.float16).save_pretrained(root, safe_serialization=True)
    return root


@pytest.fixture(scope="module")
def engine_dir(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    messages: list[str] = []
    cache = tmp_path_factory.mktemp("edgellm_cache")
    folder = build_edgellm_engine(tiny_checkpoint, cache, "fp16", 256, 32, log=messages.append)
    assert (folder / ENGINE_FILE).stat().st_size > 0, "\n".join(messages)
    again: list[str] = []
    assert build_edgellm_engine(tiny_checkpoint, cache, "fp16", 256, 32, log=again.append) \
        == folder
    assert "cache hit" in again[-1]
    return folder


@pytest.fixture(scope="module")
def backend(engine_dir: Path) -> Iterator[Any]:
    b = edgellm.EdgeLlmBackend(engine_dir)
    yield b
    b.close()


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")
def test_generate_streams_until_max_new_tokens(backend: Any) -> None:
    """Tokens arrive one per callback, timings are filled, max_new_tokens bounds the output."""
    pieces: list[str] = []
    stats = backend.generate(GenerationRequest("the car ahead ", "slows down", 8),
                             lambda p: pieces.append(p) or True)
    assert 1 <= stats.generated_tokens <= 8 and len(pieces) == stats.generated_tokens
    assert stats.prompt_tokens > 0 and 0 < stats.first_token_ms <= stats.total_ms


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")
def test_caller_can_stop_generation(backend: Any) -> None:
    """on_piece returning False cancels: the runtime stops within a token or two."""
    seen: list[str] = []
    stats = backend.generate(GenerationRequest("keep lane ", "or stop", 30),
                             lambda p: seen.append(p) or len(seen) < 3)
    assert stats.stopped_by_caller and len(seen) == 3 and stats.generated_tokens <= 5


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")
def test_grammar_constrains_random_weights(backend: Any) -> None:
    """A random model still emits only what the (GBNF-syntax) grammar allows."""
    text: list[str] = []
    request = GenerationRequest("answer: ", "", 8, grammar='root ::= "yes" | "no"\n')
    stats = backend.generate(request, lambda p: text.append(p) or True)
    assert "".join(text) in ("yes", "no") and stats.extra["guided"]


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")
def test_static_prefix_kv_is_reused(backend: Any) -> None:
    """After warm_up, the static prefix's tokens come from the context cache."""
    if not backend.context_reuse:
        pytest.skip("this runtime refused the context cache (see the backend's log)")
    prefix = "pedestrian crossing, yield or stop. " * 8
    backend.warm_up(prefix)
    stats = backend.generate(GenerationRequest(prefix, "the car ahead", 4), lambda _p: True)
    assert stats.reused_tokens > 0 and stats.reused_tokens < stats.prompt_tokens
