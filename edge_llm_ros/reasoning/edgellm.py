"""TensorRT Edge-LLM backend: build an engine on the vehicle GPU, cache it, generate from it.

Everything here follows the `tensorrt-edgellm==0.11.0` wheel (read from its
sources; module paths are cited where used). What that wheel offers:

Build. The wheel's build CLI, `tensorrt-edgellm-build`
(`experimental.builder.cli:main`), compiles a Hugging Face checkpoint straight
into an engine bundle (`llm.engine`, `config.json`, tokenizer, chat template)
without ONNX; its weights stay in the checkpoint and are loaded by the runtime
at start (so the runtime is given `checkpoint_dir`). This is what the wheel's
own server uses (`experimental.server.runtime.engine_build.prepare_model`),
and it needs no PyTorch, so it is the default (`method="direct"`). The ONNX
route (`method="onnx"`) runs `tensorrt-edgellm-export CKPT OUT`
(`tensorrt_edgellm.scripts.export:main`, writes `OUT/llm/model.onnx`) and then
the native `LLMBuilder(onnx_dir, engine_dir, LLMBuilderConfig)` binding (the
wheel ships no ONNX-to-engine CLI; the C++ `llm_build` tool is source-only).
The exporter needs the wheel's `export` extra, which pins torch==2.13.0 and
transformers==5.14.1.

Lengths. Edge-LLM engines have a maximum prompt length (`--max-input-len`)
and a KV-cache capacity (`--max-kv-cache-capacity`, prompt plus generated
tokens), so max_output_len maps to capacity = max_input_len + max_output_len.

Precision. The builder's `--dense` takes auto | fp16 | nvfp4-qdq
(`experimental.builder.core.builder.BuildArgs.dense_quant`). "fp16" builds
dense FP16; "auto" keeps a pre-quantized checkpoint's format (FP8, INT4-AWQ,
NVFP4 made with `tensorrt-edgellm-quantize llm --model_dir X --output_dir Y
--quantization ...`). nvfp4-qdq is Blackwell-only and not offered.

Runtime (pybind module from `tensorrt_edgellm.runtime.load()`; bindings in
the source tree's `experimental/pybind/edgellm_pybind.cpp`):
- `LLMRuntime(engine_dir, multimodal_engine_dir, lora_weights_map,
  checkpoint_dir, context_cache_config)`, `handle_request(LLMGenerationRequest)`
  (releases the GIL), `capture_decoding_cuda_graph()`, `get_prefill_metrics()`.
- Streaming: `StreamChannel.create()` put in `request.stream_channels`; chunks
  (`text`, `token_ids`, `finished`, `reason`, `prompt_token_count`) are popped
  with `wait_pop(timeout_ms)`; `cancel()` stops generation at the next token.
- Guided decoding (XGrammar inside the runtime): `GuidedDecodingParams(GuideType,
  guide)` with GuideType JSON_OBJECT, JSON_SCHEMA, REGEX, EBNF, STRUCTURAL_TAG,
  CHOICE. There is no GBNF type: EBNF is XGrammar's dialect, which is GBNF's
  syntax (`root ::= ...`, character classes, `* + ?`, `{m,n}`); the reasoner's
  grammar (`schema.continuation_grammar`) parses with XGrammar 0.2.8's
  `Grammar.from_ebnf`. The grammar is passed as EBNF unchanged, and
  `validate_guided_decoding_params` (when the binding has it) rejects a bad one
  before generation.
- Prefix KV reuse: the runtime's context cache (`ContextCacheConfig.enabled`,
  per request `ContextCacheLookupPolicy.USE_CACHE` and
  `ContextCacheCommitPolicy.PREFILL_STATE_ONLY`) reuses the longest cached
  token prefix, so the static prefix is computed once (`warm_up`). The legacy
  `save_system_prompt_kv_cache` path keys on the chat template's system
  prompt and "cannot be combined with context reuse" (runtime message), so it
  is not used: prompts here are raw text (`apply_chat_template=False`).
- Greedy: top_k=1, top_p=1 (what the wheel's server sends for temperature 0).

Native payloads in 0.11.0 exist for sm80, sm86, sm100 and sm120 only
(`tensorrt_edgellm/_native/variants.json`), each for CUDA 13 and TensorRT 10 or
11 on Ubuntu 22.04/24.04: an H100 (sm90) finds no payload, and the runtime
refuses to load (`NativeSelectionError`), which `edgellm_unavailable_reason`
reports.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_llm_ros.engine_cache import (
    EngineCache,
    gpu_identity,
    key_digest,
    read_manifest,
    sha256_file,
    tensorrt_version,
)
from edge_llm_ros.reasoning.backend import (
    GenerationRequest,
    GenerationStats,
    ModelLoadError,
    PieceCallback,
    ReasonerBackend,
    WantedCallback,
)

PRECISIONS = ("fp16", "auto")
METHODS = ("direct", "onnx")
KEY_VERSION = 1  # bump when the key's meaning changes: every cached engine is rebuilt
ENGINE_FILE = "llm.engine"
# Files a checkpoint's engine depends on: config, weights, tokenizer, chat template.
MODEL_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".jinja", ".txt", ".tiktoken")
INSTALL_HINT = ("pip install tensorrt-edgellm==0.11.0 plus the matching tensorrt wheel "
                "(tensorrt==10.16.0.72 for TensorRT 10 payloads)")


# --------------------------------------------------------------------------- probes


def gpu_available() -> tuple[bool, str]:
    """(True, "<name> sm<cc>") when a CUDA GPU is usable, else (False, why not)."""
    try:
        gpu = gpu_identity()
    except RuntimeError as exc:
        return False, str(exc)
    return True, f"{gpu.name} sm{gpu.compute_capability.replace('.', '')}"


def edgellm_unavailable_reason() -> str | None:
    """Why the Edge-LLM runtime cannot load here (package, GPU, native payload), or None.

    Resolves the wheel's native payload for this machine without loading it
    (`tensorrt_edgellm._native.load.resolve_payload`), so an unsupported GPU
    (sm90: no payload in 0.11.0) is reported before any engine build.
    """
    if importlib.util.find_spec("tensorrt_edgellm") is None:
        return f"tensorrt-edgellm is not installed ({INSTALL_HINT})"
    ok, why = gpu_available()
    if not ok:
        return f"no usable NVIDIA GPU: {why}"
    try:
        from tensorrt_edgellm._native.load import resolve_payload

        resolve_payload()
    except Exception as exc:  # NativeRuntimeError and its subclasses, ImportError
        return f"tensorrt-edgellm has no usable native payload here: {type(exc).__name__}: {exc}"
    return None


def _edgellm_version() -> str:
    try:
        from tensorrt_edgellm import __version__  # tensorrt_edgellm/_version.py
    except ImportError as exc:
        raise ModelLoadError(f"tensorrt-edgellm is not installed ({exc}); {INSTALL_HINT}") \
            from exc
    return str(__version__)


def _cuda_runtime_version(driver_version: int) -> str:
    """cudart's version via cuda-python (a tensorrt-edgellm dependency), else the driver's."""
    try:
        from cuda.bindings import runtime as cudart

        err, version = cudart.cudaRuntimeGetVersion()
        if int(err) == 0:
            return f"runtime {version // 1000}.{version % 1000 // 10}"
    except Exception:  # the driver version below is the fallback
        pass
    return f"driver {driver_version // 1000}.{driver_version % 1000 // 10}"


def _environment() -> dict[str, str]:
    """Versions and GPU an engine is tied to (ModelLoadError when one is missing)."""
    try:
        gpu = gpu_identity()
    except RuntimeError as exc:
        raise ModelLoadError(f"TensorRT Edge-LLM engines need an NVIDIA GPU: {exc}") from exc
    return {"edgellm_version": _edgellm_version(),
            "tensorrt_version": tensorrt_version(INSTALL_HINT, ModelLoadError),
            "cuda_version": _cuda_runtime_version(gpu.driver_version), "gpu_name": gpu.name,
            "compute_capability": gpu.compute_capability}


# --------------------------------------------------------------------------- cache key


def _model_files(checkpoint_dir: Path) -> list[Path]:
    if not (checkpoint_dir / "config.json").is_file():
        raise ModelLoadError(f"{checkpoint_dir} is not a Hugging Face checkpoint (no config.json)")
    return sorted(p for p in checkpoint_dir.rglob("*")
                  if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(checkpoint_dir).parts))


def model_files_sha256(checkpoint_dir: str | Path) -> str:
    """SHA-256 over the checkpoint's config, weight and tokenizer files (names and bytes)."""
    root = Path(checkpoint_dir)
    h = hashlib.sha256()
    for path in _model_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        sha256_file(path, into=h)
        h.update(b"\0")
    return h.hexdigest()


