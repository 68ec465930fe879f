"""Backend selection from the node's `model.*` parameters (or the CLI's flags)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_llm_ros.params import ConfigError
from edge_llm_ros.reasoning.backend import ModelLoadError, ReasonerBackend
from edge_llm_ros.reasoning.model_files import TUNED_GGUF_NAME
from edge_llm_ros.reasoning.rules import RuleThresholds

BACKENDS = ("llama_cpp", "tensorrt_edgellm", "rules")


@dataclass(frozen=True)
class BackendSettings:
    backend: str = "llama_cpp"
    path: str = ""  # GGUF (llama_cpp) or HF checkpoint folder (tensorrt_edgellm); "" = default
    threads: int = 2
    context_tokens: int = 512
    engine_cache_dir: str = ""
    precision: str = "fp16"


def default_model_path() -> Path:
    from edge_llm_ros.paths import model_file
    path = model_file(TUNED_GGUF_NAME)
    if not path.is_file():
        raise ModelLoadError(
            f"the tuned reasoner model {path} is missing; scripts/setup.sh builds it "
            f"(or run: edge-llm-ros build-reasoner)")
    return path


def resolve_model_path(text: str) -> Path:
    """A path as given, or a bare file name found in the package's models folder (so a
    model built there with `build-reasoner -o models/NAME` works from any working directory)."""
    from edge_llm_ros.paths import model_file
    path = Path(text).expanduser()
    if not path.exists() and len(path.parts) == 1 and model_file(text).exists():
        return model_file(text)
    return path


def make_backend(s: BackendSettings, log: Callable[[str], None] = print
                 ) -> ReasonerBackend | None:
    """The loaded backend, None for `rules`; ModelLoadError with a clear message otherwise."""
    if s.backend == "rules":
        return None
    if s.backend == "llama_cpp":
        from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
        path = resolve_model_path(s.path) if s.path else default_model_path()
        return LlamaCppBackend(path, threads=s.threads, context_tokens=s.context_tokens)
    if s.backend == "tensorrt_edgellm":
        from edge_llm_ros.reasoning.edgellm import EdgeLlmBackend, build_edgellm_engine
        if not s.path:
            raise ModelLoadError("model.path must name a Hugging Face checkpoint folder for "
                                 "tensorrt_edgellm (edge-llm-ros build-reasoner --hf-out DIR "
                                 "exports the tuned one)")
        cache = Path(s.engine_cache_dir).expanduser() if s.engine_cache_dir else \
            Path.home() / ".cache" / "edge_llm_ros" / "edgellm"
        engine_dir = build_edgellm_engine(Path(s.path).expanduser(), cache,
                                          precision=s.precision,
                                          max_input_len=min(s.context_tokens, 1024), log=log)
        return EdgeLlmBackend(engine_dir, log=log)
    raise ModelLoadError(f"unknown backend {s.backend!r}; known: {', '.join(BACKENDS)}")


def thresholds_from_params(p: dict) -> RuleThresholds:
    return RuleThresholds(**{k.split(".", 1)[1]: float(v) for k, v in p.items()
                             if k.startswith("fallback.")})


def backend_from_params(p: dict, node_name: str, log: Callable[[str], None]
                 ) -> ReasonerBackend | None:
    """The model.* parameters' backend; a missing or corrupt model is a ConfigError."""
    settings = BackendSettings(
        backend=str(p["model.backend"]), path=str(p["model.path"]),
        threads=int(p["model.threads"]), context_tokens=int(p["model.context_tokens"]),
        engine_cache_dir=str(p["model.engine_cache_dir"]), precision=str(p["model.precision"]))
    try:
        return make_backend(settings, log=log)
    except ModelLoadError as exc:
        raise ConfigError(f"node '{node_name}': model: {exc}") from exc
