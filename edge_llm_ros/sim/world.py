"""Build the MuJoCo world of a scenario: road, sidewalks, the ego vehicle and actors.

Everything is generated as an MJCF string in code, so a scenario file is all
that is needed to make a world. Every road user is a mocap body: the
simulator places it on its scripted path each tick, and MuJoCo is used for
what it is good at here: rendering (camera) and ray casting (lidar).

The scene is compiled twice (see `World`): once with what the camera draws,
once with what the lidar's rays can hit. Each geom carries two user values:
the id of the actor it belongs to (`STATIC_ID` for the road, `EGO_ID` for the
ego) and a lidar reflectivity. The ego's geoms exist only in the camera's
model, in geom group `EGO_GEOM_GROUP`, which the camera does not draw: the
vehicle never sees itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from edge_llm_ros.sim import rig
from edge_llm_ros.sim.scenario import (
    DEFAULT_SIZES_M,
    SIDEWALK_HEIGHT_M,
    ActorSpec,
    Road,
    Scenario,
)
from edge_llm_ros.sim.sensors import CAMERA_NEAR_M, CameraModel, LidarConfig

STATIC_ID = -1
EGO_ID = -2
# Geom groups: what the camera draws and what the lidar's rays can hit.
# mj_multiRay's cost grows with every geom it may hit (per 32x1024 sweep here
# about 0.2 ms for a small geom, 0.5 ms for one as long as the road) and, less,
# with every other geom in the model; so the lidar sees one ground plane
# (markings looked up by position) and a few simple proxies per road user
# inside its box, while the camera sees the detail.
WORLD_GEOM_GROUP = 0  # sidewalks: camera and lidar
VISUAL_GEOM_GROUP = 1  # road surface, markings, grass, detailed road users: camera only
LIDAR_GEOM_GROUP = 2  # ground plane and road-user proxies: lidar only
EGO_GEOM_GROUP = 3  # the ego vehicle: neither
CAMERA_GEOM_GROUPS = (WORLD_GEOM_GROUP, VISUAL_GEOM_GROUP)
LIDAR_GEOM_GROUPS = (WORLD_GEOM_GROUP, LIDAR_GEOM_GROUP)
CAMERA_NAME = "front_camera"
LIDAR_SITE = "lidar"
EGO_BODY = "ego"
LIDAR_GROUND = "lidar_ground"
# Rear axle (base_link origin) to the centre of the ego's 4.5 m body.
EGO_BODY_CENTER_X_M = 1.25
_FAR_M = 1000.0
_EXTENT_M = 100.0

RGBA = tuple[float, float, float, float]
_FIXED_COLORS: dict[str, tuple[RGBA, float]] = {  # role: (rgba, lidar reflectivity)
    "glass": ((0.12, 0.16, 0.2, 1.0), 0.1),
    "tyre": ((0.05, 0.05, 0.05, 1.0), 0.05),
    "dark": ((0.15, 0.15, 0.22, 1.0), 0.25),
    "skin": ((0.85, 0.65, 0.5, 1.0), 0.35),
    "tail": ((0.85, 0.05, 0.05, 1.0), 0.9),
    "head": ((0.95, 0.95, 0.85, 1.0), 0.9),
    "cargo": ((0.88, 0.88, 0.85, 1.0), 0.6),
    "metal": ((0.55, 0.55, 0.6, 1.0), 0.5),
}
_PAINT_REFLECTIVITY = 0.5
_CAR_PAINTS: tuple[tuple[float, float, float], ...] = (
    (0.75, 0.1, 0.1), (0.1, 0.25, 0.7), (0.9, 0.9, 0.9), (0.6, 0.62, 0.65),
    (0.08, 0.08, 0.1), (0.9, 0.75, 0.1), (0.1, 0.45, 0.2), (0.9, 0.45, 0.1),
)
_CLOTH_PAINTS: tuple[tuple[float, float, float], ...] = (
    (0.9, 0.2, 0.2), (0.2, 0.6, 0.9), (0.95, 0.8, 0.1), (0.3, 0.75, 0.3),
    (0.7, 0.3, 0.8), (1.0, 0.5, 0.0),
)

# Shape templates at each class's default size, origin on the ground at the
# box centre, x forward. (type, pos, size, colour role[, zaxis]); every part
# stays inside the class box, so ground-truth boxes bound what sensors see.
# Sizes follow MJCF: box half-extents, cylinder/capsule (radius, half-length).
_Part = tuple
_Y = (0.0, 1.0, 0.0)
_TEMPLATES: dict[str, list[_Part]] = {
    "car": [
        ("box", (0.0, 0.0, 0.6), (2.25, 0.9, 0.35), "paint"),
        ("box", (-0.25, 0.0, 1.15), (1.15, 0.8, 0.2), "glass"),
        ("box", (-0.3, 0.0, 1.42), (1.0, 0.78, 0.08), "paint"),
        ("box", (-2.23, 0.6, 0.8), (0.02, 0.18, 0.06), "tail"),
        ("box", (-2.23, -0.6, 0.8), (0.02, 0.18, 0.06), "tail"),
        ("box", (2.23, 0.6, 0.75), (0.02, 0.16, 0.06), "head"),
        ("box", (2.23, -0.6, 0.75), (0.02, 0.16, 0.06), "head"),
        ("cylinder", (1.4, 0.77, 0.33), (0.33, 0.12), "tyre", _Y),
        ("cylinder", (1.4, -0.77, 0.33), (0.33, 0.12), "tyre", _Y),
        ("cylinder", (-1.4, 0.77, 0.33), (0.33, 0.12), "tyre", _Y),
        ("cylinder", (-1.4, -0.77, 0.33), (0.33, 0.12), "tyre", _Y),
    ],
    "pedestrian": [
        ("capsule", (0.0, 0.1, 0.45), (0.075, 0.37), "dark"),
        ("capsule", (0.0, -0.1, 0.45), (0.075, 0.37), "dark"),
        ("box", (0.0, 0.0, 0.85), (0.11, 0.17, 0.08), "dark"),
        ("box", (0.0, 0.0, 1.16), (0.13, 0.21, 0.31), "paint"),
        ("capsule", (0.0, 0.245, 1.12), (0.05, 0.25), "paint"),
        ("capsule", (0.0, -0.245, 1.12), (0.05, 0.25), "paint"),
        ("sphere", (0.0, 0.0, 1.62), (0.12,), "skin"),
    ],
    "cyclist": [
        ("cylinder", (0.55, 0.0, 0.34), (0.34, 0.03), "tyre", _Y),
        ("cylinder", (-0.55, 0.0, 0.34), (0.34, 0.03), "tyre", _Y),
        ("box", (0.0, 0.0, 0.55), (0.5, 0.03, 0.04), "metal"),
        ("box", (0.5, 0.0, 0.7), (0.03, 0.03, 0.3), "metal"),
        ("box", (0.47, 0.0, 1.0), (0.03, 0.28, 0.02), "metal"),
        ("capsule", (-0.05, 0.12, 0.68), (0.07, 0.22), "dark"),
        ("capsule", (-0.05, -0.12, 0.68), (0.07, 0.22), "dark"),
        ("box", (-0.05, 0.0, 0.88), (0.13, 0.13, 0.08), "dark"),
        ("box", (0.0, 0.0, 1.2), (0.15, 0.2, 0.28), "paint"),
        ("capsule", (0.22, 0.2, 1.15), (0.045, 0.2), "paint"),
        ("capsule", (0.22, -0.2, 1.15), (0.045, 0.2), "paint"),
        ("sphere", (0.05, 0.0, 1.58), (0.11,), "skin"),
    ],
    "truck": [
        ("box", (0.0, 0.0, 0.75), (3.95, 1.1, 0.25), "dark"),
        ("box", (2.9, 0.0, 1.85), (1.05, 1.25, 1.05), "paint"),
        ("box", (3.97, 0.0, 2.25), (0.03, 1.1, 0.45), "glass"),
        ("box", (-1.05, 0.0, 2.1), (2.9, 1.25, 1.1), "cargo"),
        ("box", (-3.98, 0.7, 1.2), (0.02, 0.2, 0.08), "tail"),
        ("box", (-3.98, -0.7, 1.2), (0.02, 0.2, 0.08), "tail"),
        ("cylinder", (2.9, 1.07, 0.5), (0.5, 0.18), "tyre", _Y),
        ("cylinder", (2.9, -1.07, 0.5), (0.5, 0.18), "tyre", _Y),
        ("cylinder", (-1.6, 1.07, 0.5), (0.5, 0.18), "tyre", _Y),
        ("cylinder", (-1.6, -1.07, 0.5), (0.5, 0.18), "tyre", _Y),
        ("cylinder", (-2.8, 1.07, 0.5), (0.5, 0.18), "tyre", _Y),
        ("cylinder", (-2.8, -1.07, 0.5), (0.5, 0.18), "tyre", _Y),
    ],
}


# Lidar proxies per class: (type, pos, size, reflectivity), same conventions.
_PROXIES: dict[str, list[tuple]] = {
    "car": [
        ("box", (0.0, 0.0, 0.55), (2.25, 0.9, 0.4), _PAINT_REFLECTIVITY),
        ("box", (-0.28, 0.0, 1.22), (1.15, 0.8, 0.28), 0.2),
        # Rear window and windscreen as steps: a real car's surface runs on from
        # the boot to the roof, so a sweep from behind sees one object, not a
        # bumper face and a cabin face 0.8 m apart.
        *[("box", (x_mid, 0.0, 0.95 + 0.045 * (k + 1)), (half, 0.8, 0.045 * (k + 1)), 0.2)
          for k, (x_mid, half) in enumerate(((-1.8, 0.37), (-1.7, 0.27), (-1.6, 0.17)))],
        *[("box", (x_mid, 0.0, 0.95 + 0.045 * (k + 1)), (half, 0.8, 0.045 * (k + 1)), 0.2)
          for k, (x_mid, half) in enumerate(((1.27, 0.4), (1.17, 0.3), (1.07, 0.2)))],
    ],
    "pedestrian": [
        ("box", (0.0, 0.0, 0.72), (0.12, 0.26, 0.72), 0.3),
        ("sphere", (0.0, 0.0, 1.62), (0.12,), 0.35),
    ],
    "cyclist": [
        ("box", (0.0, 0.0, 0.45), (0.88, 0.05, 0.43), 0.3),
        ("box", (0.0, 0.0, 1.15), (0.2, 0.22, 0.33), 0.35),
        ("sphere", (0.05, 0.0, 1.58), (0.11,), 0.35),
    ],
    "truck": [
        ("box", (0.0, 0.0, 0.45), (3.9, 1.1, 0.4), 0.25),
        ("box", (2.9, 0.0, 1.7), (1.05, 1.25, 1.2), _PAINT_REFLECTIVITY),
        ("box", (-1.05, 0.0, 1.95), (2.9, 1.25, 1.25), 0.6),
    ],
}


@dataclass
class MjView:
    """One compiled model of the world, with per-geom lookups from the geoms' user values."""

    model: mujoco.MjModel
    data: mujoco.MjData
    ego_body_id: int
    geom_actor_ids: np.ndarray  # (ngeom,) actor id per geom; STATIC_ID / EGO_ID otherwise
    geom_reflectivity: np.ndarray  # (ngeom,)
    mjcf: str

    @classmethod
    def compile(cls, mjcf: str) -> MjView:
        model = mujoco.MjModel.from_xml_string(mjcf)
        return cls(
            model=model,
            data=mujoco.MjData(model),
            ego_body_id=mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, EGO_BODY),
            geom_actor_ids=model.geom_user[:, 0].round().astype(np.int64),
            geom_reflectivity=model.geom_user[:, 1].astype(np.float64).copy(),
            mjcf=mjcf,
        )


