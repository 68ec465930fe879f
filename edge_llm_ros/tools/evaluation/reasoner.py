"""`edge-llm-ros eval reasoner`: decision quality on held-out labelled scenes.

The scene set comes from the same generator as training but from disjoint
seeds. Every policy is scored against the expert's safe action: agreement,
and unsafe misses (a scene that needs stop, yield or slow down answered with
keep lane or a target speed above the ego's) counted on their own. The rule
policy alone (what the fallback does, reading instructions by keywords) is the
reference; the model is scored on its own (a generous deadline) and as
deployed (the real deadline, fallback included). Instructions are scored three
ways: none, phrased as in training, and paraphrased in words training never
used (which the fallback's keywords partly miss).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable

from edge_llm_ros.reasoning.actions import KEEP_LANE, SLOW_DOWN, STOP, YIELD
from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
from edge_llm_ros.reasoning.rules import OperatorIntent, rule_decide
from edge_llm_ros.tools.training.reasoner_dataset import (
    EVAL_FIRST_SEED,
    LabelledScene,
    combine_with_remote,
    generate,
)

NEEDS_SLOWING = frozenset({STOP, SLOW_DOWN, YIELD})

# Held out from training: the same intents in other words.
PARAPHRASES: dict[str, str] = {
    "school zone, keep it slow": "kids are walking to class here, crawl along",
    "children around, drive slowly": "little ones playing nearby, easy on the pedal",
    "heavy rain, take it easy and go slow": "the road is flooded, go slow",
    "construction ahead, slow down please": "road works ahead, reduce speed",
    "keep it under 30 km/h": "no faster than 30 km/h",
    "do not exceed 10 m/s": "hold it at 10 m/s at most",
    "max 40 km/h here": "the limit for us is 40 km/h",
    "pull over when it is safe": "find a safe spot and pull over",
    "passenger feels sick, stop at the side of the road": "I feel sick, get us to the curb",
    "please pull over, let me out": "drop me off here at the kerb",
    "stay in your lane": "keep to this lane please",
    "no lane changes on this stretch": "do not change lanes here",
    "we are in a hurry": "we are running late",
    "enjoy the drive": "nice weather today",
}


def is_unsafe_miss(sample: LabelledScene, action: str, target_speed_mps: float) -> bool:
    if sample.label.action not in NEEDS_SLOWING:
        return False
    return action == KEEP_LANE or target_speed_mps > sample.scene.ego.speed_mps + 0.5


def without_instruction(s: LabelledScene) -> LabelledScene:
    label = combine_with_remote(rule_decide(s.scene, OperatorIntent()), s.remote)
    return dataclasses.replace(s, instruction="", intent=OperatorIntent(), label=label)


def paraphrased(s: LabelledScene) -> LabelledScene:
    return dataclasses.replace(s, instruction=PARAPHRASES.get(s.instruction, s.instruction))


def score(samples: list[LabelledScene], decide: Callable[[LabelledScene], tuple[str, float, int]]
          ) -> dict:
    """Agreement with the label, unsafe misses, and how often each source decided."""
    agree = unsafe = 0
    sources: Counter[int] = Counter()
    confusion: Counter[str] = Counter()
    for s in samples:
        action, speed, source = decide(s)
        sources[source] += 1
        agree += int(action == s.label.action)
        unsafe += int(is_unsafe_miss(s, action, speed))
        if action != s.label.action:
            confusion[f"{s.label.action}->{action}"] += 1
    n = max(len(samples), 1)
    needing = sum(1 for s in samples if s.label.action in NEEDS_SLOWING)
    return {"scenes": len(samples), "agreement": round(agree / n, 4),
            "unsafe_misses": unsafe, "scenes_needing_slowing": needing,
            "unsafe_miss_rate": round(unsafe / max(needing, 1), 4),
            "model_share": round(sources[0] / n + sources[2] / n, 4),
            "top_confusions": dict(confusion.most_common(6))}


def evaluate_reasoner(reasoner_model: Reasoner | None, scenes: int = 600,
                      deadline_ms: float | None = None, log: Callable[[str], None] = print,
                      config: ReasonerConfig | None = None) -> dict:
    """Quality figures; reasoner_model None scores the rule policy only.

    The rule policy runs with `config` (default: the model reasoner's config, else the
    reasoner node's defaults) and `deadline_ms` defaults to its deadline."""
    if config is None:
        config = reasoner_model.config if reasoner_model is not None else ReasonerConfig()
    deadline_ms = deadline_ms or config.deadline_ms
    samples = list(generate(scenes, EVAL_FIRST_SEED))
    with_instr = [s for s in samples if s.instruction]
    sets = {
        "as_generated": samples,
        "no_instruction": [without_instruction(s) for s in samples],
        "instruction_training_words": with_instr,
        "instruction_paraphrased": [paraphrased(s) for s in with_instr],
    }
    rules = Reasoner(None, dataclasses.replace(config, deadline_ms=deadline_ms))

    def via(r: Reasoner, budget_ms: float) -> Callable[[LabelledScene], tuple[str, float, int]]:
        def run(s: LabelledScene) -> tuple[str, float, int]:
            r.wait_idle()
            d = r.decide(s.scene, s.instruction, s.remote, budget_ms=budget_ms)
            return d.action, d.target_speed_mps, d.source
        return run

    out: dict = {"scenes": len(samples), "label_counts": dict(Counter(
        s.label.action for s in samples)), "deadline_ms": deadline_ms}
    for name, subset in sets.items():
        t0 = time.monotonic()
        entry = {"rules_only": score(subset, via(rules, deadline_ms))}
        if reasoner_model is not None:
            entry["model_no_deadline"] = score(subset, via(reasoner_model, 10_000.0))
            if name == "as_generated":
                entry["deployed_at_deadline"] = score(subset, via(reasoner_model, deadline_ms))
        out[name] = entry
        log(f"[eval] {name}: {len(subset)} scenes in {time.monotonic() - t0:.0f} s: "
            + ", ".join(f"{k} agreement {v['agreement']:.3f} unsafe {v['unsafe_misses']}"
                        for k, v in entry.items()))
    return out