def edgellm_cache_key(checkpoint_dir: Path, precision: str, max_input_len: int,
                      max_output_len: int) -> dict[str, Any]:
    """Everything an engine depends on: equal keys mean the cached engine can be reused."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if max_input_len <= 0 or max_output_len <= 0:
        raise ValueError(f"max lengths must be positive, got {max_input_len}, {max_output_len}")
    return {"key_version": KEY_VERSION, "model_sha256": model_files_sha256(checkpoint_dir),
            **_environment(), "precision": precision, "max_input_len": int(max_input_len),
            "max_output_len": int(max_output_len)}


# --------------------------------------------------------------------------- build


def _cli(script: str, module: str) -> list[str]:
    """The wheel's console script beside this interpreter, else `python -m <module>`."""
    beside = Path(sys.executable).parent / script
    if beside.is_file():
        return [str(beside)]
    found = shutil.which(script)
    return [found] if found else [sys.executable, "-m", module]


def _run(cmd: list[str], what: str, log: Callable[[str], None]) -> None:
    """Run a build step, forwarding its output to `log`; ModelLoadError with its tail on failure."""
    log(f"{what}: {' '.join(cmd)}")
    t0 = time.monotonic()
    tail: deque[str] = deque(maxlen=40)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            log(f"[{what} {time.monotonic() - t0:5.0f} s] {line}")
        rc = proc.wait()
    if rc != 0:
        raise ModelLoadError(f"{what} failed (exit {rc}):\n" + "\n".join(tail))
    log(f"{what}: done in {time.monotonic() - t0:.0f} s")


