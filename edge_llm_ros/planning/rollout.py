"""Simulate one candidate (meta-action, target speed) against predicted traffic.

The ego follows a simple longitudinal law (reach the target speed at the
action's acceleration or deceleration) and a lateral profile for manoeuvres
(a lane change or a pull over moves sideways along a smooth cosine over a
distance that grows with speed, so a standing ego does not move sideways). At
every time step the ego's and each object's footprints (axis-aligned boxes in
the path frame) give the bumper gap, lateral clearance, collisions and the
time-to-collision along the path; the rules of the road are checked on the
nominal prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_llm_ros.planning.prediction import Agents, Prediction
from edge_llm_ros.reasoning.actions import (
    CHANGE_LANE_LEFT,
    CHANGE_LANE_RIGHT,
    KEEP_LANE,
    PULL_OVER,
    SLOW_DOWN,
    STOP,
    YIELD,
)

# Deceleration each action commands to reach a lower target speed, m/s^2.
ACTION_DECEL_MPS2 = {KEEP_LANE: 2.0, CHANGE_LANE_LEFT: 2.0, CHANGE_LANE_RIGHT: 2.0,
                     SLOW_DOWN: 2.5, PULL_OVER: 2.5, YIELD: 4.5, STOP: 6.0}
LATERAL_SIDE = {CHANGE_LANE_LEFT: 1.0, CHANGE_LANE_RIGHT: -1.0}


@dataclass(frozen=True)
class EgoModel:
    length_m: float = 4.5
    width_m: float = 1.8
    accel_mps2: float = 1.5  # speeding up to a higher target
    lane_width_m: float = 3.5
    lane_change_s: float = 4.0  # a lane change takes this long at speed ...
    lane_change_min_m: float = 15.0  # ... and at least this far
    shoulder_offset_m: float = 1.0  # the shoulder's centre beyond the right-most lane's edge
    corridor_margin_m: float = 0.3  # lateral clearance below this counts for TTC and gaps
    vulnerable_margin_m: float = 0.7  # ... plus this for pedestrians and cyclists


@dataclass(frozen=True)
class EgoTrajectory:
    action: str
    target_speed_mps: float
    times_s: np.ndarray  # (T,)
    x_m: np.ndarray  # (T,) front bumper along the path
    y_m: np.ndarray  # (T,) centre, left positive
    v_mps: np.ndarray  # (T,)
    a_mps2: np.ndarray  # (T,)
    manoeuvre_end_s: float  # when the lateral move is complete (0: none)
    target_band_m: tuple[float, float]  # lateral band the manoeuvre enters ((0, 0): none)


def ego_trajectory(action: str, target_speed_mps: float, ego_speed_mps: float,
                   lane_index: int, times_s: np.ndarray, model: EgoModel = EgoModel()
                   ) -> EgoTrajectory:
    """The ego's path for one candidate."""
    t = np.asarray(times_s, float)
    dt = np.diff(t, prepend=t[0])
    v = np.empty_like(t)
    a = np.zeros_like(t)
    speed = max(ego_speed_mps, 0.0)
    decel = ACTION_DECEL_MPS2[action]
    for k in range(len(t)):
        if k:
            if speed < target_speed_mps:
                a[k] = min(model.accel_mps2, (target_speed_mps - speed) / dt[k])
            elif speed > target_speed_mps:
                a[k] = -min(decel, (speed - target_speed_mps) / dt[k])
            speed = max(speed + a[k] * dt[k], 0.0)
        v[k] = speed
    x = np.cumsum(0.5 * (v + np.concatenate([v[:1], v[:-1]])) * dt)
    w = model.lane_width_m
    y = np.zeros_like(t)
    end_s, band = 0.0, (0.0, 0.0)
    if action in LATERAL_SIDE or action == PULL_OVER:
        if action == PULL_OVER:
            offset = -(max(lane_index, 0) * w + 0.5 * w + model.shoulder_offset_m)
            run_m = max(0.8 * ego_speed_mps ** 2 / (2.0 * decel), model.lane_change_min_m)
            band = (offset - 0.5 * model.width_m, -0.5 * w)
        else:
            offset = LATERAL_SIDE[action] * w
            run_m = max(ego_speed_mps * model.lane_change_s, model.lane_change_min_m)
            band = (0.5 * w, 1.5 * w) if offset > 0 else (-1.5 * w, -0.5 * w)
        u = np.clip(x / run_m, 0.0, 1.0)
        y = offset * 0.5 * (1.0 - np.cos(math.pi * u))
        done = np.nonzero(u >= 1.0)[0]
        end_s = float(t[done[0]]) if len(done) else float(t[-1])
    return EgoTrajectory(action, target_speed_mps, t, x, y, v, a, end_s, band)


@dataclass(frozen=True)
class Outcome:
    """Per (sample, object) figures of one candidate; sample 0 is nominal."""

    collision_s: np.ndarray  # (S, N) first contact time, inf when none
    impact_mps: np.ndarray  # (S, N) closing speed along the path at first contact, 0 when none
    min_ttc_s: np.ndarray  # (S, N) along the path, objects in the corridor
    min_gap_m: np.ndarray  # (S, N) bumper gap while laterally overlapping, inf when never
    violations: tuple[tuple[int, str], ...]  # (object index, rule) on the nominal prediction


