"""The deterministic rule-based policy: the fallback at the deadline and the expert that labels.

It reads only the SceneSummary fields (distance, closing speed, time-to-collision,
lane relation, class) plus a structured operator intent, so the same function
labels training scenes and decides on board when the model runs out of time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from edge_llm_ros.reasoning.actions import (
    CHANGE_LANE_LEFT,
    CHANGE_LANE_RIGHT,
    KEEP_LANE,
    PULL_OVER,
    SLOW_DOWN,
    STOP,
    YIELD,
)
from edge_llm_ros.types import (
    LANE_EGO,
    LANE_LEFT,
    LANE_RIGHT,
    SceneSummary,
    TrackedObject,
)

VULNERABLE_CLASSES = frozenset({"pedestrian", "cyclist"})


@dataclass(frozen=True)
class RuleThresholds:
    """Fallback thresholds (the reasoner node's `fallback.*` parameters)."""

    stop_ttc_s: float = 1.5  # anything on the path closer in time than this: stop
    stop_distance_m: float = 5.0  # an ego-lane object ahead nearer than this: stop
    slow_ttc_s: float = 4.0  # ego-lane object closing within this: slow down
    yield_ttc_s: float = 5.0  # pedestrian/cyclist reaching the path within this: yield
    yield_distance_m: float = 20.0  # pedestrian/cyclist in the ego lane nearer than this: yield
    headway_s: float = 1.5  # following an ego-lane lead closer than this time gap while closing
    lane_change_distance_m: float = 40.0  # a stopped vehicle this close in lane: go around
    lane_clear_margin_m: float = 15.0  # target lane must be empty this far behind and ahead
    stopped_speed_mps: float = 0.5  # an object slower than this is stopped
    speed_tolerance_mps: float = 1.0  # above the speed cap by more than this: slow down

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not math.isfinite(value) or value < 0.0:
                raise ValueError(f"fallback.{name} must be a finite number >= 0, got {value}")
        if self.stop_ttc_s > self.slow_ttc_s:
            raise ValueError("fallback.stop_ttc_s must not exceed fallback.slow_ttc_s")


@dataclass(frozen=True)
class OperatorIntent:
    """What an operator instruction asks for, structured."""

    speed_cap_mps: float = math.inf
    pull_over: bool = False
    avoid_lane_change: bool = False

    @property
    def is_empty(self) -> bool:
        return self == OperatorIntent()


_SLOW_WORDS = re.compile(r"\b(slow|school|careful|carefully|children|kids|gently|rain|fog|ice|"
                         r"icy|snow|work ?zone|construction)\b", re.I)
_PULL_OVER = re.compile(r"\b(pull over|pull in|stop at the side|side of the road|stop the car|"
                        r"let me out|shoulder)\b", re.I)
_NO_LANE_CHANGE = re.compile(r"\b(stay in (your|this|the) lane|no lane changes?|"
                             r"keep (to )?(your|this) lane|do not change lanes?|"
                             r"don't change lanes?)\b", re.I)
_SPEED_NUMBER = re.compile(r"\b(\d{1,3})\s*(km/?h|kph|m/s|mps)\b", re.I)
SLOW_INSTRUCTION_CAP_MPS = 8.0


def parse_instruction(text: str) -> OperatorIntent:
    """Best-effort keywords for the fallback; the model reads the words themselves."""
    if not text or not text.strip():
        return OperatorIntent()
    cap = math.inf
    m = _SPEED_NUMBER.search(text)
    if m:
        value = float(m.group(1))
        cap = value / 3.6 if m.group(2).lower().startswith("k") else value
    elif _SLOW_WORDS.search(text):
        cap = SLOW_INSTRUCTION_CAP_MPS
    return OperatorIntent(speed_cap_mps=cap, pull_over=bool(_PULL_OVER.search(text)),
                          avoid_lane_change=bool(_NO_LANE_CHANGE.search(text)))


@dataclass(frozen=True)
class RuleDecision:
    action: str
    target_speed_mps: float
    driver_object_ids: tuple[int, ...]
    rationale: str
    critical: bool = False  # inside the safety envelope: nothing may override it


def time_gap_s(distance_m: float, ego_speed_mps: float) -> float:
    """Seconds until the ego reaches where the object is now (inf when standing)."""
    return distance_m / ego_speed_mps if ego_speed_mps > 0.5 else math.inf


def _finite(x: float, default: float) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else default


def _speed_of(obj: TrackedObject, ego_speed: float) -> float:
    """The object's speed along the ego path (ego speed minus closing speed)."""
    return ego_speed - _finite(obj.relative_speed_mps, 0.0)


def describe_object(obj: TrackedObject, what: str) -> str:
    """'car ahead on the path at 14 m, ttc 2.3 s': for rationales."""
    ttc = obj.time_to_collision_s
    ttc_text = f", ttc {ttc:.1f} s" if 0.0 <= ttc < 10.0 else ""
    return f"{obj.class_name} {what} {obj.distance_m:.0f} m{ttc_text}"


def _lane_clear(objects: list[TrackedObject], lane: int, ego_speed: float,
                th: RuleThresholds) -> bool:
    for o in objects:
        if o.lane_relation != lane:
            continue
        d = _finite(o.distance_m, 0.0)
        # Whatever closes on us from ahead needs room in proportion to its speed.
        ahead_room = th.lane_clear_margin_m + 3.0 * max(_finite(o.relative_speed_mps, 0.0), 0.0)
        if -th.lane_clear_margin_m <= d <= ahead_room:
            return False
    return True


def rule_decide(scene: SceneSummary, intent: OperatorIntent = OperatorIntent(),
                th: RuleThresholds = RuleThresholds()) -> RuleDecision:
    """Safety first (stop, yield), then the operator, then traffic, then the speed cap."""
    ego_v = max(_finite(scene.ego.speed_mps, 0.0), 0.0)
    limit = _finite(scene.ego.speed_limit_mps, 0.0)
    cap = min(limit if limit > 0.0 else math.inf, intent.speed_cap_mps)
    cruise = cap if math.isfinite(cap) else ego_v
    objs = [o for o in scene.objects if math.isfinite(_finite(o.distance_m, math.nan))]

    def ttc(o: TrackedObject) -> float:
        t = o.time_to_collision_s
        return t if isinstance(t, (int, float)) and not math.isnan(t) and t >= 0 else math.inf

    critical = [o for o in objs if ttc(o) < th.stop_ttc_s
                or (o.lane_relation == LANE_EGO and 0.0 <= o.distance_m < th.stop_distance_m
                    and ego_v > th.stopped_speed_mps)]
    if critical:
        o = min(critical, key=ttc)
        return RuleDecision(STOP, 0.0, tuple(c.track_id for c in critical),
                            describe_object(o, "ahead on the path at"), critical=True)

    vru = [o for o in objs if o.class_name in VULNERABLE_CLASSES
           and (ttc(o) < th.yield_ttc_s
                or (o.lane_relation == LANE_EGO and 0.0 <= o.distance_m < th.yield_distance_m))]
    if vru:
        o = min(vru, key=lambda v: (ttc(v), v.distance_m))
        target = min(ego_v, max(_speed_of(o, ego_v), 0.0), 3.0)
        return RuleDecision(YIELD, round(target), tuple(v.track_id for v in vru),
                            describe_object(o, "crossing or ahead at"), critical=True)

    if intent.pull_over:
        return RuleDecision(PULL_OVER, 0.0, (), "operator asked to pull over")

    in_lane = sorted((o for o in objs if o.lane_relation == LANE_EGO and o.distance_m >= 0.0),
                     key=lambda o: o.distance_m)
    stopped = [o for o in in_lane if o.distance_m < th.lane_change_distance_m
               and abs(_speed_of(o, ego_v)) < th.stopped_speed_mps]
    if stopped:
        o = stopped[0]
        if not intent.avoid_lane_change:
            if _lane_clear(objs, LANE_LEFT, ego_v, th):
                return RuleDecision(CHANGE_LANE_LEFT, round(min(ego_v, cruise)), (o.track_id,),
                                    describe_object(o, "stopped in lane at") + ", left lane clear")
            if scene.ego.lane_index != 0 and _lane_clear(objs, LANE_RIGHT, ego_v, th):
                return RuleDecision(CHANGE_LANE_RIGHT, round(min(ego_v, cruise)), (o.track_id,),
                                    describe_object(o, "stopped in lane at") + ", right lane clear")
        return RuleDecision(SLOW_DOWN, 0.0, (o.track_id,),
                            describe_object(o, "stopped in lane at") + ", no lane to change to")

    follow = [o for o in in_lane
              if ttc(o) < th.slow_ttc_s
              or (time_gap_s(o.distance_m, ego_v) < th.headway_s
                  and _finite(o.relative_speed_mps, 0.0) > 0.5)]
    if follow:
        o = follow[0]
        target = min(max(_speed_of(o, ego_v), 0.0), cruise)
        return RuleDecision(SLOW_DOWN, round(target), (o.track_id,),
                            describe_object(o, "closing ahead at"))

    if ego_v > cap + th.speed_tolerance_mps:
        why = "above the operator's speed" if cap < limit or limit <= 0.0 else "above the limit"
        return RuleDecision(SLOW_DOWN, round(cap), (), why)
    return RuleDecision(KEEP_LANE, round(cruise), (), "path clear")