_ONNX_BUILD_SNIPPET = """
import sys
from tensorrt_edgellm import runtime
rt = runtime.load()
cfg = rt.LLMBuilderConfig()
cfg.max_input_len = int(sys.argv[3])
cfg.max_kv_cache_capacity = int(sys.argv[4])
cfg.max_batch_size = 1
print("LLMBuilderConfig:", cfg, flush=True)
sys.exit(0 if rt.LLMBuilder(sys.argv[1], sys.argv[2], cfg).build() else 1)
"""


def _build_into(staging: Path, checkpoint: Path, precision: str, max_input_len: int,
                capacity: int, method: str, log: Callable[[str], None]) -> None:
    if method == "direct":
        # experimental/builder/cli.py: --model-dir --engine-dir --components --dense
        # --max-input-len --max-kv-cache-capacity --max-batch-size
        _run([*_cli("tensorrt-edgellm-build", "experimental.builder"),
              "--model-dir", str(checkpoint), "--engine-dir", str(staging),
              "--components", "llm", "--dense", precision,
              "--max-input-len", str(max_input_len), "--max-kv-cache-capacity", str(capacity),
              "--max-batch-size", "1"], "tensorrt-edgellm-build", log)
        return
    onnx = staging / "onnx"
    # tensorrt_edgellm/scripts/export.py: positional model and output_dir; LLM -> onnx/llm/
    _run([*_cli("tensorrt-edgellm-export", "tensorrt_edgellm.scripts.export"),
          str(checkpoint), str(onnx), "--dtype", "float16", "--skip-visual", "--skip-audio"],
         "tensorrt-edgellm-export", log)
    _run([sys.executable, "-c", _ONNX_BUILD_SNIPPET, str(onnx / "llm"), str(staging),
          str(max_input_len), str(capacity)], "LLMBuilder", log)
    shutil.rmtree(onnx, ignore_errors=True)


def _require_build_tools() -> None:
    """ModelLoadError unless tensorrt-edgellm is installed and a GPU is visible."""
    if importlib.util.find_spec("tensorrt_edgellm") is None:
        raise ModelLoadError(f"tensorrt-edgellm is not installed; {INSTALL_HINT}")
    ok, why = gpu_available()
    if not ok:
        raise ModelLoadError(f"building a TensorRT Edge-LLM engine needs an NVIDIA GPU: {why}")


