"""CPU backend: llama.cpp (llama-cpp-python) with a GGUF model, INT8 or INT4 weights.

The static prefix is evaluated once; every later prompt starts with the same
tokens, and llama-cpp-python's generate() reuses the key/value cache for the
longest common token prefix, so per scene only the scene text is prefilled.
Grammar-constrained sampling is llama.cpp's GBNF sampler.

The scene text is prefilled in chunks of `prefill_chunk_tokens`, and the caller is
asked between chunks whether the answer is still wanted: a prefill is one matrix
product llama.cpp cannot interrupt, and on a busy CPU a whole scene's prefill
outlasted its deadline and held the model through the next scene ("model still
busy with the previous scene"); cut between chunks, the model is free again
within one chunk's time. Chunks are as equal as they come and 64 tokens at most, so
a typical scene (35 tokens, 65 at most) is still one pass over the weights.
"""

from __future__ import annotations

import time
from pathlib import Path

from edge_llm_ros.reasoning.backend import (
    GenerationRequest,
    GenerationStats,
    ModelLoadError,
    PieceCallback,
    ReasonerBackend,
    WantedCallback,
)
from edge_llm_ros.reasoning.encoding import PROMPT_FORMATS, PROMPT_TEXT

GGUF_MAGIC = b"GGUF"
PROMPT_FORMAT_KEY = "edge_llm_ros.prompt_format"  # absent: the `text` format


