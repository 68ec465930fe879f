"""The lateral half of the safety envelope: what a scene forbids beside the path.

The rule policy's envelope looks along the path (time-to-collision, a road user
in the ego lane). This module looks sideways, at constant velocity, from the
tracked objects' base_link position and velocity plus their lane relation:

- a road user whose lateral motion brings it into the ego corridor within
  `lateral_horizon_s` closer than a safe headway (cut-ins, merges): at least
  slow down, and stop when it arrives inside the stop thresholds;
- while such a road user cuts in, no lane change (brake in lane: predictable);
- a target lane that is occupied (around the ego, or closing from behind) or
  carries oncoming traffic within reach, or (when the scene says so) a left lane
  that is an oncoming one: no lane change to that side;
- a right side (lane or shoulder) with anyone alongside or just ahead: no pull over.

It only ever adds restrictions; the model, the remote plan and the operator's
instruction are read after it and cannot lift them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_llm_ros.reasoning.actions import CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT, PULL_OVER
from edge_llm_ros.types import (
    LANE_EGO,
    LANE_LEFT,
    LANE_OFF_ROAD,
    LANE_RIGHT,
    SceneSummary,
    TrackedObject,
)

LANE_WIDTH_M = 3.5  # fusion's default lane width: lane relation <-> lateral offset
EGO_HALF_WIDTH_M = 0.9
EGO_LENGTH_M = 4.5
CORRIDOR_MARGIN_M = 0.3
MIN_LATERAL_SPEED_MPS = 0.3  # below this lateral motion is noise (fusion's default)
ONCOMING_SPEED_MPS = 1.0  # moving towards us faster than this along the path: oncoming


@dataclass(frozen=True)
class LateralThreat:
    track_id: int
    arrival_s: float  # when it enters the ego corridor
    gap_at_arrival_m: float  # bumper-to-bumper gap along the path then (negative: alongside)
    speed_along_path_mps: float
    critical: bool
    text: str


@dataclass(frozen=True)
class Envelope:
    threats: tuple[LateralThreat, ...] = ()
    forbidden: frozenset[str] = frozenset()  # manoeuvres the scene rules out
    forbidden_why: tuple[tuple[str, str, int], ...] = ()  # (action, reason, track id; -1 none)

    def why(self, action: str) -> str:
        return next((w for a, w, _ in self.forbidden_why if a == action), "")

    def blockers(self, action: str) -> tuple[int, ...]:
        return tuple(i for a, _, i in self.forbidden_why if a == action and i >= 0)


def _finite(x: float, default: float) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else default


def lateral_offset_m(o: TrackedObject) -> float:
    """Lateral offset (left positive), made to agree with the lane relation.

    Fusion derives both from the same offset; when they disagree (a hand-written
    scene, a curved path) the lane relation wins and the offset is its centre.
    """
    y = _finite(o.position_m[1], 0.0)
    k = math.floor(y / LANE_WIDTH_M + 0.5)
    if o.lane_relation == LANE_EGO and k != 0:
        return 0.0
    if o.lane_relation == LANE_LEFT and k < 1:
        return LANE_WIDTH_M
    if o.lane_relation == LANE_RIGHT and k > -1:
        return -LANE_WIDTH_M
    return y


def side_of(o: TrackedObject) -> int:
    """+1 left of the ego lane, -1 right of it, 0 in it."""
    if o.lane_relation == LANE_LEFT:
        return 1
    if o.lane_relation == LANE_RIGHT:
        return -1
    if o.lane_relation == LANE_EGO:
        return 0
    y = lateral_offset_m(o)
    return 0 if abs(y) < 0.5 * LANE_WIDTH_M else (1 if y > 0 else -1)


def lateral_threats(scene: SceneSummary, horizon_s: float, headway_s: float,
                    stop_distance_m: float, stop_ttc_s: float) -> list[LateralThreat]:
    """Objects outside the ego lane moving into its corridor within horizon_s too close."""
    ego_v = max(_finite(scene.ego.speed_mps, 0.0), 0.0)
    out: list[LateralThreat] = []
    for o in scene.objects:
        if o.lane_relation == LANE_EGO:
            continue
        y = lateral_offset_m(o)
        vy = _finite(o.velocity_mps[1], 0.0)
        if abs(vy) < MIN_LATERAL_SPEED_MPS or y * vy >= 0.0:
            continue  # still, or moving away
        half = EGO_HALF_WIDTH_M + CORRIDOR_MARGIN_M + 0.5 * _finite(o.size_m[1], 1.8)
        arrival = max(abs(y) - half, 0.0) / abs(vy)
        if arrival > horizon_s:
            continue
        closing = _finite(o.relative_speed_mps, 0.0)
        gap = _finite(o.distance_m, math.inf) - closing * arrival
        length = _finite(o.size_m[0], 4.5)
        if gap < -(EGO_LENGTH_M + length):
            continue  # we will have passed it
        ego_v_then = max(ego_v, 0.0)
        safe_gap = stop_distance_m + headway_s * ego_v_then
        ttc_then = gap / closing if closing > 0.1 and gap > 0.0 else math.inf
        if gap >= safe_gap and ttc_then >= 2.0 * stop_ttc_s:
            continue
        critical = gap < stop_distance_m or ttc_then < stop_ttc_s
        side = "left" if y > 0 else "right"
        text = (f"{o.class_name} {o.track_id} cutting in from the {side}, "
                f"{max(gap, 0.0):.0f} m ahead in {arrival:.1f} s")
        out.append(LateralThreat(o.track_id, arrival, gap, ego_v - closing, critical, text))
    return sorted(out, key=lambda t: (not t.critical, t.arrival_s))


def _blocks_lane(o: TrackedObject, ego_v: float, margin_m: float,
                 oncoming_reach_s: float) -> str:
    """Why o makes its lane unusable for a lane change now ('' when it does not)."""
    d = _finite(o.distance_m, math.inf)
    closing = _finite(o.relative_speed_mps, 0.0)
    speed = ego_v - closing  # its speed along our path
    if speed < -ONCOMING_SPEED_MPS and -margin_m <= d <= margin_m + (ego_v - speed) \
            * oncoming_reach_s:
        return f"oncoming {o.class_name} {o.track_id} at {d:.0f} m"
    behind_room = margin_m + 3.0 * max(-closing, 0.0)  # faster traffic from behind
    ahead_room = margin_m + 3.0 * max(closing, 0.0)
    if -behind_room <= d <= ahead_room:
        return f"{o.class_name} {o.track_id} at {d:.0f} m"
    return ""


def lateral_envelope(scene: SceneSummary, horizon_s: float = 4.0, headway_s: float = 1.0,
                     stop_distance_m: float = 5.0, stop_ttc_s: float = 1.5,
                     lane_margin_m: float = 15.0, oncoming_reach_s: float = 8.0,
                     shoulder_behind_m: float = 10.0) -> Envelope:
    """The lateral threats and forbidden manoeuvres of one scene."""
    ego_v = max(_finite(scene.ego.speed_mps, 0.0), 0.0)
    threats = lateral_threats(scene, horizon_s, headway_s, stop_distance_m, stop_ttc_s)
    why: list[tuple[str, str, int]] = []
    if scene.ego.lane_index == 0:
        why.append((CHANGE_LANE_RIGHT, "no lane to the right", -1))
    if scene.ego.lanes_left_our_way == 0:  # what it sees there now says nothing of what comes
        why.append((CHANGE_LANE_LEFT, "the lane to the left is oncoming or none", -1))
    for action, side in ((CHANGE_LANE_LEFT, 1), (CHANGE_LANE_RIGHT, -1)):
        for o in scene.objects:
            if side_of(o) != side or o.lane_relation == LANE_OFF_ROAD:
                continue
            reason = _blocks_lane(o, ego_v, lane_margin_m, oncoming_reach_s)
            if reason:
                why.append((action, f"{'left' if side > 0 else 'right'} lane: {reason}",
                            o.track_id))
                break
    # Pulling over sweeps everything right of us until the ego stands on the shoulder,
    # and whatever comes up behind on that side meets a standing car: room for its
    # own speed, not only for what it gains on us now.
    stop_dist = ego_v * ego_v / (2.0 * 2.0) + 10.0
    for o in scene.objects:
        if side_of(o) >= 0:
            continue
        d = _finite(o.distance_m, math.inf)
        closing = _finite(o.relative_speed_mps, 0.0)
        its_speed = max(ego_v - closing, 0.0)
        if -(shoulder_behind_m + 3.0 * its_speed) <= d <= stop_dist:
            why.append((PULL_OVER, f"{o.class_name} {o.track_id} on the right at {d:.0f} m",
                        o.track_id))
            break
    for t in threats:  # while someone cuts in, hold the lane and brake: no swerving
        why.append((CHANGE_LANE_LEFT, t.text, t.track_id))
        why.append((CHANGE_LANE_RIGHT, t.text, t.track_id))
    return Envelope(tuple(threats), frozenset(a for a, _, _ in why), tuple(why))
