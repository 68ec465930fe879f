"""Driving scenarios: a data model, YAML loading and strict validation.

A scenario is data, not code: the road, the ego vehicle's scripted drive and
the other road users' scripted paths. Every path is a pure function of time,
so the simulator can sample any instant (and ground-truth velocities are
exact). Mistakes in a YAML file raise `ScenarioError` naming the file and the
field path, because a typo that silently fell back to a default would produce
a scenario other than the one its author meant.

Conventions (world frame): the road runs along +x from x=0 to
`road.length_m`, lanes lie across y and the road is centred on y=0. Lane 0 is
the rightmost lane (most negative y) and indices grow to the left (+y).
Lanes drive towards +x except the leftmost `road.oncoming_lanes`, which carry
traffic towards -x. Sidewalks (raised `SIDEWALK_HEIGHT_M`) flank the road.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

ACTOR_CLASSES: tuple[str, ...] = ("car", "pedestrian", "cyclist", "truck")
# length, width, height in metres: the box that ground truth reports.
DEFAULT_SIZES_M: dict[str, tuple[float, float, float]] = {
    "car": (4.5, 1.8, 1.5),
    "pedestrian": (0.6, 0.6, 1.75),
    "cyclist": (1.8, 0.6, 1.7),
    "truck": (8.0, 2.5, 3.2),
}
SIDEWALK_HEIGHT_M = 0.15


class ScenarioError(ValueError):
    """A scenario file or mapping is malformed; the message names the field."""


# ---------------------------------------------------------------- kinematics


@dataclass(frozen=True)
class PathState:
    """Where a road user is at one instant (world frame)."""

    x_m: float
    y_m: float
    yaw_rad: float
    vx_mps: float
    vy_mps: float


@dataclass(frozen=True)
class SpeedProfile:
    """Speed over time: [t_s, speed_mps] keyframes, linearly interpolated.

    Held constant before the first and after the last keyframe, so the
    distance travelled is exact (piecewise quadratic) at any time.
    """

    keyframes: tuple[tuple[float, float], ...]

    def _knots(self) -> tuple[np.ndarray, np.ndarray]:
        ts = np.array([k[0] for k in self.keyframes], dtype=float)
        vs = np.array([k[1] for k in self.keyframes], dtype=float)
        if ts[0] > 0.0:
            ts = np.concatenate(([0.0], ts))
            vs = np.concatenate(([vs[0]], vs))
        return ts, vs

    def speed(self, t_s: float) -> float:
        ts, vs = self._knots()
        return float(np.interp(t_s, ts, vs))

    def acceleration(self, t_s: float) -> float:
        """Slope of the segment starting at or before t (right-continuous)."""
        ts, vs = self._knots()
        i = int(np.searchsorted(ts, t_s, side="right")) - 1
        if i < 0 or i >= len(ts) - 1:
            return 0.0
        return float((vs[i + 1] - vs[i]) / (ts[i + 1] - ts[i]))

    def distance(self, t_s: float) -> float:
        """Distance travelled from t=0 to t (t >= 0)."""
        ts, vs = self._knots()
        t_s = max(t_s, 0.0)
        seg = np.diff(ts) * (vs[:-1] + vs[1:]) / 2.0
        cum = np.concatenate(([0.0], np.cumsum(seg)))
        i = int(np.searchsorted(ts, t_s, side="right")) - 1
        if i >= len(ts) - 1:
            return float(cum[-1] + (t_s - ts[-1]) * vs[-1])
        v_t = float(np.interp(t_s, ts, vs))
        return float(cum[i] + (t_s - ts[i]) * (vs[i] + v_t) / 2.0)

    def scaled(self, factor: float) -> SpeedProfile:
        return SpeedProfile(tuple((t, v * factor) for t, v in self.keyframes))


@dataclass(frozen=True)
class LaneChange:
    """Move to `to_lane` over `duration_s` from `start_s`.

    A cycloidal blend: lateral speed and acceleration are zero at both ends,
    so yaw and yaw rate stay continuous as they do for a real vehicle.
    """

    start_s: float
    duration_s: float
    to_lane: int


@dataclass(frozen=True)
class Road:
    num_lanes: int
    lane_width_m: float
    length_m: float
    speed_limit_mps: float
    oncoming_lanes: int = 0
    sidewalk_width_m: float = 2.5

    @property
    def half_width_m(self) -> float:
        return self.num_lanes * self.lane_width_m / 2.0

    def lane_center_y(self, lane: int) -> float:
        return (lane + 0.5) * self.lane_width_m - self.half_width_m

    def lane_at(self, y_m: float) -> int | None:
        """Index of the lane containing y, or None off the carriageway."""
        i = math.floor((y_m + self.half_width_m) / self.lane_width_m)
        return i if 0 <= i < self.num_lanes else None

    def is_oncoming(self, lane: int) -> bool:
        return lane >= self.num_lanes - self.oncoming_lanes

    def ground_height(self, y_m: float) -> float:
        """Surface height under y: sidewalks are raised, road and verge are not."""
        off = abs(y_m) - self.half_width_m
        return SIDEWALK_HEIGHT_M if 0.0 < off <= self.sidewalk_width_m else 0.0


@dataclass(frozen=True)
class LanePath:
    """Drive along a lane's centre with a speed profile, optionally changing lanes."""

    lane: int
    start_x_m: float
    speed: SpeedProfile
    lane_changes: tuple[LaneChange, ...] = ()

    def state(self, t_s: float, road: Road) -> PathState:
        sign = -1.0 if road.is_oncoming(self.lane) else 1.0
        x = self.start_x_m + sign * self.speed.distance(t_s)
        v = self.speed.speed(t_s)
        y = road.lane_center_y(self.lane)
        vy = 0.0
        # Changes are validated to be in time order and not to overlap.
        for change in self.lane_changes:
            y_to = road.lane_center_y(change.to_lane)
            if t_s >= change.start_s + change.duration_s:
                y = y_to
                continue
            if t_s > change.start_s:
                s = (t_s - change.start_s) / change.duration_s
                w = 2.0 * math.pi * s
                vy = (y_to - y) / change.duration_s * (1.0 - math.cos(w))
                y += (y_to - y) * (s - math.sin(w) / (2.0 * math.pi))
            break
        vx = sign * v
        yaw = math.atan2(vy, vx) if abs(vx) + abs(vy) > 1e-9 else (math.pi if sign < 0 else 0.0)
        return PathState(x, y, yaw, vx, vy)

    def jittered(self, dx_m: float, speed_factor: float, road: Road) -> LanePath:
        sign = -1.0 if road.is_oncoming(self.lane) else 1.0
        return dataclasses.replace(
            self, start_x_m=self.start_x_m + sign * dx_m, speed=self.speed.scaled(speed_factor)
        )