@dataclass
class World:
    """The scene twice: what the camera draws and what the lidar's rays can hit.

    Two models rather than geom groups in one because mj_multiRay's cost grows
    with every geom in the model, hit-able or not: the lidar's model holds
    only the ground plane, sidewalks and the road users' proxies, which
    halves the sweep time in busy scenes. Both have the same bodies, so the
    mocap indices agree.
    """

    camera: MjView
    lidar: MjView
    ego_mocap_id: int
    actor_mocap_ids: dict[int, int]  # actor id -> mocap index (both models)
    ground_geom_id: int  # the lidar model's ground plane
    road: Road

    @property
    def lidar_geomgroup(self) -> np.ndarray:
        return _group_mask(LIDAR_GEOM_GROUPS)

    @property
    def camera_geomgroup(self) -> np.ndarray:
        return _group_mask(CAMERA_GEOM_GROUPS)

    def set_poses(self, ego_xy_yaw: tuple[float, float, float],
                  actor_poses: dict[int, tuple[float, float, float, float]]) -> None:
        """Place the ego (x, y, yaw) and actors (x, y, z, yaw) and update both models."""
        for view in (self.camera, self.lidar):
            d = view.data
            x, y, yaw = ego_xy_yaw
            d.mocap_pos[self.ego_mocap_id] = (x, y, 0.0)
            d.mocap_quat[self.ego_mocap_id] = _yaw_quat(yaw)
            for actor_id, (ax, ay, az, ayaw) in actor_poses.items():
                i = self.actor_mocap_ids[actor_id]
                d.mocap_pos[i] = (ax, ay, az)
                d.mocap_quat[i] = _yaw_quat(ayaw)
            mujoco.mj_kinematics(view.model, d)
            mujoco.mj_camlight(view.model, d)

    def reflectivity(self, geom_ids: np.ndarray, points_world: np.ndarray) -> np.ndarray:
        """Lidar reflectivity of the surface each ray hit (per geom; the ground by position)."""
        refl = self.lidar.geom_reflectivity[geom_ids]
        ground = geom_ids == self.ground_geom_id
        if ground.any():
            refl[ground] = ground_reflectivity(self.road, points_world[ground, 0],
                                               points_world[ground, 1])
        return refl


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2.0), 0.0, 0.0, math.sin(yaw / 2.0)])


