"""Labelled scenes for training and evaluating the reasoner, generated from the simulator scenarios.

Each sample takes one scenario (sim/scenarios/*.yaml), jitters it with a seed,
picks an instant, and turns the ground truth at that instant into the
SceneSummary that fusion would publish (same geometry code: distance along the
path, closing speed, TTC, lane relation). The ego's own speed is then varied
(the scripted ego brakes like an attentive driver; a decision model must also
see an inattentive one), some objects are dropped or added, measurements get
noise, and an operator instruction and a remote hint are drawn. The rule-based
expert labels each scene. Train and eval sets use disjoint seeds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.fusion.scene import ObjectsInBase, build_objects, relate_to_path
from edge_llm_ros.reasoning.actions import (
    BRAKING_ACTIONS,
    CHANGE_LANE_LEFT,
    CHANGE_LANE_RIGHT,
    KEEP_LANE,
    PULL_OVER,
    SLOW_DOWN,
    STOP,
)
from edge_llm_ros.reasoning.encoding import RemoteHint, select_objects
from edge_llm_ros.reasoning.rules import OperatorIntent, RuleDecision, rule_decide
from edge_llm_ros.reasoning.scene_io import scene_to_dict
from edge_llm_ros.sim.scenario import DEFAULT_SIZES_M, PathState, load_scenario
from edge_llm_ros.types import (
    MODE_FUSED,
    EgoState,
    SceneSummary,
    TrackedObject,
)

# (text, intent) pairs; the model reads the text, the expert the intent.
INSTRUCTIONS: tuple[tuple[str, OperatorIntent], ...] = (
    ("school zone, keep it slow", OperatorIntent(speed_cap_mps=8.0)),
    ("children around, drive slowly", OperatorIntent(speed_cap_mps=8.0)),
    ("heavy rain, take it easy and go slow", OperatorIntent(speed_cap_mps=8.0)),
    ("construction ahead, slow down please", OperatorIntent(speed_cap_mps=8.0)),
    ("keep it under 30 km/h", OperatorIntent(speed_cap_mps=30.0 / 3.6)),
    ("do not exceed 10 m/s", OperatorIntent(speed_cap_mps=10.0)),
    ("max 40 km/h here", OperatorIntent(speed_cap_mps=40.0 / 3.6)),
    ("pull over when it is safe", OperatorIntent(pull_over=True)),
    ("passenger feels sick, stop at the side of the road", OperatorIntent(pull_over=True)),
    ("please pull over, let me out", OperatorIntent(pull_over=True)),
    ("stay in your lane", OperatorIntent(avoid_lane_change=True)),
    ("no lane changes on this stretch", OperatorIntent(avoid_lane_change=True)),
    ("we are in a hurry", OperatorIntent()),
    ("enjoy the drive", OperatorIntent()),
)
# The packaged scenarios the shipped models were trained on. Scenarios added since (the
# closed-loop failure kinds: cut_in_left, truck_merge, lead_closing_fast,
# pull_over_cyclist) stay out, so the shipped models' data can be regenerated as it was
# and those scenarios are ones the models never saw.
TRAINING_SCENARIOS = ("car_braking_ahead", "clear_road", "cyclist_overtaking", "mixed_traffic",
                      "pedestrian_crossing", "stopped_vehicle_in_lane")
INSTRUCTION_SHARE = 0.35
LEAD_SCENARIO = "lead_closing"  # the scenario name of make_lead_scene's samples
REMOTE_SHARE = 0.15


@dataclass
class LabelledScene:
    scenario: str
    seed: int
    t_s: float
    scene: SceneSummary
    instruction: str
    intent: OperatorIntent
    remote: RemoteHint | None
    label: RuleDecision  # the expert's decision on what the prompt shows

    @property
    def needs_braking(self) -> bool:
        return self.label.action in BRAKING_ACTIONS


def combine_with_remote(rule: RuleDecision, remote: RemoteHint | None) -> RuleDecision:
    """Remote advice is taken only when it is at least as cautious and nothing is critical."""
    if remote is None or rule.critical:
        return rule
    if remote.action in (CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT, PULL_OVER):
        return rule  # manoeuvres need the onboard view of the target lane
    target = round(remote.target_speed_mps)
    if target > rule.target_speed_mps or (remote.action == KEEP_LANE and rule.action != KEEP_LANE):
        return rule
    return RuleDecision(remote.action, float(target), rule.driver_object_ids,
                        "remote plan, " + rule.rationale)


def _world_to_ego(scn, t_s: float, ego_speed_scale: float, rng: np.random.Generator
                  ) -> tuple[EgoState, ObjectsInBase, int, int]:
    return world_to_ego(scn, scn.ego_state(t_s), t_s, rng, ego_speed_scale)


def world_to_ego(scn, ego: PathState, t_s: float, rng: np.random.Generator,
                 ego_speed_scale: float = 1.0, road_context: bool = False
                 ) -> tuple[EgoState, ObjectsInBase, int, int]:
    """The road users near an ego pose, in the ego's axes, with its lane and speed limit
    (the closed-loop evaluation passes an ego that the decisions drive). road_context:
    also which lanes to the left go our way, as a map would say (training scenes leave it
    unknown, as they were generated)."""
    cy, sy = math.cos(ego.yaw_rad), math.sin(ego.yaw_rad)
    rot = np.array([[cy, sy], [-sy, cy]])  # world -> ego axes
    ids, xyz, vel, size, yaw, names = [], [], [], [], [], []
    for actor in scn.actors:
        st = scn.actor_state(actor, t_s)
        rel = rot @ np.array([st.x_m - ego.x_m, st.y_m - ego.y_m])
        if not (-30.0 < rel[0] < 120.0 and abs(rel[1]) < 15.0):
            continue
        ids.append(actor.id)
        xyz.append([rel[0], rel[1], 0.5 * actor.size_m[2]])
        vel.append(rot @ np.array([st.vx_mps, st.vy_mps]))
        size.append(actor.size_m)
        yaw.append(st.yaw_rad - ego.yaw_rad)
        names.append(actor.class_name)
    n = len(ids)
    objs = ObjectsInBase(
        ids=np.array(ids, dtype=np.int64), xyz=np.array(xyz, float).reshape(n, 3),
        velocity=np.array(vel, float).reshape(n, 2), size=np.array(size, float).reshape(n, 3),
        yaw=np.array(yaw, float), class_names=names, confidence=rng.uniform(0.5, 1.0, n),
        seen_by_camera=np.ones(n, bool), seen_by_lidar=np.ones(n, bool))
    speed = math.hypot(ego.vx_mps, ego.vy_mps) * ego_speed_scale
    lane = scn.road.lane_at(ego.y_m)
    lane_index = -1 if lane is None else lane
    lanes_left = 0 if lane is None else scn.road.num_lanes - 1 - lane
    lanes_right = 0 if lane is None else lane
    limit = scn.road.speed_limit_mps
    our_way = -1
    if road_context:
        ours = scn.road.num_lanes - scn.road.oncoming_lanes  # lanes 0 .. ours-1 go our way
        our_way = max(ours - 1 - lane, 0) if lane is not None else 0
    return (EgoState(speed_mps=speed, speed_limit_mps=limit, lane_index=lane_index,
                     lanes_left_our_way=our_way), objs, lanes_left, lanes_right)


def _extra_actor(rng: np.random.Generator, next_id: int) -> tuple:
    cls = str(rng.choice(["car", "car", "truck", "pedestrian", "cyclist"]))
    lane_offset = int(rng.choice([-1, 0, 0, 1]))
    x = float(rng.uniform(3.0, 70.0))
    y = lane_offset * 3.5 + float(rng.normal(0.0, 0.3))
    if cls == "pedestrian":
        y = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.0, 7.0))
        v = (0.0, float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.0, 1.8)))
    elif cls == "cyclist":
        v = (float(rng.uniform(2.0, 7.0)), 0.0)
    else:
        v = (float(rng.choice([0.0, rng.uniform(0.0, 15.0)])), 0.0)
    return next_id, cls, (x, y), v


def make_scene(scenario_name: str, seed: int, cfg: FusionConfig | None = None
               ) -> LabelledScene:
    """One labelled scene, fully determined by (scenario, seed)."""
    cfg = cfg or FusionConfig()
    rng = np.random.default_rng(
        int.from_bytes(hashlib.sha256(f"{scenario_name}:{seed}".encode()).digest()[:8], "little"))
    scn = load_scenario(scenario_name).jittered(rng)
    t_s = float(rng.uniform(0.0, scn.duration_s))
    speed_scale = float(rng.choice([1.0, rng.uniform(0.2, 1.5)]))
    ego, objs, lanes_left, lanes_right = _world_to_ego(scn, t_s, speed_scale, rng)
    if ego.speed_mps < 0.5 and rng.random() < 0.7:  # standing scenes are dull; move most of them
        ego.speed_mps = float(rng.uniform(3.0, 15.0))
    if rng.random() < 0.3:
        ego.speed_limit_mps = float(rng.choice([8.3, 13.9, 16.7, 22.2, 0.0]))

    # Perturb the object set: drop some, add some.
    keep = rng.random(len(objs)) > 0.15
    ids, xyz, vel = list(objs.ids[keep]), list(objs.xyz[keep]), list(objs.velocity[keep])
    size, yaw = list(objs.size[keep]), list(objs.yaw[keep])
    names = [n for n, k in zip(objs.class_names, keep, strict=True) if k]
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        _append_actor((ids, xyz, vel, size, yaw, names),
                      *_extra_actor(rng, 100 + len(ids) + int(rng.integers(0, 800))))
    return _labelled(rng, scenario_name, seed, t_s, ego, (ids, xyz, vel, size, yaw, names),
                     lanes_left, lanes_right, cfg)


def _append_actor(actors: tuple, oid: int, cls: str, xy: tuple[float, float],
                  velocity: tuple[float, float]) -> None:
    """Add one road user from _extra_actor to the (ids, xyz, vel, size, yaw, names) lists."""
    ids, xyz, vel, size, yaw, names = actors
    ids.append(oid)
    xyz.append(np.array([xy[0], xy[1], 0.8]))
    vel.append(np.array(velocity))
    size.append(np.array(DEFAULT_SIZES_M[cls]))
    yaw.append(math.pi / 2.0 if cls == "pedestrian" else 0.0)
    names.append(cls)


def make_lead_scene(seed: int, cfg: FusionConfig | None = None) -> LabelledScene:
    """A car or truck ahead in the ego lane at any distance and closing speed (opening ones
    too), with up to two other road users. The product's core case: the scenarios visit a
    closing lead for a few seconds of each run, so most of its time-to-collision range
    (between "keep lane" and "stop") is rare in scenario draws; these scenes cover it densely,
    labelled by the same expert."""
    cfg = cfg or FusionConfig()
    rng = np.random.default_rng(
        int.from_bytes(hashlib.sha256(f"{LEAD_SCENARIO}:{seed}".encode()).digest()[:8], "little"))
    num_lanes = int(rng.integers(1, 5))
    lane = int(rng.integers(0, num_lanes))
    limit = float(rng.choice([8.3, 13.9, 16.7, 22.2, 27.8]))
    ego = EgoState(speed_mps=float(rng.uniform(2.0, 1.2 * limit)), speed_limit_mps=limit,
                      lane_index=lane)
    if rng.random() < 0.75:  # closing: time to collision across stop .. slow .. keep
        closing_mps = float(rng.uniform(1.0, 12.0))
        distance_m = float(np.clip(closing_mps * rng.uniform(0.8, 8.0), 3.0, 90.0))
    else:  # steady or pulling away
        closing_mps = float(rng.uniform(-3.0, 0.5))
        distance_m = float(rng.uniform(4.0, 80.0))
    cls = str(rng.choice(["car", "car", "car", "truck"]))
    ids: list = [int(rng.integers(1, 100))]
    xyz: list = [np.array([distance_m, rng.normal(0.0, 0.3), 0.8])]
    vel: list = [np.array([max(ego.speed_mps - closing_mps, 0.0), 0.0])]
    size: list = [np.array(DEFAULT_SIZES_M[cls])]
    yaw: list = [0.0]
    names: list = [cls]
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        _append_actor((ids, xyz, vel, size, yaw, names),
                      *_extra_actor(rng, 100 + int(rng.integers(0, 800))))
    return _labelled(rng, LEAD_SCENARIO, seed, 0.0, ego, (ids, xyz, vel, size, yaw, names),
                     num_lanes - 1 - lane, lane, cfg)


def _labelled(rng: np.random.Generator, scenario_name: str, seed: int, t_s: float,
              ego: EgoState, actors: tuple, lanes_left: int, lanes_right: int,
              cfg: FusionConfig) -> LabelledScene:
    """Measurement noise, fusion's geometry, an instruction and a remote hint, the label."""
    scene = noisy_scene(rng, t_s, ego, actors, lanes_left, lanes_right, cfg)
    instruction, intent = "", OperatorIntent()
    if rng.random() < INSTRUCTION_SHARE:
        instruction, intent = INSTRUCTIONS[int(rng.integers(0, len(INSTRUCTIONS)))]
    # The expert decides on what the prompt shows, so the label is learnable.
    shown = dataclasses.replace(scene, objects=select_objects(scene))
    label = rule_decide(shown, intent)
    remote = None
    if rng.random() < REMOTE_SHARE:
        action = str(rng.choice([KEEP_LANE, SLOW_DOWN, STOP, label.action]))
        remote = RemoteHint(action, float(rng.integers(0, 16)))
        label = combine_with_remote(label, remote)
    return LabelledScene(scenario_name, seed, t_s, shown, instruction, intent, remote, label)


