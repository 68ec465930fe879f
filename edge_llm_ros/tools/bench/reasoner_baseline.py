"""The naive baseline the onboard path is measured against.

The same model in fp32 through transformers `generate`: the whole prompt
prefilled on every call (no prefix cache reuse), no grammar, no deadline; the
answer is parsed afterwards and counts as wrong when it does not parse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from edge_llm_ros.reasoning.encoding import PROMPT_INTENT, PROMPT_TEXT
from edge_llm_ros.reasoning.schema import AnswerError, parse_answer


@dataclass
class BaselineAnswer:
    action: str | None  # None: the text did not parse
    latency_ms: float
    first_token_ms: float
    generated_tokens: int
    text: str


class NaiveTransformersBaseline:
    def __init__(self, base_gguf: Path, weights_dir: Path, threads: int = 2,
                 prompt_format: str = PROMPT_TEXT) -> None:
        """weights_dir: the LoRA adapter (`text` format, the tuned SmolLM2) or the decision
        model's weight archive (`intent` format), whichever the onboard model was built from."""
        import torch

        from edge_llm_ros.tools.training.reasoner import LlamaTokenizer

        torch.set_num_threads(threads)
        self._torch = torch
        self.prompt_format = prompt_format
        if prompt_format == PROMPT_INTENT:
            from edge_llm_ros.tools.training.decision_model import hf_model_from_archive
            self.model = hf_model_from_archive(weights_dir)
        else:
            from edge_llm_ros.tools.training.merge import load_tuned_hf_model
            self.model = load_tuned_hf_model(base_gguf, weights_dir)
        self.tok = LlamaTokenizer(base_gguf)  # same token ids as the onboard path
        self._detok = self.tok._llm.detokenize  # noqa: SLF001

    def decide(self, static: str, dynamic: str, max_new_tokens: int = 40) -> BaselineAnswer:
        torch = self._torch
        ids = self.tok(static) + self.tok(dynamic)
        first: list[float] = []

        class _FirstToken:
            """Streamer that notes when the first new token arrives."""

            def __init__(self) -> None:
                self.calls = 0

            def put(self, _value) -> None:
                self.calls += 1
                if self.calls == 2:  # the first put() is the prompt itself
                    first.append(time.perf_counter())

            def end(self) -> None:
                pass

        t0 = time.perf_counter()
        with torch.no_grad():
            out = self.model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens,
                                      do_sample=False, eos_token_id=self.tok.eos_id,
                                      pad_token_id=self.tok.eos_id, streamer=_FirstToken())
        latency_ms = (time.perf_counter() - t0) * 1000.0
        new = out[0, len(ids):].tolist()
        if new and new[-1] == self.tok.eos_id:
            new = new[:-1]
        text = self._detok(new).decode("utf-8", errors="replace")
        try:
            action: str | None = parse_answer(text).action
        except AnswerError:
            action = None
        ttft = (first[0] - t0) * 1000.0 if first else float("nan")
        return BaselineAnswer(action, latency_ms, ttft, len(new), text)