def _group_mask(groups: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(6, dtype=np.uint8)
    mask[list(groups)] = 1
    return mask


def _f(values: tuple[float, ...] | list[float] | np.ndarray) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


Geom = tuple[int, str]  # (geom group, MJCF element)


def _geom(kind: str, pos: tuple[float, ...], size: tuple[float, ...], rgba: RGBA,
          user: tuple[float, float], group: int = 0, extra: str = "") -> Geom:
    return group, (f'<geom type="{kind}" pos="{_f(pos)}" size="{_f(size)}" rgba="{_f(rgba)}" '
                   f'user="{_f(user)}" group="{group}"{extra}/>')


def actor_color(actor: ActorSpec) -> tuple[float, float, float]:
    if actor.color_rgb is not None:
        return actor.color_rgb
    palette = _CAR_PAINTS if actor.class_name in ("car", "truck") else _CLOTH_PAINTS
    return palette[actor.id % len(palette)]


def _scaled(kind: str, pos: tuple[float, ...], size: tuple[float, ...],
            scale: tuple[float, float, float], offset_x: float) -> tuple[tuple, tuple]:
    """A template part moved and resized for a box of another size (stays inside it)."""
    sx, sy, sz = scale
    p = (pos[0] * sx + offset_x, pos[1] * sy, pos[2] * sz)
    if kind == "box":
        s: tuple = (size[0] * sx, size[1] * sy, size[2] * sz)
    elif kind == "sphere":
        s = (size[0] * min(sx, sy, sz),)
    elif kind == "capsule":  # vertical
        s = (size[0] * min(sx, sy), size[1] * sz)
    else:  # cylinder along y (wheels)
        s = (size[0] * min(sx, sz), size[1] * sy)
    return p, s


def _shape(class_name: str, size_m: tuple[float, float, float], paint: tuple[float, float, float],
           actor_id: int, visual_group: int = VISUAL_GEOM_GROUP,
           lidar_group: int | None = LIDAR_GEOM_GROUP, offset_x: float = 0.0) -> list[Geom]:
    """Geoms of one road user (visual parts, then lidar proxies), scaled to its size."""
    scale = tuple(s / d for s, d in zip(size_m, DEFAULT_SIZES_M[class_name], strict=True))
    out = []
    for part in _TEMPLATES[class_name]:
        kind, pos, size, role = part[:4]
        if role == "paint":
            rgba, refl = (*paint, 1.0), _PAINT_REFLECTIVITY
        else:
            rgba, refl = _FIXED_COLORS[role]
        p, s = _scaled(kind, pos, size, scale, offset_x)  # type: ignore[arg-type]
        extra = f' zaxis="{_f(part[4])}"' if len(part) > 4 else ""
        out.append(_geom(kind, p, s, rgba, (actor_id, refl), visual_group, extra))
    if lidar_group is not None:
        for kind, pos, size, refl in _PROXIES[class_name]:
            p, s = _scaled(kind, pos, size, scale, offset_x)  # type: ignore[arg-type]
            out.append(_geom(kind, p, s, (*paint, 1.0), (actor_id, refl), lidar_group))
    return out


@dataclass(frozen=True)
class LaneLine:
    """One painted line along the road; drawn for the camera, mapped for the lidar."""

    y_m: float
    half_width_m: float
    rgba: RGBA
    reflectivity: float
    dashed: bool


DASH_LENGTH_M = 3.0
DASH_PERIOD_M = 12.0
ASPHALT_REFLECTIVITY = 0.15
GRASS_REFLECTIVITY = 0.2
_WHITE: RGBA = (0.95, 0.95, 0.95, 1.0)
_YELLOW: RGBA = (0.95, 0.75, 0.1, 1.0)


def lane_lines(road: Road) -> list[LaneLine]:
    """Solid edge lines, dashed lane lines, a double yellow line between directions."""
    half = road.half_width_m
    lines = [LaneLine(side * (half - 0.25), 0.075, _WHITE, 0.8, False) for side in (-1.0, 1.0)]
    for boundary in range(1, road.num_lanes):
        y = boundary * road.lane_width_m - half
        if road.oncoming_lanes and boundary == road.num_lanes - road.oncoming_lanes:
            lines += [LaneLine(y + dy, 0.06, _YELLOW, 0.7, False) for dy in (-0.12, 0.12)]
        else:
            lines.append(LaneLine(y, 0.075, _WHITE, 0.8, True))
    return lines


def _dash_starts(road: Road) -> np.ndarray:
    return np.arange(DASH_PERIOD_M / 2.0, road.length_m - DASH_LENGTH_M, DASH_PERIOD_M)


def ground_reflectivity(road: Road, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
    """Lidar reflectivity of the ground at world (x, y): asphalt, paint or grass.

    The lidar sees the ground as one plane (a long geom costs every ray of
    the sweep), so the markings are looked up here from the same `lane_lines`
    the camera's geoms are built from.
    """
    on_road = (np.abs(y_m) <= road.half_width_m) & (x_m >= 0.0) & (x_m <= road.length_m)
    refl = np.where(on_road, ASPHALT_REFLECTIVITY, GRASS_REFLECTIVITY)
    phase = np.mod(x_m - DASH_PERIOD_M / 2.0, DASH_PERIOD_M)
    last_dash_end = _dash_starts(road)[-1] + DASH_LENGTH_M if len(_dash_starts(road)) else 0.0
    in_dash = (x_m >= DASH_PERIOD_M / 2.0) & (phase < DASH_LENGTH_M) & (x_m <= last_dash_end)
    for line in lane_lines(road):
        on = on_road & (np.abs(y_m - line.y_m) <= line.half_width_m)
        if line.dashed:
            on &= in_dash
        refl = np.where(on, line.reflectivity, refl)
    return refl


def _road_geoms(road: Road) -> list[Geom]:
    """Asphalt, lane markings and raised sidewalks for x in [0, length]."""
    length, half = road.length_m, road.half_width_m
    cx = length / 2.0
    static = float(STATIC_ID)
    cam = VISUAL_GEOM_GROUP
    g = [
        _geom("box", (cx, 0.0, -0.01), (cx, half, 0.01), (0.27, 0.27, 0.29, 1.0),
              (static, ASPHALT_REFLECTIVITY), group=cam),
    ]
    mark_h = 0.005  # markings stand 1 cm proud of the asphalt (no depth fighting)
    for line in lane_lines(road):
        if not line.dashed:
            g.append(_geom("box", (cx, line.y_m, mark_h), (cx, line.half_width_m, mark_h),
                           line.rgba, (static, line.reflectivity), group=cam))
            continue
        for x0 in _dash_starts(road):
            g.append(_geom("box", (x0 + DASH_LENGTH_M / 2.0, line.y_m, mark_h),
                           (DASH_LENGTH_M / 2.0, line.half_width_m, mark_h), line.rgba,
                           (static, line.reflectivity), group=cam))
    if road.sidewalk_width_m > 0.0:
        w = road.sidewalk_width_m
        h = SIDEWALK_HEIGHT_M / 2.0
        for side in (-1.0, 1.0):
            y = side * (half + w / 2.0)
            g.append(_geom("box", (cx, y, h), (cx, w / 2.0, h), (0.68, 0.66, 0.62, 1.0),
                           (static, 0.3), group=WORLD_GEOM_GROUP))
            # Kerb stones along the road edge, 1 cm proud of the sidewalk.
            g.append(_geom("box", (cx, side * (half + 0.1), h + 0.005), (cx, 0.1, h + 0.005),
                           (0.82, 0.82, 0.8, 1.0), (static, 0.35), group=cam))
    return g


def build_mjcf(scenario: Scenario, camera: CameraModel | None, lidar: LidarConfig | None,
               groups: tuple[int, ...]) -> str:
    """The world's MJCF with only the geoms of `groups` (bodies, camera and site always)."""
    road = scenario.road
    width = camera.width_px if camera else 64
    height = camera.height_px if camera else 48
    fovy = camera.fovy_deg if camera else 45.0
    cam_mount = camera.config.mount_xyz_m if camera else rig.CAMERA_MOUNT_XYZ_M
    lidar_mount = lidar.mount_xyz_m if lidar else LidarConfig().mount_xyz_m
    ground_half = (road.length_m / 2.0 + 500.0, 500.0, 1.0)

    def keep(geoms: list[Geom], indent: str) -> str:
        return indent.join(xml for group, xml in geoms if group in groups)

    actors = []
    for a in scenario.actors:
        geoms = keep(_shape(a.class_name, a.size_m, actor_color(a), a.id), "\n      ")
        actors.append(f'<body name="actor_{a.id}" mocap="true">\n      {geoms}\n    </body>')
    ego_geoms = keep(_shape("car", DEFAULT_SIZES_M["car"], (0.15, 0.2, 0.45), EGO_ID,
                            visual_group=EGO_GEOM_GROUP, lidar_group=None,
                            offset_x=EGO_BODY_CENTER_X_M), "\n      ")
    center = f"{road.length_m / 2.0:.6g} 0"
    ground: list[Geom] = [
        (VISUAL_GEOM_GROUP,
         f'<geom type="plane" pos="{center} -0.02" size="{_f(ground_half)}" material="grass" '
         f'user="{STATIC_ID} {GRASS_REFLECTIVITY}" group="{VISUAL_GEOM_GROUP}"/>'),
        (LIDAR_GEOM_GROUP,
         f'<geom name="{LIDAR_GROUND}" type="plane" pos="{center} 0" size="{_f(ground_half)}" '
         f'rgba="0 0 0 1" user="{STATIC_ID} {ASPHALT_REFLECTIVITY}" group="{LIDAR_GEOM_GROUP}"/>'),
    ]
    road_geoms = keep(ground + _road_geoms(road), "\n    ")
    nl = "\n    "
    return f"""<mujoco model="edge_llm_ros_{scenario.name}">
  <compiler angle="radian"/>
  <option timestep="0.01" gravity="0 0 0"/>
  <size nuser_geom="2"/>
  <statistic extent="{_EXTENT_M}" center="{road.length_m / 2.0:.6g} 0 0"/>
  <visual>
    <global offwidth="{width}" offheight="{height}"/>
    <map znear="{CAMERA_NEAR_M / _EXTENT_M:.6g}" zfar="{_FAR_M / _EXTENT_M:.6g}"/>
    <quality shadowsize="0"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>
  <default>
    <geom contype="0" conaffinity="0"/>
  </default>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.55 0.7 0.92" rgb2="0.92 0.95 1"
             width="256" height="256"/>
    <texture name="grass" type="2d" builtin="checker" rgb1="0.3 0.5 0.22" rgb2="0.27 0.46 0.2"
             width="64" height="64"/>
    <material name="grass" texture="grass" texrepeat="200 100"/>
  </asset>
  <worldbody>
    <light directional="true" pos="0 0 50" dir="0.3 0.2 -1" diffuse="0.6 0.6 0.58"
           specular="0.1 0.1 0.1" castshadow="false"/>
    {road_geoms}
    <body name="{EGO_BODY}" mocap="true">
      <camera name="{CAMERA_NAME}" pos="{_f(cam_mount)}" xyaxes="0 -1 0 0 0 1" fovy="{fovy:.9g}"/>
      <site name="{LIDAR_SITE}" pos="{_f(lidar_mount)}" size="0.05" group="5"/>
      {ego_geoms}
    </body>
    {nl.join(actors)}
  </worldbody>
</mujoco>
"""


def build_world(scenario: Scenario, camera: CameraModel | None, lidar: LidarConfig | None
                ) -> World:
    cam_view = MjView.compile(build_mjcf(scenario, camera, lidar,
                                         CAMERA_GEOM_GROUPS + (EGO_GEOM_GROUP,)))
    lidar_view = MjView.compile(build_mjcf(scenario, camera, lidar, LIDAR_GEOM_GROUPS))
    actor_mocap = {}
    for view in (cam_view, lidar_view):
        for a in scenario.actors:
            body = mujoco.mj_name2id(view.model, mujoco.mjtObj.mjOBJ_BODY, f"actor_{a.id}")
            index = int(view.model.body_mocapid[body])
            assert actor_mocap.setdefault(a.id, index) == index
    assert (cam_view.model.body_mocapid[cam_view.ego_body_id]
            == lidar_view.model.body_mocapid[lidar_view.ego_body_id])
    return World(
        camera=cam_view,
        lidar=lidar_view,
        ego_mocap_id=int(cam_view.model.body_mocapid[cam_view.ego_body_id]),
        actor_mocap_ids=actor_mocap,
        ground_geom_id=mujoco.mj_name2id(lidar_view.model, mujoco.mjtObj.mjOBJ_GEOM, LIDAR_GROUND),
        road=scenario.road,
    )