def build_edgellm_engine(checkpoint_dir: str | Path, cache_dir: str | Path,
                         precision: str = "fp16", max_input_len: int = 1024,
                         max_output_len: int = 128, log: Callable[[str], None] = print,
                         method: str = "direct", force: bool = False) -> Path:
    """An Edge-LLM engine bundle for a checkpoint on this GPU: cached if its key matches.

    Returns cache_dir/<key digest>/ holding llm.engine, the runtime's config
    and tokenizer files, and a JSON manifest of the key. A folder whose
    manifest differs (model, versions, GPU, precision or lengths changed) is
    rebuilt; `force` rebuilds anyway.
    """
    checkpoint = Path(checkpoint_dir).resolve()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if not checkpoint.is_dir():
        raise ModelLoadError(f"checkpoint folder not found: {checkpoint}")
    _require_build_tools()
    key = edgellm_cache_key(checkpoint, precision, max_input_len, max_output_len)
    what = (f"Edge-LLM {precision} engine for {checkpoint.name} ({key['gpu_name']} "
            f"sm{key['compute_capability'].replace('.', '')}, TensorRT {key['tensorrt_version']}, "
            f"input<={max_input_len}, output<={max_output_len}, {method})")

    def build(staging: Path) -> None:
        _build_into(staging, checkpoint, precision, max_input_len,
                    max_input_len + max_output_len, method, log)

    return EngineCache(Path(cache_dir)).get_or_build(
        key_digest(key), key, ENGINE_FILE, build, what=what, log=log, force=force,
        info={"method": method, "checkpoint_dir": str(checkpoint)}, error=ModelLoadError)


# --------------------------------------------------------------------------- backend


def _load_runtime_module() -> Any:
    """The native binding (tensorrt_edgellm.runtime.load), or ModelLoadError saying why not."""
    reason = edgellm_unavailable_reason()
    if reason is not None:
        raise ModelLoadError(reason)
    try:
        from tensorrt_edgellm import runtime

        return runtime.load()
    except Exception as exc:
        raise ModelLoadError(f"cannot load the Edge-LLM runtime: {type(exc).__name__}: {exc}") \
            from exc


