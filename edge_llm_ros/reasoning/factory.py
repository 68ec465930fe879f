"""Backend selection from the node's `model.*` parameters (or the CLI's flags)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_llm_ros.params import ConfigError
from edge_llm_ros.params.specs import default_of
from edge_llm_ros.reasoning.backend import ModelLoadError, ReasonerBackend
from edge_llm_ros.reasoning.interpreter import IntentReader
from edge_llm_ros.reasoning.model_files import DECISION_GGUF_NAME

BACKENDS = ("llama_cpp", "tensorrt_edgellm", "rules")


@dataclass(frozen=True)
class BackendSettings:
    """The `model.*` parameters; defaults are the reasoner node's (from its spec)."""

    backend: str = default_of("reasoner", "model.backend")
    path: str = default_of("reasoner", "model.path")  # GGUF or HF folder; "" = default
    threads: int = default_of("reasoner", "model.threads")
    context_tokens: int = default_of("reasoner", "model.context_tokens")
    engine_cache_dir: str = default_of("reasoner", "model.engine_cache_dir")
    precision: str = default_of("reasoner", "model.precision")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> BackendSettings:
        """From a reasoner's or remote planner's `model.*` parameters."""
        return cls(backend=str(params["model.backend"]), path=str(params["model.path"]),
                   threads=int(params["model.threads"]),
                   context_tokens=int(params["model.context_tokens"]),
                   engine_cache_dir=str(params["model.engine_cache_dir"]),
                   precision=str(params["model.precision"]))


def default_model_path() -> Path:
    from edge_llm_ros.paths import model_file
    path = model_file(DECISION_GGUF_NAME)
    if not path.is_file():
        raise ModelLoadError(
            f"the decision model {path} is missing; scripts/setup.sh builds it "
            f"(or run: edge-llm-ros build-reasoner --decision)")
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
        if not s.path or s.path.endswith(".gguf"):
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


INSTRUCTION_BACKENDS = ("encoder", "llama_cpp", "rules")


def instruction_reader(backend: str, path_text: str, threads: int,
                       log: Callable[[str], None] = print) -> IntentReader | ReasonerBackend | None:
    """The instruction stage's model by the node's `model.backend`: the intent reader
    (encoder), the instruction GGUF under llama.cpp, or None (keyword parser only)."""
    if backend == "rules":
        return None
    if backend == "llama_cpp":
        return instruction_backend(path_text, threads, log)
    if backend == "encoder":
        from edge_llm_ros.paths import model_file
        from edge_llm_ros.reasoning.intent_reader import EncoderIntentReader
        from edge_llm_ros.reasoning.model_files import INTENT_READER_DIR_NAME

        folder = resolve_model_path(path_text) if path_text else \
            model_file(INTENT_READER_DIR_NAME)
        reader = EncoderIntentReader(folder, threads=threads)
        log(f"instruction reader {folder.name} loaded ({threads} thread(s))")
        return reader
    raise ModelLoadError(f"unknown instruction backend {backend!r}; known: "
                         f"{', '.join(INSTRUCTION_BACKENDS)}")


def instruction_backend(path_text: str, threads: int, log: Callable[[str], None] = print
                         ) -> ReasonerBackend:
    """The instruction model under llama.cpp; ModelLoadError with a clear message."""
    from edge_llm_ros.paths import model_file
    from edge_llm_ros.reasoning.instruction import INSTRUCTION_PROMPT_FORMAT
    from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
    from edge_llm_ros.reasoning.model_files import INSTRUCTION_GGUF_NAME

    path = resolve_model_path(path_text) if path_text else model_file(INSTRUCTION_GGUF_NAME)
    if not path.is_file():
        raise ModelLoadError(f"the instruction model {path} is missing; scripts/setup.sh builds "
                             f"it (or run: edge-llm-ros build-reasoner --instruction)")
    backend = LlamaCppBackend(path, threads=threads, context_tokens=256,
                              prompt_formats=(INSTRUCTION_PROMPT_FORMAT,))
    log(f"instruction model {path.name} loaded ({threads} thread(s))")
    return backend


def backend_from_params(p: dict, node_name: str, log: Callable[[str], None]
                        ) -> ReasonerBackend | None:
    """The model.* parameters' backend; a missing or corrupt model is a ConfigError."""
    settings = BackendSettings.from_params(p)
    try:
        return make_backend(settings, log=log)
    except ModelLoadError as exc:
        raise ConfigError(f"node '{node_name}': model: {exc}") from exc