def simulate(ego: EgoTrajectory, agents: Agents, pred: Prediction, ego_speed_mps: float,
             oncoming_reach_s: float = 8.0, clear_gap_m: float = 5.0,
             clear_headway_s: float = 0.6, sample_horizon_s: float = 3.0,
             model: EgoModel = EgoModel()) -> Outcome:
    """Collisions, TTC and gaps against every predicted future; rules on the nominal one."""
    n = len(agents)
    s = pred.x_m.shape[0]
    if n == 0:
        empty = np.full((s, 0), np.inf)
        return Outcome(empty, np.zeros((s, 0)), empty, empty, ())
    half_l = 0.5 * agents.length_m[None, :, None]
    half_w = 0.5 * agents.width_m[None, :, None]
    ex, ey, ev = ego.x_m[None, None, :], ego.y_m[None, None, :], ego.v_mps[None, None, :]
    ahead_gap = (pred.x_m - half_l) - ex  # object's rear minus our front
    behind_gap = (ex - model.length_m) - (pred.x_m + half_l)  # our rear minus its front
    long_gap = np.maximum(ahead_gap, behind_gap)
    lat_gap = np.abs(pred.y_m - ey) - half_w - 0.5 * model.width_m
    # A sampled surprise is answered by the next plan: score it only until replanning.
    horizon = np.full((s, 1, 1), np.inf)
    horizon[1:] = sample_horizon_s
    relevant = ~agents.follower[None, :, None] & (pred.times_s[None, None, :] <= horizon)
    hit = (long_gap < 0.0) & (lat_gap < 0.0) & relevant
    times = pred.times_s[None, None, :]
    collision = np.where(hit, times, np.inf).min(axis=2)
    first = np.argmax(hit, axis=2)  # (S, N) index of first contact (0 when none)
    rel_speed = np.abs(ev - pred.vx_mps)  # (S, N, T)
    impact = np.where(hit.any(axis=2),
                      np.take_along_axis(rel_speed, first[:, :, None], axis=2)[:, :, 0], 0.0)

    # Pedestrians and cyclists get a wider berth: they change direction without notice.
    margin = model.corridor_margin_m + np.array(
        [model.vulnerable_margin_m if c in ("pedestrian", "cyclist") else 0.0
         for c in agents.classes])[None, :, None]
    corridor = (lat_gap < margin) & relevant
    closing_ahead = ev - pred.vx_mps
    closing_behind = -closing_ahead
    with np.errstate(divide="ignore", invalid="ignore"):
        ttc_a = np.where((ahead_gap >= 0.0) & (closing_ahead > 0.1), ahead_gap / closing_ahead,
                         np.inf)
        ttc_b = np.where((behind_gap >= 0.0) & (closing_behind > 0.1),
                         behind_gap / closing_behind, np.inf)
    ttc = np.minimum(ttc_a, ttc_b)
    # A time-to-collision counts when the two still overlap sideways when it runs out
    # (a lane change moves the ego out of a stopped car's way before it gets there).
    dt = float(pred.times_s[1] - pred.times_s[0]) if len(pred.times_s) > 1 else 1.0
    steps = np.where(np.isfinite(ttc), np.ceil(np.minimum(ttc, 1e6) / dt), 0.0).astype(int)
    last = len(pred.times_s) - 1
    then = np.minimum(np.arange(last + 1)[None, None, :] + steps, last)
    corridor_then = np.take_along_axis(np.broadcast_to(corridor, ttc.shape), then, axis=2)
    ttc = np.where(corridor & corridor_then, ttc, np.inf)
    ttc = np.where(hit, 0.0, ttc)
    gap = np.where(corridor, np.maximum(long_gap, 0.0), np.inf)
    return Outcome(collision, impact, ttc.min(axis=2), gap.min(axis=2),
                   road_rules(ego, agents, pred, ego_speed_mps, oncoming_reach_s, clear_gap_m,
                              clear_headway_s, long_gap[0]))


def road_rules(ego: EgoTrajectory, agents: Agents, pred: Prediction, ego_speed_mps: float,
               oncoming_reach_s: float, clear_gap_m: float, clear_headway_s: float,
               long_gap: np.ndarray) -> tuple[tuple[int, str], ...]:
    """A manoeuvre into a lane or shoulder someone occupies, or into oncoming traffic."""
    if ego.manoeuvre_end_s <= 0.0:
        return ()
    lo, hi = ego.target_band_m
    t = pred.times_s
    during = t <= ego.manoeuvre_end_s + 1.0
    y, half_w = pred.y_m[0], 0.5 * agents.width_m[:, None]
    in_band = (y + half_w > lo) & (y - half_w < hi)  # (N, T)
    need = clear_gap_m + clear_headway_s * np.maximum(ego.v_mps[None, :], 0.0)
    out: list[tuple[int, str]] = []
    what = "shoulder" if ego.action == PULL_OVER else "target lane"
    for i in range(len(agents)):
        if ego.action != PULL_OVER and agents.vx_mps[i] < -1.0 and in_band[i, 0]:
            closing = ego_speed_mps - agents.vx_mps[i]
            if agents.x_m[i] < closing * oncoming_reach_s + clear_gap_m:
                out.append((i, "oncoming traffic in the target lane"))
                continue
        occupied = in_band[i] & during & (long_gap[i] < need[0])
        if occupied.any():
            out.append((i, f"{what} occupied"))
    return tuple(out)