@dataclass(frozen=True)
class KeyframePath:
    """Waypoints [t_s, x_m, y_m] in world, linearly interpolated.

    Yaw follows the direction of motion. While standing still an actor keeps
    the yaw of its last motion; before it has moved it uses `yaw_deg` if given,
    else the direction of its first motion (a waiting pedestrian faces where it
    will walk).
    """

    keyframes: tuple[tuple[float, float, float], ...]
    yaw_deg: float | None = None

    def _segment_yaws(self) -> list[float | None]:
        yaws: list[float | None] = []
        for (_, x0, y0), (_, x1, y1) in zip(self.keyframes, self.keyframes[1:], strict=False):
            moving = math.hypot(x1 - x0, y1 - y0) > 1e-9
            yaws.append(math.atan2(y1 - y0, x1 - x0) if moving else None)
        return yaws

    def _resting_yaw(self, seg_yaws: list[float | None], upto: int) -> float:
        """Yaw while still, looking at segments before index `upto`."""
        for y in reversed(seg_yaws[:upto]):
            if y is not None:
                return y
        if self.yaw_deg is not None:
            return math.radians(self.yaw_deg)
        for y in seg_yaws[upto:]:
            if y is not None:
                return y
        return 0.0

    def state(self, t_s: float, road: Road | None = None) -> PathState:
        del road  # keyframes are already in world coordinates
        kf = self.keyframes
        seg_yaws = self._segment_yaws()
        if t_s <= kf[0][0]:
            return PathState(kf[0][1], kf[0][2], self._resting_yaw(seg_yaws, 0), 0.0, 0.0)
        if t_s >= kf[-1][0]:
            return PathState(kf[-1][1], kf[-1][2], self._resting_yaw(seg_yaws, len(seg_yaws)),
                             0.0, 0.0)
        i = max(j for j in range(len(kf) - 1) if kf[j][0] <= t_s)
        (t0, x0, y0), (t1, x1, y1) = kf[i], kf[i + 1]
        a = (t_s - t0) / (t1 - t0)
        vx, vy = (x1 - x0) / (t1 - t0), (y1 - y0) / (t1 - t0)
        yaw = seg_yaws[i]
        if yaw is None:
            yaw = self._resting_yaw(seg_yaws, i)
        return PathState(x0 + a * (x1 - x0), y0 + a * (y1 - y0), yaw, vx, vy)

    def jittered(self, dx_m: float, speed_factor: float, road: Road) -> KeyframePath:
        del road
        t0 = self.keyframes[0][0]
        return dataclasses.replace(self, keyframes=tuple(
            (t0 + (t - t0) / speed_factor, x + dx_m, y) for t, x, y in self.keyframes
        ))


