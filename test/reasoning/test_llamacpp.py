"""The llama.cpp backend's interruptible prefill: the same answers as one whole-prompt
prefill, and a prefill given up between chunks leaves a cache the next prompt can use."""

from __future__ import annotations

from pathlib import Path

from edge_llm_ros.reasoning.backend import GenerationRequest
from edge_llm_ros.reasoning.encoding import (
    dynamic_text,
    encode_scene,
    select_objects,
    static_prefix,
)
from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend, prefill_chunks
from edge_llm_ros.reasoning.schema import continuation_grammar
from edge_llm_ros.tools.synthetic.scenes import obj, scene

SCENES = [
    scene(12.0, obj(1, "car", 14.0, 6.0), obj(2, "pedestrian", 30.0, 0.0, lane=2)),
    scene(8.0),
    scene(15.0, obj(3, "truck", 40.0, 10.0), obj(4, "cyclist", 6.0, 1.0, lane=1)),
]


def _requests() -> list[GenerationRequest]:
    grammar = continuation_grammar()
    return [GenerationRequest(static_prefix(""), dynamic_text(encode_scene(s, select_objects(s)),
                                                              None), 24, grammar)
            for s in SCENES]


def _answers(backend: LlamaCppBackend, give_up_first: bool = False) -> list[str]:
    backend.warm_up(static_prefix(""))
    answers = []
    for request in _requests():
        if give_up_first:
            stats = backend.generate(request, lambda _p: True, lambda: False)
            assert stats.stopped_by_caller and stats.generated_tokens == 0
        pieces: list[str] = []
        backend.generate(request, lambda p, out=pieces: out.append(p) or True)
        answers.append("".join(pieces))
    return answers


def test_chunked_prefill_answers_as_one_whole_prefill(tuned_gguf: Path) -> None:
    whole = LlamaCppBackend(tuned_gguf, threads=2, prefill_chunk_tokens=128)
    chunked = LlamaCppBackend(tuned_gguf, threads=2, prefill_chunk_tokens=4)
    try:
        reference = _answers(whole)
        assert all(a.startswith(("keep", "slow", "stop", "yield", "change", "pull"))
                   for a in reference), reference
        assert _answers(chunked) == reference
        # Given up before its first chunk, then asked again: same answers.
        assert _answers(chunked, give_up_first=True) == reference
    finally:
        whole.close()
        chunked.close()


def test_a_prefill_given_up_midway_stops_between_chunks(tuned_gguf: Path) -> None:
    backend = LlamaCppBackend(tuned_gguf, threads=1, prefill_chunk_tokens=4)
    try:
        backend.warm_up(static_prefix(""))
        polls: list[int] = []

        def wanted() -> bool:
            polls.append(1)
            return len(polls) < 3  # give up before the third chunk

        stats = backend.generate(_requests()[0], lambda _p: True, wanted)
        assert stats.stopped_by_caller and stats.generated_tokens == 0
        assert len(polls) == 3
    finally:
        backend.close()


def test_prefill_chunks_are_few_and_equal() -> None:
    # 35 tokens with 32 at most: two passes of 18 and 17, never 32 + 3 (a 3-token pass
    # costs a whole pass over the weights).
    assert prefill_chunks(10, 45, 32) == [(10, 28), (28, 45)]
    assert prefill_chunks(0, 64, 64) == [(0, 64)]
    assert prefill_chunks(5, 5, 8) == []
    bounds = prefill_chunks(3, 103, 7)
    assert bounds[0][0] == 3 and bounds[-1][1] == 103
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    sizes = [end - start for start, end in bounds]
    assert len(bounds) == 15 and max(sizes) <= 7 and max(sizes) - min(sizes) <= 1
