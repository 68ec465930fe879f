"""The output contract: grammar, parsing of whole and cut answers, and real constrained output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_llm_ros.reasoning.schema import (
    ANSWER_OPENING,
    DECISION_JSON_SCHEMA,
    AnswerError,
    continuation_grammar,
    format_answer,
    parse_answer,
    settled_action,
)
from edge_llm_ros.types import ACTION_NAMES


def test_formatted_answers_are_json_matching_the_schema() -> None:
    for action in ACTION_NAMES:
        text = format_answer(action, 12.4, [1, 3], 'car "ahead" at 14 m\n')
        obj = json.loads(ANSWER_OPENING + text)
        assert set(obj) == set(DECISION_JSON_SCHEMA["required"])
        assert obj["a"] == action and obj["v"] == 12 and obj["ids"] == [1, 3]
        assert '"' not in obj["why"]
        parsed = parse_answer(text)
        assert parsed.complete and parsed.action == action and parsed.slots == (1, 3)


def test_cut_answers_keep_what_was_settled() -> None:
    full = format_answer("slow_down", 6, [2], "car closing ahead")
    assert settled_action("") is None
    assert settled_action("s") is None  # slow_down or stop
    assert settled_action("sl") == "slow_down"
    assert settled_action("change_lane_") is None
    assert settled_action("change_lane_l") == "change_lane_left"
    cut = parse_answer(full[: full.index("ids")])
    assert (cut.action, cut.target_speed_mps, cut.slots, cut.complete) == \
        ("slow_down", 6.0, None, False)
    cut = parse_answer(full[:-8])
    assert cut.slots == (2,) and cut.rationale.startswith("car closing")
    with pytest.raises(AnswerError):
        parse_answer("s")
    with pytest.raises(AnswerError):
        parse_answer('fly","v":3,"ids":[],"why":""}')


def test_grammar_names_every_action_and_bounds_the_rationale() -> None:
    g = continuation_grammar(50)
    for action in ACTION_NAMES:
        assert f'"{action}"' in g
    assert "{0,50}" in g


@pytest.mark.slow
def test_constrained_output_always_parses_even_from_the_untuned_model(base_gguf: Path) -> None:
    """The stock model has no idea of the format; the grammar alone must make it valid."""
    from edge_llm_ros.reasoning.backend import GenerationRequest
    from edge_llm_ros.reasoning.encoding import dynamic_text, encode_scene, static_prefix
    from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
    from edge_llm_ros.tools.training.reasoner_dataset import EVAL_FIRST_SEED, generate

    backend = LlamaCppBackend(base_gguf)
    try:
        for sample in generate(12, EVAL_FIRST_SEED):
            pieces: list[str] = []
            request = GenerationRequest(
                static_prefix(sample.instruction),
                dynamic_text(encode_scene(sample.scene, sample.scene.objects), sample.remote),
                max_new_tokens=120, grammar=continuation_grammar(40))
            stats = backend.generate(request, lambda p, out=pieces: out.append(p) or True)
            answer = parse_answer("".join(pieces))
            assert answer.complete, "".join(pieces)
            assert answer.action in ACTION_NAMES and 0 <= answer.target_speed_mps <= 40
            assert stats.generated_tokens > 0 and stats.first_token_ms > 0
    finally:
        backend.close()