def noisy_scene(rng: np.random.Generator, t_s: float, ego: EgoState, actors: tuple,
                lanes_left: int, lanes_right: int, cfg: FusionConfig) -> SceneSummary:
    """The scene fusion would publish: road users (ids, xyz, vel, size, yaw, names) with
    measurement noise (0.2 m, 0.2 m/s), related to the ego path."""
    ids, xyz, vel, size, yaw, names = actors
    n = len(ids)
    xyz_a = np.array(xyz, float).reshape(n, 3)
    xyz_a[:, :2] += rng.normal(0.0, 0.2, (n, 2))
    vel_a = np.array(vel, float).reshape(n, 2) + rng.normal(0.0, 0.2, (n, 2))
    objs = ObjectsInBase(
        ids=np.array(ids, dtype=np.int64), xyz=xyz_a, velocity=vel_a,
        size=np.array(size, float).reshape(n, 3), yaw=np.array(yaw, float), class_names=names,
        confidence=rng.uniform(0.5, 1.0, n), seen_by_camera=np.ones(n, bool),
        seen_by_lidar=np.ones(n, bool))
    rel = relate_to_path(objs, ego.speed_mps, 0.0, cfg, lanes_left, lanes_right)
    tracked: list[TrackedObject] = build_objects(objs, rel, cfg.max_objects) if n else []
    return SceneSummary(stamp_ns=int(t_s * 1e9), ego=ego, objects=tracked,
                        perception_mode=MODE_FUSED, camera_fresh=True, lidar_fresh=True,
                        odometry_fresh=True)


