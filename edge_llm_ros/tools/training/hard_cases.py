"""Hard-case scene families: the situations the rule policy gets wrong, drawn densely.

Each family places the ego and a few road users by hand-chosen distributions
(no scenario file), then turns them into the SceneSummary fusion would publish
with the same geometry code as reasoner_dataset (distance along the path,
closing speed, lateral-aware TTC, lane relation), so lateral position and
velocity are consistent with the lane relation. Every scene carries its family,
its seed (the scene is a pure function of both), the instruction, and the
actions a careful human driver would accept there (the agreement reference).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.fusion.scene import ObjectsInBase, build_objects, relate_to_path
from edge_llm_ros.reasoning.actions import (
    CHANGE_LANE_LEFT,
    KEEP_LANE,
    SLOW_DOWN,
    STOP,
    YIELD,
)
from edge_llm_ros.reasoning.rules import OperatorIntent, parse_instruction
from edge_llm_ros.sim.scenario import DEFAULT_SIZES_M
from edge_llm_ros.types import MODE_FUSED, EgoState, SceneSummary

LANE_W = 3.5
EGO_FRONT_M = 3.5  # base_link to front bumper (fusion's default)


@dataclass(frozen=True)
class Actor:
    track_id: int
    cls: str
    gap_m: float  # bumper gap ahead of the ego front (negative: alongside or behind)
    y_m: float  # centre, left positive
    vx_mps: float
    vy_mps: float = 0.0

    def centre_x(self) -> float:
        return EGO_FRONT_M + self.gap_m + 0.5 * DEFAULT_SIZES_M[self.cls][0]


@dataclass(frozen=True)
class HardCase:
    family: str
    seed: int
    scene: SceneSummary
    instruction: str
    intent: OperatorIntent
    acceptable: frozenset[str]  # what a careful human would do
    note: str  # the situation in a few words


@dataclass
class _Draft:
    ego_speed_mps: float
    limit_mps: float
    lane_index: int
    lanes_left: int
    actors: list[Actor]
    acceptable: frozenset[str]
    note: str
    instruction: str = ""


def _scene(d: _Draft, seed_rng: np.random.Generator, cfg: FusionConfig) -> SceneSummary:
    n = len(d.actors)
    sizes = np.array([DEFAULT_SIZES_M[a.cls] for a in d.actors], float).reshape(n, 3)
    objs = ObjectsInBase(
        ids=np.array([a.track_id for a in d.actors], np.int64),
        xyz=np.array([[a.centre_x(), a.y_m, 0.8] for a in d.actors], float).reshape(n, 3),
        velocity=np.array([[a.vx_mps, a.vy_mps] for a in d.actors], float).reshape(n, 2),
        size=sizes, yaw=np.array([1.5708 if a.cls == "pedestrian" else 0.0
                                  for a in d.actors], float),
        class_names=[a.cls for a in d.actors], confidence=seed_rng.uniform(0.6, 1.0, n),
        seen_by_camera=np.ones(n, bool), seen_by_lidar=np.ones(n, bool))
    ego = EgoState(speed_mps=d.ego_speed_mps, speed_limit_mps=d.limit_mps,
                      lane_index=d.lane_index)
    tracked = []
    if n:
        rel = relate_to_path(objs, ego.speed_mps, 0.0, cfg, d.lanes_left, d.lane_index)
        tracked = build_objects(objs, rel, cfg.max_objects)
    return SceneSummary(stamp_ns=0, ego=ego, objects=tracked, perception_mode=MODE_FUSED,
                           camera_fresh=True, lidar_fresh=True, odometry_fresh=True)


def road_scene(ego_speed_mps: float, actors: list[Actor], limit_mps: float = 13.9,
               lane_index: int = 1, lanes_left: int = 1, seed: int = 0) -> SceneSummary:
    """A fused scene of hand-placed road users (tests, the 40-scene failure kinds)."""
    draft = _Draft(ego_speed_mps, limit_mps, lane_index, lanes_left, actors, frozenset(), "")
    return _scene(draft, np.random.default_rng(seed), FusionConfig())


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _ego(rng: np.random.Generator) -> tuple[float, float]:
    limit = float(rng.choice([13.9, 16.7, 22.2]))
    return _u(rng, 0.6, 1.0) * limit, limit


def _benign(rng: np.random.Generator, count: int, ego_v: float, first_id: int,
            lane_index: int, lanes_left: int) -> list[Actor]:
    """Road users that do not matter: parked off the road, walking along the pavement,
    or in another lane well ahead going our speed."""
    out = []
    right_edge = -(lane_index + 0.5) * LANE_W
    for k in range(count):
        kind = int(rng.integers(0, 3))
        oid = first_id + k
        if kind == 0:
            out.append(Actor(oid, "car", _u(rng, 10.0, 80.0), right_edge - 1.8, 0.0))
        elif kind == 1:
            side = right_edge - 2.5 if rng.random() < 0.5 else (lanes_left + 0.5) * LANE_W + 2.5
            out.append(Actor(oid, "pedestrian", _u(rng, 5.0, 60.0), side,
                             float(rng.choice([-1.0, 1.0])) * _u(rng, 0.5, 1.5)))
        elif lanes_left > 0:
            out.append(Actor(oid, "car", _u(rng, 40.0, 90.0), LANE_W, ego_v + _u(rng, 0.0, 2.0)))
        else:
            out.append(Actor(oid, "car", _u(rng, -60.0, -40.0), 0.0, ego_v - _u(rng, 0.0, 2.0)))
    return out


def _cut_in(rng: np.random.Generator, side: float) -> _Draft:
    v, limit = _ego(rng)
    lane_index = 1
    actors = [Actor(int(rng.integers(1, 50)), str(rng.choice(["car", "car", "truck"])),
                    _u(rng, 6.0, 20.0), side * (LANE_W + float(rng.normal(0.0, 0.2))),
                    v - _u(rng, 1.0, 5.0), -side * _u(rng, 0.6, 1.5))]
    actors += _benign(rng, int(rng.integers(0, 3)), v, 60, lane_index, 1)
    return _Draft(v, limit, lane_index, 1, actors, frozenset({SLOW_DOWN, STOP}),
                  f"cut-in from the {'left' if side > 0 else 'right'}")


def cut_in_left(rng: np.random.Generator) -> _Draft:
    return _cut_in(rng, 1.0)


def cut_in_right(rng: np.random.Generator) -> _Draft:
    return _cut_in(rng, -1.0)


def merge(rng: np.random.Generator) -> _Draft:
    """A truck (or car) merging from the on-ramp on our right a few metres ahead."""
    v, limit = _ego(rng)
    cls = str(rng.choice(["truck", "truck", "car"]))
    actors = [Actor(int(rng.integers(1, 50)), cls, _u(rng, 0.0, 10.0), -LANE_W,
                    v - _u(rng, 0.0, 4.0), _u(rng, 0.5, 1.0))]
    left_busy = rng.random() < 0.5
    if left_busy:
        actors.append(Actor(51, "car", _u(rng, -8.0, 8.0), LANE_W, v + _u(rng, -1.0, 2.0)))
    ok = {SLOW_DOWN, STOP} | (set() if left_busy else {CHANGE_LANE_LEFT})
    return _Draft(v, limit, 0, 1, actors, frozenset(ok), "merge from the right")


def lane_change_conflict(rng: np.random.Generator) -> _Draft:
    """A stopped car ahead; the only lane to pass in is taken (alongside or fast from
    behind)."""
    v, limit = _ego(rng)
    room = v * v / 12.0 + 8.0  # a hard stop still fits: the test is the lane, not physics
    gap = _u(rng, max(25.0, room), max(45.0, room + 10.0))
    actors = [Actor(int(rng.integers(1, 50)), "car", gap, 0.0, 0.0)]
    if rng.random() < 0.5:
        actors.append(Actor(51, "car", _u(rng, -8.0, 6.0), LANE_W, v + _u(rng, -1.0, 1.0)))
    else:
        actors.append(Actor(51, str(rng.choice(["car", "truck"])), -_u(rng, 18.0, 35.0), LANE_W,
                            v + _u(rng, 6.0, 12.0)))
    return _Draft(v, limit, 0, 1, actors, frozenset({SLOW_DOWN, STOP}),
                  "pass blocked by the next lane")


def pull_over_conflict(rng: np.random.Generator) -> _Draft:
    """Asked to pull over with a cyclist (or car) alongside on the right."""
    v = _u(rng, 5.0, 11.0)
    cls = str(rng.choice(["cyclist", "cyclist", "car"]))
    y = -_u(rng, 2.2, 2.8) if cls == "cyclist" else -LANE_W
    actors = [Actor(int(rng.integers(1, 50)), cls, _u(rng, -4.0, 6.0), y,
                    v + _u(rng, -2.0, 0.5))]
    lane_index = 0 if cls == "cyclist" else 1
    instruction = str(rng.choice(["pull over when it is safe", "please pull over, let me out",
                                  "passenger feels sick, stop at the side of the road"]))
    return _Draft(v, 13.9, lane_index, 1, actors, frozenset({SLOW_DOWN, KEEP_LANE, YIELD}),
                  f"pull over with a {cls} alongside on the right", instruction)


def oncoming_passing(rng: np.random.Generator) -> _Draft:
    """Two-lane road: a slow or stopped vehicle ahead, oncoming traffic in the passing lane."""
    v, limit = _ego(rng)
    slow = Actor(int(rng.integers(1, 50)), str(rng.choice(["truck", "car"])),
                 _u(rng, max(25.0, v * v / 12.0 + 8.0), max(50.0, v * v / 12.0 + 18.0)),
                 0.0,
                 float(rng.choice([0.0, _u(rng, 0.0, 0.4)])))
    oncoming = Actor(51, "car", _u(rng, 40.0, 110.0), LANE_W, -_u(rng, 10.0, 16.0))
    return _Draft(v, limit, 0, 1, [slow, oncoming], frozenset({SLOW_DOWN, STOP}),
                  "oncoming traffic in the passing lane")


def ego_stopped(rng: np.random.Generator) -> _Draft:
    """Standing in a queue, or with a pedestrian crossing just ahead."""
    limit = 13.9
    if rng.random() < 0.5:
        actors = [Actor(int(rng.integers(1, 50)), "car", _u(rng, 2.0, 8.0), 0.0, 0.0)]
        note = "standing behind a stopped car"
    else:
        side = float(rng.choice([-1.0, 1.0]))
        actors = [Actor(int(rng.integers(1, 50)), "pedestrian", _u(rng, 2.0, 10.0),
                        side * _u(rng, 0.0, 2.5), 0.0, -side * _u(rng, 0.8, 1.6))]
        note = "standing with a pedestrian crossing ahead"
    actors += _benign(rng, int(rng.integers(0, 3)), 0.0, 60, 1, 1)
    return _Draft(0.0, limit, 1, 1, actors, frozenset({STOP, YIELD, SLOW_DOWN}), note)


def over_limit(rng: np.random.Generator) -> _Draft:
    limit = float(rng.choice([8.3, 13.9, 16.7, 22.2]))
    v = limit * _u(rng, 1.2, 1.5)
    actors = _benign(rng, int(rng.integers(0, 4)), v, 60, 1, 1)
    return _Draft(v, limit, 1, 1, actors, frozenset({SLOW_DOWN}), "above the speed limit")


def dense_one_threat(rng: np.random.Generator) -> _Draft:
    """Many road users that do not matter and one that does."""
    v, limit = _ego(rng)
    actors = _benign(rng, int(rng.integers(5, 9)), v, 60, 1, 1)
    kind = int(rng.integers(0, 3))
    tid = int(rng.integers(1, 50))
    if kind == 0:  # cut-in from the left
        threat = Actor(tid, "car", _u(rng, 4.0, 15.0), LANE_W, v - _u(rng, 2.0, 6.0),
                       -_u(rng, 0.8, 1.5))
        ok = {SLOW_DOWN, STOP}
    elif kind == 1:  # pedestrian stepping out, reaching our lane about when we do
        gap = _u(rng, 12.0, 35.0)
        speed = _u(rng, 1.2, 1.8)
        y = -LANE_W * 0.5 - speed * gap / max(v, 1.0) * _u(rng, 0.4, 0.9)
        threat = Actor(tid, "pedestrian", gap, y, 0.0, speed)
        ok = {YIELD, STOP, SLOW_DOWN}
    else:  # lead braking hard, close
        closing = _u(rng, 4.0, 9.0)
        threat = Actor(tid, "car", closing * _u(rng, 1.8, 3.5), 0.0, max(v - closing, 0.0))
        ok = {SLOW_DOWN, STOP}
    return _Draft(v, limit, 1, 1, [*actors, threat], frozenset(ok), "dense, one real threat")


def closing_lead_far(rng: np.random.Generator) -> _Draft:
    """A lead far enough that TTC looks comfortable but closing fast."""
    limit = float(rng.choice([16.7, 22.2, 27.8]))
    v = _u(rng, 0.8, 1.0) * limit
    closing = min(_u(rng, 7.0, 12.0), v)
    gap = closing * _u(rng, 4.05, 5.5)
    actors = [Actor(int(rng.integers(1, 50)), str(rng.choice(["car", "truck"])), gap, 0.0,
                    v - closing)]
    actors += _benign(rng, int(rng.integers(0, 2)), v, 60, 1, 1)
    return _Draft(v, limit, 1, 1, actors, frozenset({SLOW_DOWN, CHANGE_LANE_LEFT}),
                  "lead closing fast at range")


FAMILIES: dict[str, Callable[[np.random.Generator], _Draft]] = {
    "cut_in_left": cut_in_left, "cut_in_right": cut_in_right, "merge": merge,
    "lane_change_conflict": lane_change_conflict, "pull_over_conflict": pull_over_conflict,
    "oncoming_passing": oncoming_passing, "ego_stopped": ego_stopped,
    "over_limit": over_limit, "dense_one_threat": dense_one_threat,
    "closing_lead_far": closing_lead_far,
}

HARD_CASE_FIRST_SEED = 2_000_000  # disjoint from reasoner_dataset's train and eval seeds


def make_hard_case(family: str, seed: int, cfg: FusionConfig | None = None) -> HardCase:
    """One scene of a family, a pure function of (family, seed)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown hard-case family {family!r}; known: {', '.join(FAMILIES)}")
    rng = np.random.default_rng(
        int.from_bytes(hashlib.sha256(f"hard:{family}:{seed}".encode()).digest()[:8], "little"))
    draft = FAMILIES[family](rng)
    scene = _scene(draft, rng, cfg or FusionConfig())
    return HardCase(family, seed, scene, draft.instruction, parse_instruction(draft.instruction),
                    draft.acceptable, draft.note)


def generate_hard_cases(per_family: int, first_seed: int = HARD_CASE_FIRST_SEED,
                        families: list[str] | None = None) -> Iterator[HardCase]:
    """per_family scenes of each family (seeds first_seed ..), family by family."""
    for family in families or list(FAMILIES):
        for k in range(per_family):
            yield make_hard_case(family, first_seed + k)
