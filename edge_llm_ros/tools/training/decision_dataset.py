"""Teacher-labelled scenes for the on-board decision model, split by scene family.

Families are the simulator's scenarios, the closing-lead sweep and the hard-case
families (cut-ins, merges, lane-change and pull-over conflicts, oncoming traffic,
ego stopped, over the limit, dense scenes with one threat). Training draws from
every family except HELDOUT_FAMILIES; evaluation scores those held-out families
only, on seeds no training draw uses, so the figure measures generalisation to
kinds of scenes the model has never seen rather than to new seeds of known ones.

Each scene is labelled by the rollout teacher (planning/teacher.py) on what the
prompt shows (the most urgent objects), with the operator's structured intent:
the `intent` prompt format carries the intent, not the words (the instruction
stage turns words into intents).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator

import numpy as np

from edge_llm_ros.planning.teacher import TeacherConfig, teach
from edge_llm_ros.reasoning.encoding import RemoteHint, select_objects
from edge_llm_ros.reasoning.reasoner import envelope_overrules
from edge_llm_ros.reasoning.rules import OperatorIntent, RuleDecision, rule_decide
from edge_llm_ros.tools.training.hard_cases import FAMILIES as HARD_CASE_FAMILIES
from edge_llm_ros.tools.training.hard_cases import LANE_W, Actor, make_hard_case, road_scene
from edge_llm_ros.tools.training.reasoner_dataset import (
    LEAD_SCENARIO,
    REMOTE_SHARE,
    TRAINING_SCENARIOS,
    LabelledScene,
    combine_with_remote,
    make_lead_scene,
    make_scene,
)
from edge_llm_ros.types import SceneSummary

# Held out of training: each has trained relatives (cut-ins for merge, the pedestrian
# scenario for the overtaking cyclist, lane-change conflicts for oncoming traffic,
# mixed traffic and closing leads for the dense scene), none is seen itself.
HELDOUT_FAMILIES = ("merge", "cyclist_overtaking", "oncoming_passing", "dense_one_threat")
DECISION_TRAIN_FIRST_SEED = 4_000_000
DECISION_EVAL_FIRST_SEED = 5_000_000
RANDOM_INTENT_SHARE = 0.3  # besides the instructions the scene sources draw themselves
RANDOM_TRAFFIC = "random_traffic"  # a training family of unscripted scenes


def all_families() -> list[str]:
    return [*TRAINING_SCENARIOS, LEAD_SCENARIO, RANDOM_TRAFFIC, *HARD_CASE_FAMILIES]


def training_families() -> list[str]:
    return [f for f in all_families() if f not in HELDOUT_FAMILIES]


def _rng(family: str, seed: int) -> np.random.Generator:
    return np.random.default_rng(
        int.from_bytes(hashlib.sha256(f"decision:{family}:{seed}".encode()).digest()[:8],
                       "little"))


def random_intent(rng: np.random.Generator) -> OperatorIntent:
    """Any structured intent the instruction stage may hand over."""
    cap = float(rng.integers(3, 26)) if rng.random() < 0.5 else float("inf")
    return OperatorIntent(speed_cap_mps=cap, pull_over=bool(rng.random() < 0.3),
                          avoid_lane_change=bool(rng.random() < 0.3))


def teacher_label(scene: SceneSummary, intent: OperatorIntent,
                  config: TeacherConfig | None = None) -> RuleDecision:
    """The teacher's best decision that the deployed reasoner's safety envelope lets stand:
    where the rules see a critical scene, nothing less cautious or faster than their
    decision (the reasoner overrides such an answer); the teacher's next-best candidate
    that is not, else the rules' own decision. Training on what the envelope would
    overrule teaches the model answers the vehicle never acts on."""
    config = config or TeacherConfig()
    decided = teach(scene, intent, config)
    rule = rule_decide(scene, intent, config.thresholds)

    def allowed(action: str, speed: float) -> bool:
        return not envelope_overrules(rule, action, speed)

    speed = float(round(decided.target_speed_mps))
    if allowed(decided.action, speed):
        return RuleDecision(decided.action, speed, decided.driver_object_ids,
                            decided.rationale, critical=rule.critical, forbidden=rule.forbidden)
    for c in decided.candidates:
        speed = float(round(c.target_speed_mps))
        if allowed(c.action, speed):
            return RuleDecision(c.action, speed, rule.driver_object_ids, rule.rationale,
                                critical=rule.critical, forbidden=rule.forbidden)
    return rule


def random_traffic(seed: int) -> tuple[SceneSummary, OperatorIntent, str]:
    """Road users placed and moving at random (lanes, gaps, closing and lateral speeds,
    crossings, oncoming traffic): no situation scripted, so the model learns the geometry
    rather than a family's look."""
    rng = _rng(RANDOM_TRAFFIC, seed)
    lane_index, lanes_left = int(rng.integers(0, 3)), int(rng.integers(0, 3))
    limit = float(rng.choice([8.3, 13.9, 16.7, 22.2, 27.8]))
    ego_v = 0.0 if rng.random() < 0.08 else float(rng.uniform(0.2, 1.3)) * limit
    actors: list[Actor] = []
    for k in range(int(rng.choice([0, 1, 1, 2, 2, 3, 4, 6]))):
        cls = str(rng.choice(["car", "car", "car", "truck", "pedestrian", "cyclist"]))
        gap = float(rng.uniform(-15.0, 90.0)) if rng.random() < 0.7 else \
            float(rng.uniform(2.0, 30.0))
        vy = 0.0
        if cls == "pedestrian":
            edge = -(lane_index + 0.5) * LANE_W - 1.5 if rng.random() < 0.5 else \
                (lanes_left + 0.5) * LANE_W + 1.5
            y = float(rng.uniform(-1.5, 1.5)) if rng.random() < 0.3 else edge
            vx = 0.0
            if rng.random() < 0.5:
                vy = float(rng.uniform(0.6, 2.0)) * (1.0 if y < 0 else -1.0)
        else:
            lane = int(rng.integers(-min(lane_index, 1) - (rng.random() < 0.15),
                                    min(lanes_left, 1) + 1))
            y = lane * LANE_W + float(rng.normal(0.0, 0.3))
            if cls == "cyclist":
                y = min(y, -(lane_index + 0.5) * LANE_W + 0.8) if rng.random() < 0.5 else y
                vx = float(rng.uniform(2.0, 8.0))
            elif lane > 0 and rng.random() < 0.3:
                vx = -float(rng.uniform(8.0, 18.0))  # oncoming in the left lane
            else:
                vx = max(ego_v + float(rng.uniform(-12.0, 5.0)), 0.0) \
                    if rng.random() < 0.85 else 0.0
            if lane != 0 and rng.random() < 0.3:
                vy = -np.sign(lane) * float(rng.uniform(0.3, 2.0))  # drifting toward us
        actors.append(Actor(10 + k, cls, gap, y, vx, vy))
    scene = road_scene(ego_v, actors, limit, lane_index, lanes_left, seed)
    return scene, OperatorIntent(), ""