class EdgeLlmBackend(ReasonerBackend):
    """A TensorRT Edge-LLM engine bundle on the GPU, generating greedily from raw text.

    `engine_dir` is a folder from `build_edgellm_engine`; `checkpoint_dir`
    (needed by direct builds, whose weights stay in the checkpoint) defaults to
    the one in its manifest. `context_reuse` turns on the runtime's prefix
    cache so the static prefix's KV is computed once.
    """

    name = "tensorrt-edgellm"

    def __init__(self, engine_dir: str | Path, checkpoint_dir: str | Path | None = None,
                 context_reuse: bool = True, log: Callable[[str], None] = print) -> None:
        self.engine_dir = Path(engine_dir)
        if not (self.engine_dir / ENGINE_FILE).is_file():
            raise ModelLoadError(f"no {ENGINE_FILE} in {self.engine_dir}")
        manifest = read_manifest(self.engine_dir) or {}
        if checkpoint_dir is None and manifest.get("method", "direct") == "direct":
            checkpoint_dir = manifest.get("checkpoint_dir")
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.model_id = self.checkpoint_dir.name if self.checkpoint_dir else self.engine_dir.name
        self._log = log
        self._rt = _load_runtime_module()
        self.context_reuse = context_reuse
        try:
            self._runtime = self._make_runtime(context_reuse)
        except Exception as exc:
            if not context_reuse:
                raise ModelLoadError(f"Edge-LLM runtime failed to start: {exc}") from exc
            log(f"Edge-LLM runtime refused the context cache ({exc}); starting without prefix "
                "KV reuse")
            self.context_reuse = False
            try:
                self._runtime = self._make_runtime(False)
            except Exception as exc2:
                raise ModelLoadError(f"Edge-LLM runtime failed to start: {exc2}") from exc2
        if not self._runtime.capture_decoding_cuda_graph():
            log("Edge-LLM: CUDA graph capture for decoding failed; decoding without graphs")
        self._weight_bytes = self._count_weight_bytes()

    def _make_runtime(self, context_reuse: bool) -> Any:
        cfg = self._rt.ContextCacheConfig()
        cfg.enabled = context_reuse
        # LLMRuntime(engine_dir, multimodal_engine_dir, lora_weights_map, checkpoint_dir,
        # context_cache_config): the vanilla-decoding constructor (edgellm_pybind.cpp).
        return self._rt.LLMRuntime(str(self.engine_dir), "", {},
                                   str(self.checkpoint_dir or ""), cfg)

    def _count_weight_bytes(self) -> float:
        if self.checkpoint_dir is not None and self.checkpoint_dir.is_dir():
            files = [*self.checkpoint_dir.glob("*.safetensors"), *self.checkpoint_dir.glob("*.bin")]
            if files:
                return float(sum(f.stat().st_size for f in files))
        return float((self.engine_dir / ENGINE_FILE).stat().st_size)

    @property
    def weight_bytes_per_token(self) -> float:
        return self._weight_bytes

    def _request(self, prompt: str, max_new_tokens: int, grammar: str | None,
                 channel: Any) -> Any:
        rt = self._rt
        message = rt.Message()
        message.role = "user"
        message.contents = [rt.MessageContent("text", prompt)]
        req = rt.Request(messages=[message])
        if grammar is not None:
            params = rt.GuidedDecodingParams(rt.GuideType.EBNF, grammar)
            validate = getattr(rt, "validate_guided_decoding_params", None)
            if validate is not None:
                ok, reason = validate(params)
                if not ok:
                    raise ValueError(f"the Edge-LLM runtime rejects this grammar: {reason}")
            req.guided_decoding = params
        request = rt.LLMGenerationRequest()
        request.requests = [req]
        request.stream_channels = [channel]
        request.temperature, request.top_p, request.top_k = 1.0, 1.0, 1  # top_k=1: greedy
        request.max_generate_length = int(max_new_tokens)
        request.apply_chat_template = False  # the prompt is the model's input verbatim
        request.add_generation_prompt = False
        request.enable_thinking = False
        request.skip_special_tokens = True
        if self.context_reuse:
            request.context_cache_lookup_policy = rt.ContextCacheLookupPolicy.USE_CACHE
            request.context_cache_commit_policy = rt.ContextCacheCommitPolicy.PREFILL_STATE_ONLY
        return request

    def _reused_tokens_total(self) -> int:
        try:
            return int(self._runtime.get_prefill_metrics().reused_tokens)
        except Exception:  # metrics are optional
            return 0

    def generate(self, request: GenerationRequest, on_piece: PieceCallback,
                 still_wanted: WantedCallback | None = None) -> GenerationStats:
        """Greedy generation streamed token by token; on_piece returning False cancels it."""
        t0 = time.perf_counter()
        stats = GenerationStats()
        if request.max_new_tokens <= 0:
            stats.total_ms = (time.perf_counter() - t0) * 1000.0
            return stats
        channel = self._rt.StreamChannel.create()
        channel.set_stream_interval(1)  # one chunk per generated token
        channel.set_skip_special_tokens(True)
        native = self._request(request.static_prefix + request.dynamic_text,
                               request.max_new_tokens, request.grammar, channel)
        reused_before = self._reused_tokens_total()
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["response"] = self._runtime.handle_request(native)
            except Exception as exc:  # re-raised on the caller's thread
                result["error"] = exc
                channel.cancel()

        worker = threading.Thread(target=work, name="edgellm-generate", daemon=True)
        worker.start()
        finish = None
        try:
            while True:
                chunk = channel.wait_pop(timeout_ms=50)
                if chunk is None:
                    if channel.is_finished() or channel.is_cancelled() or not worker.is_alive():
                        break
                    continue
                if chunk.prompt_token_count >= 0:
                    stats.prompt_tokens = int(chunk.prompt_token_count)
                n = len(chunk.token_ids)
                if n:
                    if stats.generated_tokens == 0:
                        stats.first_token_ms = (time.perf_counter() - t0) * 1000.0
                    stats.generated_tokens += n
                    if not stats.stopped_by_caller and not on_piece(chunk.text):
                        stats.stopped_by_caller = True
                        channel.cancel()
                if chunk.finished:
                    finish = chunk.reason
                    break
        except BaseException:
            channel.cancel()
            worker.join()
            raise
        worker.join()
        if "error" in result and not stats.stopped_by_caller:
            raise RuntimeError(f"Edge-LLM generation failed: {result['error']}") \
                from result["error"]
        response = result.get("response")
        if response is not None and not stats.prompt_tokens and response.prompt_token_counts:
            stats.prompt_tokens = int(response.prompt_token_counts[0])
        stats.reused_tokens = max(0, self._reused_tokens_total() - reused_before)
        stats.total_ms = (time.perf_counter() - t0) * 1000.0
        stats.extra.update({"finish_reason": getattr(finish, "name", str(finish)),
                            "context_reuse": self.context_reuse,
                            "guided": request.grammar is not None})
        return stats

    def warm_up(self, static_prefix: str) -> None:
        """Prefill the static prefix once so its KV pages sit in the context cache."""
        if self.context_reuse and static_prefix:
            self.generate(GenerationRequest(static_prefix, "", 1), lambda _piece: True)

    def close(self) -> None:
        self._runtime = None
