"""Closed-loop evaluation: the policy drives the ego through every simulator scenario.

Open-loop agreement says whether a decision matches a label on one frozen scene;
a vehicle lives with its decisions. Here each decision moves the ego (the rollout
teacher's longitudinal law: the action's deceleration or a gentle acceleration
towards the target speed; lane changes and pull overs move it sideways at a
bounded lateral speed), the scenario's road users follow their scripts (they do
not react to the ego: a car scripted to pass still passes), and the next scene is
built from where everyone now is, with fusion's geometry and measurement noise.
Every policy sees the same seeds (scenario jitter and noise), so their figures
stand side by side: collisions, minimum time-to-collision, hard-brake events,
progress, and for the deployed reasoner the share decided by its model.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.planning.rollout import ACTION_DECEL_MPS2, EgoModel
from edge_llm_ros.reasoning.actions import CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT, PULL_OVER
from edge_llm_ros.reasoning.rules import OperatorIntent, RuleThresholds, parse_instruction
from edge_llm_ros.sim.scenario import PathState, Scenario, list_scenarios, load_scenario
from edge_llm_ros.tools.training.reasoner_dataset import noisy_scene, world_to_ego
from edge_llm_ros.types import SOURCE_FALLBACK_RULE, SceneSummary

HARD_BRAKE_MPS2 = 4.0  # a commanded deceleration at least this strong is a hard-brake event
CLOSED_LOOP_FIRST_SEED = 6_000_000  # disjoint from the training and evaluation seeds
LATERAL_SPEED_MPS = 1.2  # the most sideways speed a lane change or a pull over uses
PULL_OVER_CREEP_MPS = 2.0  # a pull over rolls at least this fast until it is on the shoulder
POLICIES = ("rules", "model", "deployed", "teacher")
# The model alone drives by its action and speed, the first dozen tokens of its answer;
# the rationale after them (a quarter of a second per answer under the grammar on this
# CPU) changes nothing here.
MODEL_ALONE_TOKENS = 16


@dataclass(frozen=True)
class Choice:
    action: str
    target_speed_mps: float
    by_model: bool = False  # the deployed reasoner's own model settled it


Policy = Callable[[SceneSummary, str, OperatorIntent], Choice]


@dataclass
class EgoCar:
    """The ego the decisions drive: world position of base_link, speed, lateral goal."""

    x_m: float
    y_m: float
    speed_mps: float
    target_y_m: float
    model: EgoModel = field(default_factory=EgoModel)

    def pose(self, lateral_speed_mps: float = 0.0) -> PathState:
        yaw = math.atan2(lateral_speed_mps, max(self.speed_mps, 0.1))
        return PathState(self.x_m, self.y_m, yaw, self.speed_mps, lateral_speed_mps)

    def steer_for(self, action: str, scn: Scenario) -> None:
        """Where sideways the action wants the ego: the shoulder, or a neighbour lane's
        centre; other actions leave a manoeuvre under way to complete, as a driver does."""
        road = scn.road
        lane = road.lane_at(self.y_m)
        if action == PULL_OVER:
            self.target_y_m = -road.half_width_m - self.model.shoulder_offset_m
        elif action in (CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT) and lane is not None and \
                abs(self.target_y_m - self.y_m) < 0.3:  # a change under way goes on
            to = lane + (1 if action == CHANGE_LANE_LEFT else -1)
            if 0 <= to < road.num_lanes:
                self.target_y_m = road.lane_center_y(to)

    def advance(self, action: str, target_speed_mps: float, dt_s: float) -> tuple[float, float]:
        """One step; returns (acceleration m/s^2, lateral speed m/s)."""
        v = self.speed_mps
        if action == PULL_OVER and abs(self.target_y_m - self.y_m) > 0.3:
            target_speed_mps = max(target_speed_mps, PULL_OVER_CREEP_MPS)  # get there first
        if v < target_speed_mps:
            a = min(self.model.accel_mps2, (target_speed_mps - v) / dt_s)
        elif v > target_speed_mps:
            a = -min(ACTION_DECEL_MPS2[action], (v - target_speed_mps) / dt_s)
        else:
            a = 0.0
        new_v = max(v + a * dt_s, 0.0)
        self.x_m += 0.5 * (v + new_v) * dt_s
        self.speed_mps = new_v
        # Sideways only while rolling: a standing car does not slide across.
        lat_max = LATERAL_SPEED_MPS * min(1.0, new_v / 3.0)
        vy = float(np.clip(self.target_y_m - self.y_m, -lat_max * dt_s, lat_max * dt_s)) / dt_s
        self.y_m += vy * dt_s
        return a, vy


def _footprint(cx: float, cy: float, length: float, width: float, yaw: float
               ) -> tuple[float, float, float, float]:
    """Axis-aligned bounds (x0, x1, y0, y1) of a box turned by yaw."""
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    hx, hy = 0.5 * (length * c + width * s), 0.5 * (length * s + width * c)
    return cx - hx, cx + hx, cy - hy, cy + hy


@dataclass
class RunResult:
    scenario: str
    seed: int
    decisions: int = 0
    by_model: int = 0
    collisions: list[str] = field(default_factory=list)
    min_ttc_s: float = math.inf
    hard_brakes: int = 0
    progress_m: float = 0.0
    decide_ms: list[float] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)  # "t action v target y" per decision


def _ground_truth(scn: Scenario, ego: EgoCar, t_s: float, result: RunResult,
                  ego_front_m: float) -> None:
    """Contact and time-to-collision against the scripted road users' true positions
    (ego_front_m: base_link to the front bumper, as fusion measures it)."""
    m = ego.model
    ex0, ex1 = ego.x_m + ego_front_m - m.length_m, ego.x_m + ego_front_m
    ey0, ey1 = ego.y_m - 0.5 * m.width_m, ego.y_m + 0.5 * m.width_m
    for actor in scn.actors:
        st = scn.actor_state(actor, t_s)
        x0, x1, y0, y1 = _footprint(st.x_m, st.y_m, actor.size_m[0], actor.size_m[1],
                                    st.yaw_rad)
        overlap_y = y1 > ey0 and y0 < ey1
        if overlap_y and x1 > ex0 and x0 < ex1:
            tag = f"{actor.class_name} {actor.id} at {t_s:.1f} s"
            if not any(c.startswith(f"{actor.class_name} {actor.id} ") for c in result.collisions):
                result.collisions.append(tag)
            continue
        near_y = y1 > ey0 - m.corridor_margin_m and y0 < ey1 + m.corridor_margin_m
        if near_y and x0 >= ex1:
            closing = ego.speed_mps - st.vx_mps
            if closing > 0.1:
                result.min_ttc_s = min(result.min_ttc_s, (x0 - ex1) / closing)


def run_scenario(scn: Scenario, seed: int, policy: Policy, rate_hz: float = 5.0,
                 dt_s: float = 0.05, cfg: FusionConfig | None = None) -> RunResult:
    """Drive one (jittered) scenario with the policy; decisions every 1/rate_hz s."""
    cfg = cfg or FusionConfig()
    rng = np.random.default_rng(seed)
    scn = scn.jittered(rng)
    start = scn.ego_state(0.0)
    ego = EgoCar(start.x_m, start.y_m, math.hypot(start.vx_mps, start.vy_mps), start.y_m)
    instruction = scn.instruction
    intent = parse_instruction(instruction)
    result = RunResult(scn.name, seed)
    every = max(int(round(1.0 / (rate_hz * dt_s))), 1)
    choice = Choice("keep_lane", ego.speed_mps)
    braking_hard, vy = False, 0.0
    steps = int(round(scn.duration_s / dt_s))
    for k in range(steps + 1):
        t = k * dt_s
        if ego.x_m > scn.road.length_m - 20.0:
            break
        if k % every == 0:
            ego_state, objs, lanes_left, lanes_right = world_to_ego(scn, ego.pose(vy), t, rng,
                                                                     road_context=True)
            actors = (list(objs.ids), list(objs.xyz), list(objs.velocity), list(objs.size),
                      list(objs.yaw), list(objs.class_names))
            scene = noisy_scene(rng, t, ego_state, actors, lanes_left, lanes_right, cfg)
            began = time.perf_counter()
            choice = policy(scene, instruction, intent)
            result.decide_ms.append((time.perf_counter() - began) * 1e3)
            result.decisions += 1
            result.by_model += int(choice.by_model)
            ego.steer_for(choice.action, scn)
            result.trace.append(f"{t:.1f} {choice.action} v{ego.speed_mps:.1f}->"
                                f"{choice.target_speed_mps:.1f} x{ego.x_m:.0f} y{ego.y_m:.1f}")
        _ground_truth(scn, ego, t, result, cfg.ego_front_m)
        x_before = ego.x_m
        a, vy = ego.advance(choice.action, choice.target_speed_mps, dt_s)
        result.progress_m += ego.x_m - x_before
        hard = a <= -HARD_BRAKE_MPS2
        result.hard_brakes += int(hard and not braking_hard)
        braking_hard = hard
    return result


def rules_policy(th: RuleThresholds | None = None) -> Policy:
    from edge_llm_ros.reasoning.rules import rule_decide
    th = th or RuleThresholds()

    def decide(scene: SceneSummary, instruction: str, intent: OperatorIntent) -> Choice:
        r = rule_decide(scene, intent, th)
        return Choice(r.action, r.target_speed_mps)
    return decide


def teacher_policy() -> Policy:
    from edge_llm_ros.tools.training.decision_dataset import teacher_label

    def decide(scene: SceneSummary, instruction: str, intent: OperatorIntent) -> Choice:
        r = teacher_label(scene, intent)
        return Choice(r.action, r.target_speed_mps)
    return decide


def model_policy(reasoner) -> Policy:
    from edge_llm_ros.tools.evaluation.decision import model_alone

    def decide(scene: SceneSummary, instruction: str, intent: OperatorIntent) -> Choice:
        action, speed = model_alone(reasoner, scene, instruction, intent,
                                    max_new_tokens=MODEL_ALONE_TOKENS)
        return Choice(action, speed, by_model=True)
    return decide


def deployed_policy(reasoner) -> Policy:
    def decide(scene: SceneSummary, instruction: str, intent: OperatorIntent) -> Choice:
        reasoner.wait_idle()
        d = reasoner.decide(scene, instruction, None, intent=intent)
        reasoner.wait_idle()  # the cut generation ends before the next scene's
        return Choice(d.action, d.target_speed_mps, by_model=d.source != SOURCE_FALLBACK_RULE)
    return decide


def _summary(runs: list[RunResult], baseline_progress: dict[tuple[str, int], float] | None
             ) -> dict:
    decisions = sum(r.decisions for r in runs)
    progress = sum(r.progress_m for r in runs)
    ttcs = [r.min_ttc_s for r in runs if math.isfinite(r.min_ttc_s)]
    out = {
        "runs": len(runs),
        "collisions": sum(len(r.collisions) for r in runs),
        "runs_with_collision": sum(1 for r in runs if r.collisions),
        "min_ttc_s": round(min(ttcs), 2) if ttcs else None,
        "min_ttc_s_median_of_runs": round(statistics.median(ttcs), 2) if ttcs else None,
        "hard_brakes": sum(r.hard_brakes for r in runs),
        "progress_m": round(progress, 1),
        "decisions": decisions,
        "model_share": round(sum(r.by_model for r in runs) / decisions, 4) if decisions else 0.0,
        "decide_ms_p50": round(statistics.median([m for r in runs for m in r.decide_ms]), 2)
        if decisions else None,
        "collision_examples": [f"{r.scenario}:{r.seed} {c}" for r in runs
                               for c in r.collisions][:6],
        "actions": dict(Counter(line.split()[1] for r in runs for line in r.trace)),
    }
    if baseline_progress:
        base = sum(baseline_progress[(r.scenario, r.seed)] for r in runs)
        out["progress_vs_rules"] = round(progress / base, 4) if base > 0 else None
    return out


def evaluate_closed_loop(policies: dict[str, Policy], scenarios: list[str] | None = None,
                         seeds: int = 10, rate_hz: float = 5.0,
                         log: Callable[[str], None] = print) -> dict:
    """Every scenario x seeds, each policy driving; per policy and per scenario figures."""
    names = scenarios or list_scenarios()
    loaded = {n: load_scenario(n) for n in names}
    runs: dict[str, list[RunResult]] = {}
    for pname, policy in policies.items():
        t0 = time.monotonic()
        runs[pname] = [run_scenario(loaded[n], CLOSED_LOOP_FIRST_SEED + s, policy, rate_hz)
                       for n in names for s in range(seeds)]
        log(f"[closed-loop] {pname}: {len(runs[pname])} runs "
            f"({time.monotonic() - t0:.0f} s)")
    base = {(r.scenario, r.seed): r.progress_m for r in runs.get("rules", [])}
    return {
        "scenarios": names, "seeds": seeds, "first_seed": CLOSED_LOOP_FIRST_SEED,
        "decision_rate_hz": rate_hz,
        "policies": {p: _summary(rs, base) for p, rs in runs.items()},
        "per_scenario": {n: {p: _summary([r for r in rs if r.scenario == n], base)
                             for p, rs in runs.items()} for n in names},
    }