def check_gguf_file(path: Path) -> None:
    """Fail early and clearly on a missing, empty or non-GGUF file."""
    if not path.is_file():
        raise ModelLoadError(f"reasoner model not found: {path}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"{path} is not a GGUF model (starts with {magic!r}, expected "
                             f"{GGUF_MAGIC!r})")


def prefill_chunks(start: int, end: int, chunk_tokens: int) -> list[tuple[int, int]]:
    """[start, end) in the fewest chunks of at most `chunk_tokens`, as equal as they come.

    Equal, not greedy: a small batch costs a whole pass over the weights (decoding is
    memory-bound), so 35 tokens as 32 + 3 took ~20 ms longer than as 18 + 17."""
    remaining = end - start
    if remaining <= 0:
        return []
    count = -(-remaining // max(chunk_tokens, 1))
    size, extra = divmod(remaining, count)
    bounds, at = [], start
    for i in range(count):
        step = size + (1 if i < extra else 0)
        bounds.append((at, at + step))
        at += step
    return bounds


class LlamaCppBackend(ReasonerBackend):
    name = "llama.cpp"

    def __init__(self, model_path: str | Path, threads: int = 2, context_tokens: int = 512,
                 batch_tokens: int = 128, prefill_chunk_tokens: int = 64,
                 prompt_formats: tuple[str, ...] = PROMPT_FORMATS) -> None:
        """`prompt_formats`: the formats the caller can prompt in (the reasoner's by
        default; the instruction interpreter passes its own)."""
        path = Path(model_path)
        check_gguf_file(path)
        try:
            from llama_cpp import Llama, LlamaGrammar
        except ImportError as exc:
            raise ModelLoadError("llama-cpp-python is not installed (scripts/setup.sh installs "
                                 "it)") from exc
        self._grammar_cls = LlamaGrammar
        try:
            self._llm = Llama(model_path=str(path), n_ctx=context_tokens, n_threads=threads,
                              n_threads_batch=threads, n_batch=batch_tokens, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {path}: {exc}") from exc
        self.model_id = path.name
        fmt = str(self._llm.metadata.get(PROMPT_FORMAT_KEY, PROMPT_TEXT))
        if fmt not in prompt_formats:
            raise ModelLoadError(f"{path} names prompt format {fmt!r}; this reader prompts in "
                                 f"{', '.join(prompt_formats)}")
        self.prompt_format = fmt
        self._chunk = max(1, min(prefill_chunk_tokens, batch_tokens))
        self._model_bytes = path.stat().st_size
        self._grammars: dict[str, object] = {}
        self._static_cache: dict[str, list[int]] = {}
        self._eos = self._llm.token_eos()

    def _tokens(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode(), add_bos=False, special=True)

    def _static_tokens(self, text: str) -> list[int]:
        toks = self._static_cache.get(text)
        if toks is None:
            if len(self._static_cache) > 16:
                self._static_cache.clear()
            toks = self._static_cache[text] = self._tokens(text)
        return toks

    def _grammar(self, gbnf: str):
        g = self._grammars.get(gbnf)
        if g is None:
            g = self._grammars[gbnf] = self._grammar_cls.from_string(gbnf, verbose=False)
        return g

    def warm_up(self, static_prefix: str) -> None:
        toks = self._static_tokens(static_prefix)
        self._llm.reset()
        self._llm.eval(toks)

    def _prefill(self, tokens: list[int], still_wanted: WantedCallback | None) -> bool:
        """Bring the key/value cache (and the logits) to the whole prompt `tokens`: keep
        the cached common prefix, evaluate the rest chunk by chunk; False when the caller
        gave up between chunks (the cache then holds a prefix of `tokens`, which the next
        prompt may reuse). The last token is always evaluated here, so generate() finds
        the prompt cached with live logits and samples at once, with no extra step."""
        llm = self._llm
        common = 0
        for a, b in zip(llm._input_ids.tolist(), tokens, strict=False):  # noqa: SLF001
            if a != b:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # the last token's logits must be fresh
        if common == 0:
            llm.reset()
        else:
            llm.n_tokens = common  # eval() drops the cache beyond n_tokens
        for start, end in prefill_chunks(common, len(tokens), self._chunk):
            if still_wanted is not None and not still_wanted():
                return False
            llm.eval(tokens[start:end])
        return True

    def generate(self, request: GenerationRequest, on_piece: PieceCallback,
                 still_wanted: WantedCallback | None = None) -> GenerationStats:
        t0 = time.perf_counter()
        prompt = self._static_tokens(request.static_prefix) + self._tokens(request.dynamic_text)
        room = self._llm.n_ctx() - len(prompt)
        if room < 1:
            raise ValueError(f"prompt of {len(prompt)} tokens fills the context of "
                             f"{self._llm.n_ctx()} (raise model.context_tokens)")
        max_new = min(request.max_new_tokens, room)
        # Tokens already in the cache that this prompt shares (generate() reuses them).
        cached = self._llm._input_ids.tolist()  # noqa: SLF001 - read-only look at the cache
        reused = 0
        for a, b in zip(cached, prompt[:-1], strict=False):
            if a != b:
                break
            reused += 1
        stats = GenerationStats(prompt_tokens=len(prompt), reused_tokens=reused)
        # The whole prompt, interruptibly; generate() then finds it cached and samples.
        if not self._prefill(prompt, still_wanted):
            stats.stopped_by_caller = True
            stats.total_ms = (time.perf_counter() - t0) * 1000.0
            return stats
        grammar = self._grammar(request.grammar) if request.grammar else None
        gen = self._llm.generate(prompt, top_k=1, top_p=1.0, min_p=0.0, temp=0.0,
                                 repeat_penalty=1.0, reset=True, grammar=grammar)
        try:
            for token in gen:
                if stats.generated_tokens == 0:
                    stats.first_token_ms = (time.perf_counter() - t0) * 1000.0
                if token == self._eos:
                    break
                stats.generated_tokens += 1
                piece = self._llm.detokenize([token]).decode("utf-8", errors="replace")
                if not on_piece(piece):
                    stats.stopped_by_caller = True
                    break
                if stats.generated_tokens >= max_new:
                    break
        finally:
            gen.close()
        stats.total_ms = (time.perf_counter() - t0) * 1000.0
        return stats

    @property
    def weight_bytes_per_token(self) -> float:
        # Every weight is read once per decoded token; the file is the weights plus a
        # little metadata (tokenizer), so its size is a close upper bound.
        return float(self._model_bytes)

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            llm.close()

