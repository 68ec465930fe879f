"""Decisions on scene families held out of training: rules, model alone, deployed reasoner.

The label is the rollout teacher's decision; unsafe is the rollout judge's verdict
(evaluation/teacher.py: collision, time-to-collision under 1 s, or a broken rule of
the road over the next 6 s), the same for every policy; `unsafe_avoidable` counts only
the scenes where some action the teacher weighs passes the judge (in the others a
pedestrian walks into a standing ego, or a cut-in leaves no room at all). Scenes come from
HELDOUT_FAMILIES (never trained on) and, for comparison, from the training
families on seeds training never drew. The model alone is the backend's greedy
answer under the grammar with no deadline; the deployed reasoner is what the
vehicle runs: the deadline, the safety envelope and the rule fallback.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from edge_llm_ros.planning.teacher import teach
from edge_llm_ros.reasoning.backend import GenerationRequest
from edge_llm_ros.reasoning.encoding import (
    RemoteHint,
    dynamic_text,
    encode_scene,
    static_prefix,
)
from edge_llm_ros.reasoning.reasoner import Reasoner, speed_for
from edge_llm_ros.reasoning.rules import OperatorIntent, rule_decide
from edge_llm_ros.reasoning.schema import AnswerError, continuation_grammar, parse_answer
from edge_llm_ros.tools.evaluation.teacher import judge
from edge_llm_ros.tools.training.decision_dataset import (
    DECISION_EVAL_FIRST_SEED,
    HELDOUT_FAMILIES,
    generate_decision_scenes,
    training_families,
)
from edge_llm_ros.tools.training.reasoner_dataset import LabelledScene
from edge_llm_ros.types import SOURCE_FALLBACK_RULE, SceneSummary


@dataclass
class PolicyTally:
    scenes: int = 0
    agree: int = 0
    unsafe: int = 0
    unsafe_avoidable: int = 0  # unsafe where some candidate action was judged safe
    unsafe_examples: list[str] = field(default_factory=list)

    def add(self, sample: LabelledScene, action: str, speed: float,
            avoidable: bool = True) -> None:
        self.scenes += 1
        self.agree += int(action == sample.label.action)
        verdict = judge(sample.scene, action, speed)
        if verdict.unsafe:
            self.unsafe += 1
            self.unsafe_avoidable += int(avoidable)
            if len(self.unsafe_examples) < 5:
                self.unsafe_examples.append(
                    f"{sample.scenario}:{sample.seed} {action} v{speed:.0f}: {verdict.reason}")

    def figures(self) -> dict:
        return {"scenes": self.scenes,
                "agreement_with_teacher": round(self.agree / max(self.scenes, 1), 4),
                "unsafe": self.unsafe, "unsafe_avoidable": self.unsafe_avoidable,
                "unsafe_examples": self.unsafe_examples}


def model_alone(reasoner: Reasoner, scene: SceneSummary, instruction: str,
                intent: OperatorIntent, remote: RemoteHint | None = None,
                max_new_tokens: int | None = None) -> tuple[str, float]:
    """The model's own greedy answer, no deadline, no envelope; a cut or unparsable answer
    counts as keep_lane at the ego speed (the model gave no usable decision).
    max_new_tokens: fewer than the reasoner's when only the action and speed matter."""
    backend = reasoner.backend
    fmt = backend.prompt_format
    request = GenerationRequest(
        static_prefix(instruction, intent, fmt),
        dynamic_text(encode_scene(scene, scene.objects, fmt), remote),
        max_new_tokens or reasoner.config.max_new_tokens, continuation_grammar())
    pieces: list[str] = []
    backend.generate(request, lambda piece: pieces.append(piece) is None)
    try:
        answer = parse_answer("".join(pieces))
    except AnswerError:
        return "keep_lane", float(scene.ego.speed_mps)
    speed = answer.target_speed_mps
    if speed is None:
        rule = rule_decide(scene, intent, reasoner.config.thresholds)
        speed = speed_for(answer.action, scene, rule, intent, reasoner.config.thresholds)
    return answer.action, float(speed)


