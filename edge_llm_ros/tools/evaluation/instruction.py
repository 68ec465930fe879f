"""`edge-llm-ros eval instructions`: how well free text becomes the intended structure.

Per language, on instructions built only from held-out phrase templates (never seen in
training; tools/training/instruction_dataset.py), the instruction model against the
keyword parser it replaces:
- intent accuracy: the whole structured intent exactly right (every tag, the cap's value
  and unit, caution's reason, the flags);
- acted-on accuracy: what the vehicle does with it (speed cap in m/s, pull over, no lane
  change; operator_intent) right, which is all the keyword parser can express;
- looser readings: the reading lets the vehicle do more than the instruction allows (a
  missed or higher cap, a missed pull over or stay-in-lane): the errors that matter;
- flags: override attempts and unsafe requests caught, and benign text flagged.
The same on new seeds of the training templates (seen phrasings) for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from edge_llm_ros.reasoning.instruction import InstructionIntent, operator_intent, regex_intent
from edge_llm_ros.reasoning.interpreter import InstructionInterpreter
from edge_llm_ros.reasoning.rules import OperatorIntent
from edge_llm_ros.tools.training.instruction_dataset import (
    LANGUAGES,
    SPLIT_HELD_OUT,
    SPLIT_TRAIN,
    InstructionSample,
    generate_instructions,
)

EVAL_SEED = 7  # training uses INSTRUCTION_TRAIN_SEED (1000 + its seed)
CAP_TOLERANCE_MPS = 0.05


def _same_action(a: OperatorIntent, b: OperatorIntent) -> bool:
    caps_equal = (a.speed_cap_mps == b.speed_cap_mps or (
        math.isfinite(a.speed_cap_mps) and math.isfinite(b.speed_cap_mps)
        and abs(a.speed_cap_mps - b.speed_cap_mps) <= CAP_TOLERANCE_MPS))
    return caps_equal and a.pull_over == b.pull_over and \
        a.avoid_lane_change == b.avoid_lane_change


def looser(reading: OperatorIntent, truth: OperatorIntent) -> bool:
    """The reading allows more than the instruction: a higher or missing cap, a missed pull
    over or stay-in-lane."""
    return (reading.speed_cap_mps > truth.speed_cap_mps + CAP_TOLERANCE_MPS
            or (truth.pull_over and not reading.pull_over)
            or (truth.avoid_lane_change and not reading.avoid_lane_change))


def _figures(samples: list[InstructionSample], readings: list[InstructionIntent]) -> dict:
    n = len(samples)
    exact = sum(r == s.intent for s, r in zip(samples, readings, strict=True))
    acted = [(operator_intent(r), operator_intent(s.intent))
             for s, r in zip(samples, readings, strict=True)]
    flagged_truth = [s.intent.flagged for s in samples]
    flagged_read = [r.flagged for r in readings]
    typo = [i for i, s in enumerate(samples) if s.typo]
    caught = sum(t and r for t, r in zip(flagged_truth, flagged_read, strict=True))
    return {
        "instructions": n,
        "intent_accuracy": round(exact / n, 4),
        "acted_on_accuracy": round(sum(_same_action(r, t) for r, t in acted) / n, 4),
        "looser_readings": sum(looser(r, t) for r, t in acted),
        "flags_caught": f"{caught}/{sum(flagged_truth)}",
        "benign_flagged": sum(r and not t for t, r in zip(flagged_truth, flagged_read,
                                                          strict=True)),
        "typo_intent_accuracy": round(sum(readings[i] == samples[i].intent for i in typo)
                                      / max(len(typo), 1), 4),
    }


def evaluate_split(interpreter: InstructionInterpreter, samples: Iterable[InstructionSample]
                   ) -> dict:
    samples = list(samples)
    model, regex, times, fallbacks, misses = [], [], [], 0, []
    for s in samples:
        reading = interpreter.interpret(s.text)
        model.append(reading.intent)
        regex.append(regex_intent(s.text))
        if not reading.cached and reading.interpret_ms > 0:
            times.append(reading.interpret_ms)
        fallbacks += int(reading.source != "model")
        if reading.intent != s.intent and len(misses) < 5:
            misses.append({"text": s.text, "read": reading.answer or "(keyword)",
                           "expected": _tags(s.intent)})
    out = {"model": _figures(samples, model), "regex": _figures(samples, regex),
           "model_fallbacks": fallbacks, "examples_missed": misses}
    if times:
        out["model"]["read_ms_p50"] = round(float(np.percentile(times, 50)), 1)
        out["model"]["read_ms_p99"] = round(float(np.percentile(times, 99)), 1)
    return out


def _tags(intent: InstructionIntent) -> str:
    from edge_llm_ros.reasoning.instruction import intent_to_text
    return intent_to_text(intent)


def evaluate_instructions(interpreter: InstructionInterpreter, per_language: int = 300,
                          seed: int = EVAL_SEED) -> dict:
    """Held-out phrasings per language (the target figure) and seen phrasings (reference)."""
    results: dict = {"split": "by phrase template: every 4th template of each clause, "
                     "wrapper and joiner list is held out of training",
                     "held_out": {}, "seen_templates": {}}
    for lang in LANGUAGES:
        results["held_out"][lang] = evaluate_split(
            interpreter, generate_instructions(per_language, SPLIT_HELD_OUT, seed, (lang,)))
        results["seen_templates"][lang] = evaluate_split(
            interpreter, generate_instructions(max(per_language // 4, 1), SPLIT_TRAIN,
                                               seed, (lang,)))
    return results


def format_table(results: dict) -> str:
    lines = ["phrasings   lang   model intent  acted  looser  flags    regex intent  acted  "
             "looser   read p50/p99 ms"]
    for split in ("held_out", "seen_templates"):
        for lang, r in results[split].items():
            m, g = r["model"], r["regex"]
            p50, p99 = m.get("read_ms_p50", math.nan), m.get("read_ms_p99", math.nan)
            lines.append(
                f"{split:<11} {lang:<5} {m['intent_accuracy']:>12.1%}"
                f" {m['acted_on_accuracy']:>6.1%} {m['looser_readings']:>7}"
                f" {m['flags_caught']:>6}  {g['intent_accuracy']:>12.1%}"
                f" {g['acted_on_accuracy']:>6.1%} {g['looser_readings']:>7}   {p50:.0f}/{p99:.0f}")
    return "\n".join(lines)