def generate_training(count: int, first_seed: int, critical_share: float = 0.0,
                      lead_share: float = 0.0) -> list[LabelledScene]:
    """count scenes like generate(), with at least critical_share of them safety-critical
    (the expert's stop or yield under the envelope): rare on the road, and exactly where a
    wrong answer costs most, so they are drawn from further seeds until the share is met;
    then lead_share of them replaced by make_lead_scene (seeds first_seed..), spread evenly.
    Both replace only ordinary keep_lane scenes, the commonest label, so neither thins out
    the slow-down scenes."""
    samples = _with_critical_share(list(generate(count, first_seed)), count, first_seed,
                                   critical_share)
    want = int(round(lead_share * count))
    if want > 0:
        ordinary = _replaceable(samples)
        step = len(ordinary) / want
        for k in range(min(want, len(ordinary))):
            samples[ordinary[int(k * step)]] = make_lead_scene(first_seed + k)
    return samples


def _with_critical_share(samples: list[LabelledScene], count: int, first_seed: int,
                         critical_share: float) -> list[LabelledScene]:
    want = int(round(critical_share * count)) - sum(s.label.critical for s in samples)
    if want <= 0:
        return samples
    extra: list[LabelledScene] = []
    names = list(TRAINING_SCENARIOS)
    seed = first_seed + count // len(names) + 1
    while len(extra) < want:
        for name in names:
            s = make_scene(name, seed)
            if s.label.critical:
                extra.append(s)
        seed += 1
    # Replace ordinary keep_lane scenes (the last ones), keeping the total count.
    for i, s in zip(reversed(_replaceable(samples)), extra[:want], strict=False):
        samples[i] = s
    return samples