def has_safe_option(sample: LabelledScene) -> bool:
    """Whether any action the teacher weighs (every action at its candidate speeds) passes
    the judge: where none does, an unsafe verdict says the scene, not the policy, failed."""
    return any(not judge(sample.scene, c.action, c.target_speed_mps).unsafe
               for c in teach(sample.scene, sample.intent).candidates)


def evaluate_split(reasoner: Reasoner | None, samples: list[LabelledScene],
                   log: Callable[[str], None] = print) -> dict:
    rules, alone, deployed, teacher = PolicyTally(), PolicyTally(), PolicyTally(), PolicyTally()
    model_share, latency = 0, []
    per_family: dict[str, dict[str, PolicyTally]] = {}
    for k, s in enumerate(samples):
        fam = per_family.setdefault(s.scenario, {"rules": PolicyTally(),
                                                 "deployed": PolicyTally()})
        avoidable = has_safe_option(s)
        teacher.add(s, s.label.action, s.label.target_speed_mps, avoidable)
        r = rule_decide(s.scene, s.intent, reasoner.config.thresholds if reasoner else None) \
            if reasoner else rule_decide(s.scene, s.intent)
        rules.add(s, r.action, r.target_speed_mps, avoidable)
        fam["rules"].add(s, r.action, r.target_speed_mps, avoidable)
        if reasoner is None or reasoner.backend is None:
            continue
        reasoner.wait_idle()  # one generation at a time: the backend is not thread-safe
        a, v = model_alone(reasoner, s.scene, s.instruction, s.intent, s.remote)
        alone.add(s, a, v, avoidable)
        d = reasoner.decide(s.scene, s.instruction, s.remote, intent=s.intent)
        reasoner.wait_idle()
        deployed.add(s, d.action, d.target_speed_mps, avoidable)
        fam["deployed"].add(s, d.action, d.target_speed_mps, avoidable)
        model_share += int(d.source != SOURCE_FALLBACK_RULE)
        latency.append(d.latency_ms)
        if (k + 1) % 200 == 0:
            log(f"[eval] {k + 1}/{len(samples)}")
    out = {"teacher": teacher.figures(), "rules": rules.figures()}
    if latency:
        out["model_alone"] = alone.figures()
        out["deployed"] = deployed.figures() | {
            "model_share": round(model_share / len(latency), 4),
            "latency_ms_p50": round(statistics.median(latency), 1),
            "latency_ms_p99": round(sorted(latency)[min(len(latency) - 1,
                                                        math.ceil(0.99 * len(latency)) - 1)], 1),
        }
    out["per_family"] = {f: {k: {"agreement_with_teacher": t.figures()["agreement_with_teacher"],
                                 "unsafe": t.unsafe, "unsafe_avoidable": t.unsafe_avoidable}
                             for k, t in v.items() if t.scenes}
                         for f, v in per_family.items()}
    return out


def evaluate_decisions(reasoner: Reasoner | None, per_family: int = 100,
                       log: Callable[[str], None] = print) -> dict:
    """Held-out families and fresh seeds of the training families, side by side."""
    heldout = list(generate_decision_scenes(per_family, DECISION_EVAL_FIRST_SEED,
                                            list(HELDOUT_FAMILIES)))
    seen = list(generate_decision_scenes(max(per_family // 4, 1), DECISION_EVAL_FIRST_SEED,
                                         training_families()))
    model = "rules only" if reasoner is None or reasoner.backend is None else \
        reasoner.backend.model_id
    log(f"[eval] {model}: {len(heldout)} scenes of held-out families "
        f"({', '.join(HELDOUT_FAMILIES)}), {len(seen)} of training families (new seeds)")
    if reasoner is not None and reasoner.backend is not None:
        reasoner.warm_up()
    return {"model": model, "split": "by scene family",
            "heldout_families": list(HELDOUT_FAMILIES),
            "heldout": evaluate_split(reasoner, heldout, log),
            "training_families_new_seeds": evaluate_split(reasoner, seen, log)}
