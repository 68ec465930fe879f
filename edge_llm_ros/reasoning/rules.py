"""The deterministic rule-based policy: the fallback at the deadline and the expert that labels.

It reads only the SceneSummary fields (distance, closing speed, time-to-collision,
lane relation, class) plus a structured operator intent, so the same function
labels training scenes and decides on board when the model runs out of time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from edge_llm_ros.params.specs import default_of
from edge_llm_ros.reasoning.actions import (
    CHANGE_LANE_LEFT,
    CHANGE_LANE_RIGHT,
    KEEP_LANE,
    PULL_OVER,
    SLOW_DOWN,
    STOP,
    YIELD,
)
from edge_llm_ros.reasoning.envelope import ONCOMING_SPEED_MPS, Envelope, lateral_envelope
from edge_llm_ros.types import (
    LANE_EGO,
    LANE_LEFT,
    LANE_RIGHT,
    SceneSummary,
    TrackedObject,
)


def _d(name: str) -> Any:
    """The reasoner spec's default of a parameter (declared once, there)."""
    return default_of("reasoner", name)


VULNERABLE_CLASSES = frozenset({"pedestrian", "cyclist"})


@dataclass(frozen=True)
class RuleThresholds:
    """Fallback thresholds: the reasoner's (and remote planner's) `fallback.*`
    parameters, defaults from their spec, plus core-only speeds."""

    stop_ttc_s: float = _d("fallback.stop_ttc_s")
    stop_distance_m: float = _d("fallback.stop_distance_m")
    slow_ttc_s: float = _d("fallback.slow_ttc_s")
    yield_ttc_s: float = _d("fallback.yield_ttc_s")
    yield_distance_m: float = _d("fallback.yield_distance_m")
    headway_s: float = _d("fallback.headway_s")
    lane_change_distance_m: float = _d("fallback.lane_change_distance_m")
    lane_clear_margin_m: float = _d("fallback.lane_clear_margin_m")
    lane_change_s: float = _d("fallback.lane_change_s")
    stopped_speed_mps: float = 0.5  # an object slower than this is stopped
    speed_tolerance_mps: float = 1.0  # above the speed cap by more than this: slow down
    lateral_horizon_s: float = _d("fallback.lateral_horizon_s")
    cut_in_headway_s: float = _d("fallback.cut_in_headway_s")
    closing_decel_mps2: float = _d("fallback.closing_decel_mps2")
    slow_down_decel_mps2: float = _d("fallback.slow_down_decel_mps2")
    oncoming_reach_s: float = _d("fallback.oncoming_reach_s")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RuleThresholds:
        """From a node's `fallback.*` parameters."""
        return cls(**{name.split(".", 1)[1]: float(value) for name, value in params.items()
                      if name.startswith("fallback.")})

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
SPEED_NUMBER = re.compile(r"\b(\d{1,3})\s*(km/?h|kph|m/s|mps)\b", re.I)
SLOW_INSTRUCTION_CAP_MPS = 8.0


def parse_instruction(text: str) -> OperatorIntent:
    """Best-effort keywords for the fallback; the model reads the words themselves."""
    if not text or not text.strip():
        return OperatorIntent()
    cap = math.inf
    m = SPEED_NUMBER.search(text)
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
    binding: bool = False  # an escape, the one safe answer here: no other action stands
    # No faster than this while staying in the lane (a slower lead ahead that cruising
    # would close on); a lane change is not bound by it.
    lane_speed_cap_mps: float = math.inf
    forbidden: frozenset[str] = frozenset()  # manoeuvres the envelope rules out in this scene


def time_gap_s(distance_m: float, ego_speed_mps: float) -> float:
    """Seconds until the ego reaches where the object is now (inf when standing)."""
    return distance_m / ego_speed_mps if ego_speed_mps > 0.5 else math.inf


def _finite(x: float, default: float) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else default


def _ttc(o: TrackedObject) -> float:
    """Time to collision, inf when unknown or not closing."""
    t = o.time_to_collision_s
    return t if isinstance(t, (int, float)) and not math.isnan(t) and t >= 0 else math.inf


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


def envelope_of(scene: SceneSummary, th: RuleThresholds) -> Envelope:
    """The lateral envelope with the fallback thresholds."""
    return lateral_envelope(scene, th.lateral_horizon_s, th.cut_in_headway_s,
                            th.stop_distance_m, th.stop_ttc_s, th.lane_clear_margin_m,
                            th.oncoming_reach_s)


def closing_decel_mps2(distance_m: float, closing_mps: float, stop_distance_m: float) -> float:
    """Braking that stops a closing lead from coming nearer than stop_distance_m."""
    if closing_mps <= 0.0:
        return 0.0
    room = distance_m - stop_distance_m
    return math.inf if room <= 0.0 else closing_mps * closing_mps / (2.0 * room)