def _replaceable(samples: list[LabelledScene]) -> list[int]:
    return [i for i, s in enumerate(samples)
            if not s.label.critical and s.label.action == KEEP_LANE]


def generate(count: int, first_seed: int, scenarios: list[str] | None = None
             ) -> Iterator[LabelledScene]:
    """count scenes, round-robin over the scenarios, seeds first_seed, first_seed+1, ..."""
    names = scenarios or list(TRAINING_SCENARIOS)
    for i in range(count):
        yield make_scene(names[i % len(names)], first_seed + i // len(names))


TRAIN_FIRST_SEED = 0  # training seeds: 0 .. 99_999
EVAL_FIRST_SEED = 1_000_000  # evaluation seeds: disjoint from training


def save_jsonl(samples: list[LabelledScene], path: Path) -> None:
    with path.open("w") as fh:
        for s in samples:
            fh.write(json.dumps({
                "scenario": s.scenario, "seed": s.seed, "t_s": s.t_s,
                "scene": scene_to_dict(s.scene), "instruction": s.instruction,
                "remote": None if s.remote is None else dataclasses.asdict(s.remote),
                "label": {"action": s.label.action, "target_speed_mps": s.label.target_speed_mps,
                          "driver_object_ids": list(s.label.driver_object_ids)},
            }) + "\n")