Path_ = LanePath | KeyframePath


# ------------------------------------------------------------------- models


@dataclass(frozen=True)
class Jitter:
    """How much a non-zero seed perturbs each actor (uniform, +/-)."""

    position_m: float = 0.0
    speed_fraction: float = 0.0


@dataclass(frozen=True)
class EgoSpec:
    lane: int
    start_x_m: float
    speed: SpeedProfile
    lane_changes: tuple[LaneChange, ...] = ()

    @property
    def path(self) -> LanePath:
        return LanePath(self.lane, self.start_x_m, self.speed, self.lane_changes)


@dataclass(frozen=True)
class ActorSpec:
    id: int
    class_name: str
    size_m: tuple[float, float, float]
    path: Path_
    color_rgb: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration_s: float
    road: Road
    ego: EgoSpec
    actors: tuple[ActorSpec, ...] = ()
    jitter: Jitter = field(default_factory=Jitter)
    source: str = "<memory>"
    instruction: str = ""  # what the operator says during the run (closed-loop evaluation)

    def ego_state(self, t_s: float) -> PathState:
        return self.ego.path.state(t_s, self.road)

    def actor_state(self, actor: ActorSpec, t_s: float) -> PathState:
        return actor.path.state(t_s, self.road)

    def jittered(self, rng: np.random.Generator) -> Scenario:
        """A copy with each actor's start position and speed perturbed by `jitter`.

        Two draws per actor, always, so one actor's jitter does not depend on
        the others' path kinds.
        """
        actors = []
        for actor in self.actors:
            dx = float(rng.uniform(-1.0, 1.0)) * self.jitter.position_m
            factor = 1.0 + float(rng.uniform(-1.0, 1.0)) * self.jitter.speed_fraction
            actors.append(dataclasses.replace(
                actor, path=actor.path.jittered(dx, factor, self.road)))
        return dataclasses.replace(self, actors=tuple(actors))


# --------------------------------------------------------------- validation


