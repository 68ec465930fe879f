"""Generated instructions: labels that parse, three languages, and phrasings split by
template so the evaluation's phrasings are never trained on."""

from __future__ import annotations

import collections

from edge_llm_ros.reasoning.instruction import intent_from_text, intent_to_text
from edge_llm_ros.tools.training import instruction_dataset as ds


def _template_lists() -> list[list[str]]:
    lists = [*ds.CAP.values(), *ds.PULL.values(), *ds.STOP.values(), *ds.STAY.values(),
             *ds.LANE.values(), *ds.HURRY.values(), *ds.OVERRIDE.values(),
             *ds.UNSAFE.values(), *ds.NONE.values(), *ds.WRAPPERS.values(),
             *ds.JOINERS.values()]
    lists += [templates for by_lang in ds.CAUTION.values() for templates in by_lang.values()]
    return lists


def test_every_template_list_has_both_splits_and_no_template_is_in_both() -> None:
    for templates in _template_lists():
        train = set(ds.in_split(templates, ds.SPLIT_TRAIN))
        held = set(ds.in_split(templates, ds.SPLIT_HELD_OUT))
        assert train and held and not train & held, templates


def test_held_out_clause_templates_never_appear_in_training_text() -> None:
    """A held-out clause's fixed words (its text outside the slots) occur in no training
    instruction built from the same language's templates."""
    train_text = {lang: " ".join(s.text.lower() for s in ds.generate_instructions(
        1500, ds.SPLIT_TRAIN, 3, (lang,))) for lang in ds.LANGUAGES}
    checked = 0
    for table in (ds.PULL, ds.STOP, ds.STAY, ds.HURRY, ds.OVERRIDE, ds.UNSAFE):
        for lang, templates in table.items():
            for t in ds.in_split(templates, ds.SPLIT_HELD_OUT):
                if "{" in t or len(t) < 8:
                    continue
                checked += 1
                assert t.lower() not in train_text[lang], (lang, t)
    assert checked > 20


def test_samples_are_reproducible_labelled_and_cover_every_kind() -> None:
    a = list(ds.generate_instructions(400, ds.SPLIT_HELD_OUT, 5))
    b = list(ds.generate_instructions(400, ds.SPLIT_HELD_OUT, 5))
    assert a == b
    assert collections.Counter(s.language for s in a) == {"en": 400, "zh": 400, "de": 400}
    for s in a:
        assert intent_from_text(intent_to_text(s.intent)) == s.intent
        assert s.text.strip()
    intents = [s.intent for s in a]
    assert any(i.speed_cap_unit == "mph" for i in intents)
    assert any(i.speed_cap_unit == "mps" for i in intents)
    assert any(i.override_attempt for i in intents) and any(i.unsafe_request for i in intents)
    assert {i.caution_reason for i in intents} >= {"weather", "passenger", "children"}
    assert any(i.is_empty for i in intents)
    typo_share = sum(s.typo for s in a) / len(a)
    assert 0.25 < typo_share < 0.45


def test_spelled_and_unit_forms_are_labelled_with_the_value_said() -> None:
    seen_spelled = False
    for s in ds.generate_instructions(600, ds.SPLIT_TRAIN, 11, ("de",)):
        if s.intent.speed_cap_unit and "dreißig" in s.text and not s.typo:
            assert s.intent.speed_cap_value == 30
            seen_spelled = True
    assert seen_spelled