def rule_decide(scene: SceneSummary, intent: OperatorIntent = OperatorIntent(),
                th: RuleThresholds = RuleThresholds()) -> RuleDecision:
    """Safety first (stop, yield, cut-ins), then the operator, then traffic, then the speed cap.

    Every decision carries the envelope's forbidden manoeuvres, so a model or a
    remote plan choosing one of them is overridden by this decision.
    """
    env = envelope_of(scene, th)
    decision = _rule_decide(scene, intent, th, env)
    late = _late_lane_changes(scene, th) - {decision.action}
    return replace(decision, forbidden=env.forbidden | late)


def _late_lane_changes(scene: SceneSummary, th: RuleThresholds) -> frozenset[str]:
    """Lane changes begun too late: a moving road user ahead in the ego lane, slower than
    the ego, nearer than the ego covers while changing lanes. The car would pass it still
    half in its lane (braking behind it is the safe answer); a standing vehicle is gone
    around by the rules' own escape, which this never forbids."""
    ego_v = max(_finite(scene.ego.speed_mps, 0.0), 0.0)
    reach_m = ego_v * th.lane_change_s
    for o in scene.objects:
        distance = _finite(o.distance_m, math.nan)
        if o.lane_relation != LANE_EGO or not 0.0 <= distance < reach_m:
            continue
        speed = _speed_of(o, ego_v)
        if th.stopped_speed_mps < speed < ego_v:
            return frozenset({CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT})
    return frozenset()


def _rule_decide(scene: SceneSummary, intent: OperatorIntent, th: RuleThresholds,
                 env: Envelope) -> RuleDecision:
    ego_v = max(_finite(scene.ego.speed_mps, 0.0), 0.0)
    limit = _finite(scene.ego.speed_limit_mps, 0.0)
    cap = min(limit if limit > 0.0 else math.inf, intent.speed_cap_mps)
    cruise = cap if math.isfinite(cap) else ego_v
    objs = [o for o in scene.objects if math.isfinite(_finite(o.distance_m, math.nan))]

    # A road user coming at us in our own lane: we are in its lane (passing through the
    # oncoming lane) or it is in ours. Stopping there only waits for it; get back to the
    # right while that side is clear.
    oncoming = [o for o in objs if o.lane_relation == LANE_EGO and o.distance_m >= 0.0
                and _speed_of(o, ego_v) < -ONCOMING_SPEED_MPS]
    if oncoming and CHANGE_LANE_RIGHT not in env.forbidden and scene.ego.lane_index != 0 \
            and _lane_clear(objs, LANE_RIGHT, ego_v, th):
        o = min(oncoming, key=lambda x: x.distance_m)
        return RuleDecision(CHANGE_LANE_RIGHT, round(min(ego_v, cruise)), (o.track_id,),
                            describe_object(o, "oncoming in our lane at") + ", right lane clear",
                            critical=True, binding=True)

    critical = [o for o in objs if _ttc(o) < th.stop_ttc_s
                or (o.lane_relation == LANE_EGO and 0.0 <= o.distance_m < th.stop_distance_m
                    and ego_v > th.stopped_speed_mps)]
    if critical:
        o = min(critical, key=_ttc)
        return RuleDecision(STOP, 0.0, tuple(c.track_id for c in critical),
                            describe_object(o, "ahead on the path at"), critical=True)

    vru = [o for o in objs if o.class_name in VULNERABLE_CLASSES
           and (_ttc(o) < th.yield_ttc_s
                or (o.lane_relation == LANE_EGO and 0.0 <= o.distance_m < th.yield_distance_m))]
    if vru:
        o = min(vru, key=lambda v: (_ttc(v), v.distance_m))
        target = min(ego_v, max(_speed_of(o, ego_v), 0.0), 3.0)
        return RuleDecision(YIELD, round(target), tuple(v.track_id for v in vru),
                            describe_object(o, "crossing or ahead at"), critical=True)

    if env.threats:  # cut-ins and merges: make room before they arrive
        t = env.threats[0]
        ids = tuple(x.track_id for x in env.threats)
        if t.critical:
            return RuleDecision(STOP, 0.0, ids, t.text, critical=True)
        target = min(max(t.speed_along_path_mps - 1.0, 0.0), ego_v, cruise)
        return RuleDecision(SLOW_DOWN, round(target), ids, t.text, critical=True)

    in_lane = sorted((o for o in objs if o.lane_relation == LANE_EGO and o.distance_m >= 0.0),
                     key=lambda o: o.distance_m)
    standing = [o for o in in_lane if abs(_speed_of(o, ego_v)) < th.stopped_speed_mps]
    stopped = [o for o in standing if o.distance_m < th.lane_change_distance_m]
    if intent.pull_over and standing and closing_decel_mps2(
            standing[0].distance_m, ego_v, th.stop_distance_m) > th.slow_down_decel_mps2:
        o = standing[0]  # the shoulder is not reached before it: stop in lane first
        return RuleDecision(STOP, 0.0, (o.track_id,),
                            describe_object(o, "stopped in lane at") + ", pull over after",
                            critical=True)

    if intent.pull_over:
        if PULL_OVER not in env.forbidden:
            return RuleDecision(PULL_OVER, 0.0, (), "operator asked to pull over")
        # Asked to pull over, but the right side is taken: slow and let it clear first,
        # no faster than a lead that needs following.
        waiting = RuleDecision(SLOW_DOWN, round(max(ego_v - 3.0, 0.0)), env.blockers(PULL_OVER),
                               "pull over waits: " + env.why(PULL_OVER))
        following = _follow(in_lane, ego_v, cruise, th)
        if following is not None and (following.action == STOP or following.critical or
                                      following.target_speed_mps < waiting.target_speed_mps):
            return replace(following, rationale="pull over waits; " + following.rationale)
        return waiting

    if stopped:
        o = stopped[0]
        if not intent.avoid_lane_change:
            if CHANGE_LANE_LEFT not in env.forbidden and _lane_clear(objs, LANE_LEFT, ego_v, th):
                return RuleDecision(CHANGE_LANE_LEFT, round(min(ego_v, cruise)), (o.track_id,),
                                    describe_object(o, "stopped in lane at") + ", left lane clear")
            if CHANGE_LANE_RIGHT not in env.forbidden and scene.ego.lane_index != 0 \
                    and _lane_clear(objs, LANE_RIGHT, ego_v, th):
                return RuleDecision(CHANGE_LANE_RIGHT, round(min(ego_v, cruise)), (o.track_id,),
                                    describe_object(o, "stopped in lane at") + ", right lane clear")
        # Slowing down is gentle braking; when that no longer stops us short of it, stop.
        # Beyond gentle braking it is inside the envelope: the model may brake harder only.
        need = closing_decel_mps2(o.distance_m, ego_v, th.stop_distance_m)
        action = STOP if need > th.slow_down_decel_mps2 else SLOW_DOWN
        return RuleDecision(action, 0.0, (o.track_id,),
                            describe_object(o, "stopped in lane at") + ", no lane to change to",
                            critical=need > th.closing_decel_mps2)

    following = _follow(in_lane, ego_v, cruise, th)
    if following is not None:
        return following

    if ego_v > cap + th.speed_tolerance_mps:
        why = "above the operator's speed" if cap < limit or limit <= 0.0 else "above the limit"
        return RuleDecision(SLOW_DOWN, round(cap), (), why)
    lead_cap, lead = _lead_cap(in_lane, ego_v, cruise, th)
    if lead is not None:
        return RuleDecision(KEEP_LANE, float(round(lead_cap)), (lead.track_id,),
                            describe_object(lead, "slower lead at") + ", no faster than it",
                            lane_speed_cap_mps=lead_cap)
    return RuleDecision(KEEP_LANE, round(cruise), (), "path clear")


