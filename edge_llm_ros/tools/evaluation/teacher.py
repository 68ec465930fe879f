"""Teacher against rules on the hard-case families: unsafe decisions and agreement.

Unsafe is defined by the rollout, the same for every policy: the decided
(action, target speed) held for the horizon against the nominal prediction
(every road user at its measured velocity, lateral motion included) leads to
a collision, or to a time-to-collision below `ttc_threshold_s`, or breaks a
rule of the road (a lane change into an occupied, oncoming or missing lane, a
pull over into an occupied shoulder, a target above the speed limit).
Agreement is the share of scenes whose action is one a careful human accepts
there (HardCase.acceptable). Scenes come from seeds disjoint from those
training may use; `families` picks which families to hold out and score.

Run: python -m edge_llm_ros.tools.evaluation.teacher --per-family 100
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge_llm_ros.planning.prediction import agents_from_scene, predict
from edge_llm_ros.planning.rollout import EgoModel, ego_trajectory, simulate
from edge_llm_ros.planning.teacher import TeacherConfig, teach
from edge_llm_ros.reasoning.actions import CHANGE_LANE_RIGHT
from edge_llm_ros.reasoning.rules import rule_decide
from edge_llm_ros.tools.training.hard_cases import FAMILIES, HardCase, generate_hard_cases
from edge_llm_ros.types import SceneSummary

HARD_CASE_EVAL_FIRST_SEED = 3_000_000  # training draws hard cases from 2_000_000 ..
JUDGE_HORIZON_S = 6.0
JUDGE_STEP_S = 0.1
TTC_THRESHOLD_S = 1.0


@dataclass(frozen=True)
class Verdict:
    unsafe: bool
    reason: str  # "" when safe
    collision_s: float
    min_ttc_s: float


def judge(scene: SceneSummary, action: str, target_speed_mps: float,
          horizon_s: float = JUDGE_HORIZON_S, step_s: float = JUDGE_STEP_S,
          ttc_threshold_s: float = TTC_THRESHOLD_S) -> Verdict:
    """Is (action, target speed) unsafe in this scene by the nominal rollout?"""
    agents = agents_from_scene(scene)
    times = np.arange(int(round(horizon_s / step_s)) + 1, dtype=float) * step_s
    pred = predict(agents, times, 0, 0)
    ego_v = max(float(scene.ego.speed_mps), 0.0)
    traj = ego_trajectory(action, target_speed_mps, ego_v, scene.ego.lane_index, times,
                          EgoModel())
    out = simulate(traj, agents, pred, ego_v)
    collision = float(out.collision_s[0].min()) if len(agents) else math.inf
    ttc = float(out.min_ttc_s[0].min()) if len(agents) else math.inf

    def name(i: int) -> str:
        return f"{agents.classes[i]} {int(agents.ids[i])}"

    limit = float(scene.ego.speed_limit_mps)
    if math.isfinite(collision):
        i = int(np.argmin(out.collision_s[0]))
        return Verdict(True, f"collision with {name(i)} at {collision:.1f} s", collision, ttc)
    if ttc < ttc_threshold_s:
        i = int(np.argmin(out.min_ttc_s[0]))
        return Verdict(True, f"ttc {ttc:.1f} s to {name(i)}", collision, ttc)
    if out.violations:
        i, rule = out.violations[0]
        return Verdict(True, f"{rule} ({name(i)})", collision, ttc)
    if action == CHANGE_LANE_RIGHT and scene.ego.lane_index == 0:
        return Verdict(True, "no lane to the right", collision, ttc)
    if limit > 0.0 and target_speed_mps > limit + 1.0:
        return Verdict(True, "target above the speed limit", collision, ttc)
    return Verdict(False, "", collision, ttc)


Policy = Callable[[HardCase], tuple[str, float]]


def rules_policy(case: HardCase) -> tuple[str, float]:
    d = rule_decide(case.scene, case.intent)
    return d.action, d.target_speed_mps


def teacher_policy(config: TeacherConfig, times_ms: list[float]) -> Policy:
    def run(case: HardCase) -> tuple[str, float]:
        d = teach(case.scene, case.intent, config)
        times_ms.append(d.compute_ms)
        return d.action, d.target_speed_mps
    return run


def evaluate_teacher(per_family: int = 50, first_seed: int = HARD_CASE_EVAL_FIRST_SEED,
                     families: list[str] | None = None,
                     config: TeacherConfig | None = None,
                     extra_policies: dict[str, Policy] | None = None,
                     log: Callable[[str], None] = print) -> dict:
    """Per family and overall: unsafe decisions and agreement of the rules and the teacher."""
    config = config or TeacherConfig()
    times_ms: list[float] = []
    policies: dict[str, Policy] = {"rules": rules_policy,
                                   "teacher": teacher_policy(config, times_ms)}
    policies.update(extra_policies or {})
    cases = list(generate_hard_cases(per_family, first_seed, families))
    rows: dict[str, dict[str, dict[str, int]]] = {}
    examples: dict[str, list[str]] = {}
    for case in cases:
        fam = rows.setdefault(case.family, {})
        for name, policy in policies.items():
            action, speed = policy(case)
            v = judge(case.scene, action, speed)
            r = fam.setdefault(name, {"scenes": 0, "unsafe": 0, "agree": 0})
            r["scenes"] += 1
            r["unsafe"] += int(v.unsafe)
            r["agree"] += int(action in case.acceptable)
            if v.unsafe and len(examples.setdefault(name, [])) < 12:
                examples[name].append(f"{case.family}:{case.seed} {action} {speed:.0f}: "
                                      f"{v.reason}")
    report: dict = {"per_family": {}, "overall": {}, "scenes": len(cases),
                    "config": {"horizon_s": config.horizon_s, "step_s": config.step_s,
                               "samples": config.samples, "seed": config.seed},
                    "judge": {"horizon_s": JUDGE_HORIZON_S, "ttc_threshold_s": TTC_THRESHOLD_S},
                    "unsafe_examples": examples}
    totals: dict[str, dict[str, int]] = {}
    for family, fam in rows.items():
        report["per_family"][family] = {
            name: {"unsafe": r["unsafe"], "agreement": round(r["agree"] / r["scenes"], 3)}
            for name, r in fam.items()}
        for name, r in fam.items():
            t = totals.setdefault(name, {"scenes": 0, "unsafe": 0, "agree": 0})
            for k in t:
                t[k] += r[k]
    for name, t in totals.items():
        report["overall"][name] = {"unsafe": t["unsafe"],
                                   "agreement": round(t["agree"] / max(t["scenes"], 1), 3)}
    if times_ms:
        ordered = sorted(times_ms)
        report["teacher_ms"] = {
            "median": round(statistics.median(ordered), 2),
            "p99": round(ordered[min(int(math.ceil(0.99 * len(ordered))) - 1,
                                     len(ordered) - 1)], 2),
            "max": round(ordered[-1], 2)}
    for family, fam in report["per_family"].items():
        log(f"[teacher-eval] {family:22s} " + "  ".join(
            f"{n} unsafe {r['unsafe']:3d} agree {r['agreement']:.2f}" for n, r in fam.items()))
    return report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-family", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=HARD_CASE_EVAL_FIRST_SEED)
    ap.add_argument("--families", nargs="*", choices=sorted(FAMILIES), default=None)
    ap.add_argument("--horizon-s", type=float, default=TeacherConfig.horizon_s)
    ap.add_argument("--step-s", type=float, default=TeacherConfig.step_s)
    ap.add_argument("--samples", type=int, default=TeacherConfig.samples)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the report here")
    a = ap.parse_args(argv)
    report = evaluate_teacher(a.per_family, a.first_seed, a.families, TeacherConfig(
        horizon_s=a.horizon_s, step_s=a.step_s, samples=a.samples, seed=a.seed))
    text = json.dumps(report, indent=1)
    if a.json:
        with open(a.json, "w") as fh:
            fh.write(text + "\n")
    print(json.dumps({"overall": report["overall"], "teacher_ms": report.get("teacher_ms")}))


if __name__ == "__main__":
    main()