def _source_scene(family: str, seed: int) -> tuple[SceneSummary, OperatorIntent, str]:
    if family == RANDOM_TRAFFIC:
        return random_traffic(seed)
    if family == LEAD_SCENARIO:
        s = make_lead_scene(seed)
        return s.scene, s.intent, s.instruction
    if family in HARD_CASE_FAMILIES:
        h = make_hard_case(family, seed)
        return h.scene, h.intent, h.instruction
    s = make_scene(family, seed)
    return s.scene, s.intent, s.instruction


def make_decision_scene(family: str, seed: int) -> LabelledScene:
    """One teacher-labelled scene, a pure function of (family, seed)."""
    rng = _rng(family, seed)
    scene, intent, instruction = _source_scene(family, seed)
    if rng.random() < RANDOM_INTENT_SHARE:
        intent, instruction = random_intent(rng), ""
    shown = dataclasses.replace(scene, objects=select_objects(scene))
    label = teacher_label(shown, intent)
    remote = None
    if rng.random() < REMOTE_SHARE:
        action = str(rng.choice(["keep_lane", "slow_down", "stop", label.action]))
        remote = RemoteHint(action, float(rng.integers(0, 16)))
        label = combine_with_remote(label, remote)
    return LabelledScene(family, seed, 0.0, shown, instruction, intent, remote, label)


def generate_decision_scenes(per_family: int, first_seed: int, families: list[str]
                             ) -> Iterator[LabelledScene]:
    """per_family scenes of each family, interleaved (seeds first_seed ..)."""
    for k in range(per_family):
        for family in families:
            yield make_decision_scene(family, first_seed + k)