def _lead_cap(in_lane: list[TrackedObject], ego_v: float, cruise: float, th: RuleThresholds
              ) -> tuple[float, TrackedObject | None]:
    """(speed cap, lead): cruising up to `cruise` behind a slower ego-lane lead closes the
    gap; near enough that it would be down to the headway within fallback.slow_ttc_s, hold
    whichever is faster, the lead or the ego now (inf, None when no lead binds)."""
    for o in in_lane:
        lead_v = max(_speed_of(o, ego_v), 0.0)
        if lead_v >= cruise - 0.5:
            continue
        reach = (cruise - lead_v) * th.slow_ttc_s + th.headway_s * cruise + th.stop_distance_m
        if o.distance_m < reach:
            return min(max(lead_v, ego_v), cruise), o
    return math.inf, None


def _follow(in_lane: list[TrackedObject], ego_v: float, cruise: float, th: RuleThresholds
            ) -> RuleDecision | None:
    """Slowing for the nearest ego-lane lead that closes too fast, too near or too soon."""
    follow = [o for o in in_lane
              if _ttc(o) < th.slow_ttc_s
              or (time_gap_s(o.distance_m, ego_v) < th.headway_s
                  and _finite(o.relative_speed_mps, 0.0) > 0.5)
              or closing_decel_mps2(o.distance_m, _finite(o.relative_speed_mps, 0.0),
                                    th.stop_distance_m) > th.closing_decel_mps2]
    if not follow:
        return None
    o = follow[0]
    target = min(max(_speed_of(o, ego_v), 0.0), cruise)
    need = closing_decel_mps2(o.distance_m, _finite(o.relative_speed_mps, 0.0),
                              th.stop_distance_m)
    # Closing faster than gentle braking absorbs is inside the envelope: the model may
    # brake harder, never less.
    critical = need > th.closing_decel_mps2
    if need > th.slow_down_decel_mps2:  # gentle braking no longer keeps the gap
        return RuleDecision(STOP, 0.0, (o.track_id,), describe_object(o, "closing ahead at"),
                            critical=critical)
    return RuleDecision(SLOW_DOWN, round(target), (o.track_id,),
                        describe_object(o, "closing ahead at"), critical=critical)