class _Checker:
    """Reads a plain YAML mapping into the model, naming every bad field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ScenarioError:
        where = f"{path}: " if path else ""
        return ScenarioError(f"scenario '{self.source}': {where}{message}")

    def mapping(self, value: Any, path: str, required: Sequence[str],
                optional: Sequence[str] = ()) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {_show(value)}")
        for key in value:
            if key not in required and key not in optional:
                allowed = ", ".join(list(required) + list(optional))
                raise self.fail(_join(path, str(key)), f"unknown key (allowed: {allowed})")
        for key in required:
            if key not in value:
                raise self.fail(_join(path, key), "missing required field")
        return value

    def number(self, value: Any, path: str, *, min_value: float | None = None,
               positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"expected a number, got {_show(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise self.fail(path, f"expected a finite number, got {value}")
        if positive and value <= 0.0:
            raise self.fail(path, f"must be > 0, got {value:g}")
        if min_value is not None and value < min_value:
            raise self.fail(path, f"must be >= {min_value:g}, got {value:g}")
        return value

    def integer(self, value: Any, path: str, *, min_value: int | None = None,
                max_value: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer, got {_show(value)}")
        if min_value is not None and value < min_value:
            raise self.fail(path, f"must be >= {min_value}, got {value}")
        if max_value is not None and value > max_value:
            raise self.fail(path, f"must be <= {max_value}, got {value}")
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {_show(value)}")
        return value.strip()

    def sequence(self, value: Any, path: str, *, min_len: int = 0) -> Sequence[Any]:
        if not isinstance(value, list | tuple):
            raise self.fail(path, f"expected a list, got {_show(value)}")
        if len(value) < min_len:
            raise self.fail(path, f"expected at least {min_len} entries, got {len(value)}")
        return value

    def row(self, value: Any, path: str, names: Sequence[str]) -> list[float]:
        """A fixed-length row of numbers such as [t_s, x_m, y_m]."""
        shape = "[" + ", ".join(names) + "]"
        if not isinstance(value, list | tuple) or len(value) != len(names):
            raise self.fail(path, f"expected {shape}, got {_show(value)}")
        return [self.number(v, f"{path}[{i}]") for i, v in enumerate(value)]

    def increasing_times(self, times: Sequence[float], path: str) -> None:
        for i, t in enumerate(times):
            if t < 0.0:
                raise self.fail(f"{path}[{i}][0]", f"time must be >= 0, got {t:g}")
            if i and t <= times[i - 1]:
                raise self.fail(
                    f"{path}[{i}][0]",
                    f"keyframe times must strictly increase, got {t:g} after {times[i - 1]:g}",
                )

    # -- sections

    def road(self, value: Any, path: str) -> Road:
        m = self.mapping(value, path, ("num_lanes", "lane_width_m", "length_m", "speed_limit_mps"),
                         ("oncoming_lanes", "sidewalk_width_m"))
        num_lanes = self.integer(m["num_lanes"], _join(path, "num_lanes"), min_value=1,
                                 max_value=8)
        return Road(
            num_lanes=num_lanes,
            lane_width_m=self.number(m["lane_width_m"], _join(path, "lane_width_m"),
                                     positive=True),
            length_m=self.number(m["length_m"], _join(path, "length_m"), positive=True),
            speed_limit_mps=self.number(m["speed_limit_mps"], _join(path, "speed_limit_mps"),
                                        positive=True),
            oncoming_lanes=self.integer(m.get("oncoming_lanes", 0), _join(path, "oncoming_lanes"),
                                        min_value=0, max_value=num_lanes - 1),
            sidewalk_width_m=self.number(m.get("sidewalk_width_m", 2.5),
                                         _join(path, "sidewalk_width_m"), min_value=0.0),
        )

    def speed_profile(self, value: Any, path: str) -> SpeedProfile:
        rows = self.sequence(value, path, min_len=1)
        keyframes = [self.row(r, f"{path}[{i}]", ("t_s", "speed_mps")) for i, r in enumerate(rows)]
        self.increasing_times([k[0] for k in keyframes], path)
        for i, (_, v) in enumerate(keyframes):
            if v < 0.0:
                raise self.fail(f"{path}[{i}][1]", f"speed must be >= 0, got {v:g}")
        return SpeedProfile(tuple((t, v) for t, v in keyframes))

    def lane_index(self, value: Any, path: str, road: Road) -> int:
        return self.integer(value, path, min_value=0, max_value=road.num_lanes - 1)

    def lane_changes(self, value: Any, path: str, road: Road, lane: int) -> tuple[LaneChange, ...]:
        changes = []
        last_end = -math.inf
        for i, item in enumerate(self.sequence(value, path)):
            p = f"{path}[{i}]"
            m = self.mapping(item, p, ("start_s", "duration_s", "to_lane"))
            change = LaneChange(
                start_s=self.number(m["start_s"], _join(p, "start_s"), min_value=0.0),
                duration_s=self.number(m["duration_s"], _join(p, "duration_s"), positive=True),
                to_lane=self.lane_index(m["to_lane"], _join(p, "to_lane"), road),
            )
            if change.start_s < last_end:
                raise self.fail(_join(p, "start_s"), "lane changes must not overlap")
            if road.is_oncoming(change.to_lane) != road.is_oncoming(lane):
                raise self.fail(_join(p, "to_lane"),
                                f"lane {change.to_lane} carries traffic the other way")
            last_end = change.start_s + change.duration_s
            changes.append(change)
        return tuple(changes)

    def lane_path(self, m: Mapping[str, Any], path: str, road: Road) -> LanePath:
        lane = self.lane_index(m["lane"], _join(path, "lane"), road)
        return LanePath(
            lane=lane,
            start_x_m=self.number(m["start_x_m"], _join(path, "start_x_m")),
            speed=self.speed_profile(m["speed_profile"], _join(path, "speed_profile")),
            lane_changes=self.lane_changes(m.get("lane_changes", []),
                                           _join(path, "lane_changes"), road, lane),
        )

    def ego(self, value: Any, path: str, road: Road) -> EgoSpec:
        m = self.mapping(value, path, ("lane", "start_x_m", "speed_profile"), ("lane_changes",))
        p = self.lane_path(m, path, road)
        if road.is_oncoming(p.lane):
            raise self.fail(_join(path, "lane"), f"lane {p.lane} is an oncoming lane")
        if not 0.0 <= p.start_x_m <= road.length_m:
            raise self.fail(_join(path, "start_x_m"),
                            f"must lie on the road [0, {road.length_m:g}], got {p.start_x_m:g}")
        return EgoSpec(p.lane, p.start_x_m, p.speed, p.lane_changes)

    def actor_path(self, value: Any, path: str, road: Road) -> Path_:
        if isinstance(value, Mapping) and "keyframes" in value:
            m = self.mapping(value, path, ("keyframes",), ("yaw_deg",))
            kp = _join(path, "keyframes")
            rows = self.sequence(m["keyframes"], kp, min_len=1)
            keyframes = [self.row(r, f"{kp}[{i}]", ("t_s", "x_m", "y_m"))
                         for i, r in enumerate(rows)]
            self.increasing_times([k[0] for k in keyframes], kp)
            yaw = m.get("yaw_deg")
            return KeyframePath(
                keyframes=tuple((t, x, y) for t, x, y in keyframes),
                yaw_deg=None if yaw is None else self.number(yaw, _join(path, "yaw_deg")),
            )
        if isinstance(value, Mapping) and "lane" in value:
            m = self.mapping(value, path, ("lane", "start_x_m", "speed_profile"),
                             ("lane_changes",))
            return self.lane_path(m, path, road)
        raise self.fail(path, "expected either {keyframes: [[t_s, x_m, y_m], ...]} or "
                              f"{{lane, start_x_m, speed_profile}}, got {_show(value)}")

    def actor(self, value: Any, path: str, road: Road) -> ActorSpec:
        m = self.mapping(value, path, ("id", "class", "path"), ("size_m", "color"))
        class_name = self.string(m["class"], _join(path, "class"))
        if class_name not in ACTOR_CLASSES:
            raise self.fail(_join(path, "class"),
                            f"unknown class '{class_name}' (known: {', '.join(ACTOR_CLASSES)})")
        size = DEFAULT_SIZES_M[class_name]
        if "size_m" in m:
            size = tuple(self.row(m["size_m"], _join(path, "size_m"),
                                  ("length_m", "width_m", "height_m")))  # type: ignore[assignment]
            for i, s in enumerate(size):
                if s <= 0.0:
                    raise self.fail(f"{_join(path, 'size_m')}[{i}]", f"must be > 0, got {s:g}")
        color = None
        if "color" in m:
            color = tuple(self.row(m["color"], _join(path, "color"), ("r", "g", "b")))
            if not all(0.0 <= c <= 1.0 for c in color):
                raise self.fail(_join(path, "color"), f"components must be in [0, 1], got {color}")
        return ActorSpec(
            id=self.integer(m["id"], _join(path, "id"), min_value=0),
            class_name=class_name,
            size_m=size,  # type: ignore[arg-type]
            path=self.actor_path(m["path"], _join(path, "path"), road),
            color_rgb=color,  # type: ignore[arg-type]
        )

    def scenario(self, value: Any, default_name: str) -> Scenario:
        m = self.mapping(value, "", ("description", "duration_s", "road", "ego", "actors"),
                         ("name", "jitter", "instruction"))
        road = self.road(m["road"], "road")
        jitter = Jitter()
        if "jitter" in m:
            j = self.mapping(m["jitter"], "jitter", (), ("position_m", "speed_fraction"))
            jitter = Jitter(
                position_m=self.number(j.get("position_m", 0.0), "jitter.position_m",
                                       min_value=0.0),
                speed_fraction=self.number(j.get("speed_fraction", 0.0), "jitter.speed_fraction",
                                           min_value=0.0),
            )
            if jitter.speed_fraction >= 1.0:
                raise self.fail("jitter.speed_fraction", "must be < 1")
        actors = tuple(self.actor(a, f"actors[{i}]", road)
                       for i, a in enumerate(self.sequence(m["actors"] or [], "actors")))
        seen: dict[int, int] = {}
        for i, a in enumerate(actors):
            if a.id in seen:
                raise self.fail(f"actors[{i}].id",
                                f"duplicate id {a.id} (also actors[{seen[a.id]}])")
            seen[a.id] = i
        scenario = Scenario(
            name=self.string(m.get("name", default_name), "name"),
            description=" ".join(self.string(m["description"], "description").split()),
            duration_s=self.number(m["duration_s"], "duration_s", positive=True),
            road=road,
            ego=self.ego(m["ego"], "ego", road),
            actors=actors,
            jitter=jitter,
            source=self.source,
            instruction=" ".join(self.string(m["instruction"], "instruction").split())
            if "instruction" in m else "",
        )
        end_x = scenario.ego_state(scenario.duration_s).x_m
        if end_x > road.length_m:
            raise self.fail("road.length_m",
                            f"the ego reaches x={end_x:.0f} m by t={scenario.duration_s:g} s, "
                            f"past the road's end ({road.length_m:g} m)")
        return scenario


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------ loading


def road_context(scenario: Scenario) -> tuple[float, int]:
    """(speed limit m/s, lanes left of the ego lane that go our way): what a map would tell
    scene_fusion on this road. -1 lanes (unknown) when the ego's script changes lanes, since
    fusion takes the count as a fixed parameter."""
    if scenario.ego.lane_changes:
        return scenario.road.speed_limit_mps, -1
    our_way = scenario.road.num_lanes - scenario.road.oncoming_lanes
    return scenario.road.speed_limit_mps, max(our_way - 1 - scenario.ego.lane, 0)


def list_scenarios() -> list[str]:
    """Names of the scenarios packaged with edge_llm_ros."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_from_dict(data: Any, source: str = "<memory>", default_name: str = "unnamed"
                       ) -> Scenario:
    """Validate an already-parsed YAML mapping (used by tests and tools)."""
    return _Checker(source).scenario(data, default_name)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a packaged scenario by bare name, or any scenario YAML by path."""
    text = str(name_or_path)
    path = Path(text)
    looks_like_path = (path.suffix in (".yaml", ".yml") or "/" in text or "\\" in text
                       or path.is_file())
    if not looks_like_path:
        path = SCENARIO_DIR / f"{text}.yaml"
        if not path.is_file():
            raise ScenarioError(f"scenario '{text}': no such packaged scenario "
                                f"(known: {', '.join(list_scenarios())})")
    source = path.name if path.parent == SCENARIO_DIR else str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"scenario '{source}': cannot read: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"scenario '{source}': invalid YAML{where}: {problem}") from exc
    if data is None:
        raise ScenarioError(f"scenario '{source}': file is empty")
    return scenario_from_dict(data, source, default_name=path.stem)
