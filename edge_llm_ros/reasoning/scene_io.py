"""The scene file codec: SceneSummary as JSON or YAML with the message's field names.

One format for every tool: `perceive -o` and the training sets write it
(`scene_to_dict`), `decide` reads it (`scene_from_dict`). A time-to-collision of
"never" (inf) is written as null; non-finite numbers written as the strings
"inf", "-inf" or "nan" (older files) are read too."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import yaml

from edge_llm_ros.types import (
    LANE_EGO,
    LANE_LEFT,
    LANE_OFF_ROAD,
    LANE_RIGHT,
    LANE_UNKNOWN,
    MODE_FUSED,
    EgoState,
    SceneSummary,
    TrackedObject,
)

SCENE_SUFFIXES = (".json", ".yaml", ".yml")
LANE_NAMES = {"ego": LANE_EGO, "left": LANE_LEFT, "right": LANE_RIGHT, "off_road": LANE_OFF_ROAD,
              "unknown": LANE_UNKNOWN}


class SceneFileError(ValueError):
    """A scene file that cannot be read; the message names the file and field."""


def scene_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SCENE_SUFFIXES)
        if not files:
            raise SceneFileError(f"{path}: no *.json, *.yaml or *.yml scene files")
        return files
    if not path.is_file():
        raise SceneFileError(f"{path}: no such file or folder")
    return [path]


_NON_FINITE = {"inf": math.inf, "+inf": math.inf, "infinity": math.inf, "-inf": -math.inf,
               "-infinity": -math.inf, "nan": math.nan}


def scene_to_dict(scene: SceneSummary, instruction: str = "") -> dict[str, Any]:
    """A JSON/YAML-ready scene in the format `scene_from_dict` reads back."""
    d = dataclasses.asdict(scene)
    for o in d["objects"]:
        if not math.isfinite(o["time_to_collision_s"]):
            o["time_to_collision_s"] = None  # never: read back as inf
    if instruction:
        d["instruction"] = instruction
    return d


def _number(value: Any, where: str, default: float | None = None) -> float:
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.strip().lower() in _NON_FINITE:
        return _NON_FINITE[value.strip().lower()]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SceneFileError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _vec(value: Any, where: str, keys: tuple[str, str, str] = ("x", "y", "z")
         ) -> tuple[float, float, float]:
    if value is None:
        return (0.0, 0.0, 0.0)
    if isinstance(value, dict):
        return tuple(_number(value.get(k, 0.0), f"{where}.{k}") for k in keys)  # type: ignore
    if isinstance(value, (list, tuple)) and len(value) == 3:
        return tuple(_number(v, f"{where}[{i}]") for i, v in enumerate(value))  # type: ignore
    raise SceneFileError(f"{where}: expected {{x, y, z}} or a list of 3 numbers")


def scene_from_dict(data: Any, where: str = "scene") -> tuple[SceneSummary, str]:
    """(scene, instruction); NaN/inf values pass through (the reasoner reports them).
    A `perceive` result is taken for the scene it fused."""
    if isinstance(data, dict) and "ego" not in data and "inputs" in data:  # perceive's output
        if not isinstance(data.get("scene"), dict):
            raise SceneFileError(f"{where}: a perceive result without a fused scene (perceive "
                                 "fuses when given an image, a point cloud and a calibration)")
        data, where = data["scene"], f"{where}.scene"
    if not isinstance(data, dict):
        raise SceneFileError(f"{where}: expected a mapping with 'ego' and 'objects'")
    if "stamp_ns" in data:
        stamp_ns = int(_number(data["stamp_ns"], f"{where}.stamp_ns"))
    else:
        stamp = (data.get("header") or {}).get("stamp") or {}
        stamp_ns = int(_number(stamp.get("sec", 0), f"{where}.header.stamp.sec") * 1e9
                       + _number(stamp.get("nanosec", 0), f"{where}.header.stamp.nanosec"))
    ego_d = data.get("ego")
    if not isinstance(ego_d, dict) or "speed_mps" not in ego_d:
        raise SceneFileError(f"{where}.ego: missing (needs at least speed_mps)")
    ego = EgoState(
        speed_mps=_number(ego_d["speed_mps"], f"{where}.ego.speed_mps"),
        acceleration_mps2=_number(ego_d.get("acceleration_mps2"), f"{where}.ego", 0.0),
        yaw_rate_radps=_number(ego_d.get("yaw_rate_radps"), f"{where}.ego", 0.0),
        speed_limit_mps=_number(ego_d.get("speed_limit_mps"), f"{where}.ego", 0.0),
        lane_index=int(_number(ego_d.get("lane_index"), f"{where}.ego.lane_index", -1.0)),
        lanes_left_our_way=int(_number(ego_d.get("lanes_left_our_way"),
                                       f"{where}.ego.lanes_left_our_way", -1.0)))
    objs_d = data.get("objects", [])
    if not isinstance(objs_d, list):
        raise SceneFileError(f"{where}.objects: expected a list")
    objects = []
    for i, o in enumerate(objs_d):
        w = f"{where}.objects[{i}]"
        if not isinstance(o, dict):
            raise SceneFileError(f"{w}: expected a mapping")
        for key in ("track_id", "class_name", "distance_m"):
            if key not in o:
                raise SceneFileError(f"{w}: missing '{key}'")
        lane = o.get("lane_relation", LANE_UNKNOWN)
        if isinstance(lane, str):
            if lane not in LANE_NAMES:
                raise SceneFileError(f"{w}.lane_relation: {lane!r} is not one of "
                                     f"{', '.join(LANE_NAMES)}")
            lane = LANE_NAMES[lane]
        ttc = o.get("time_to_collision_s")
        objects.append(TrackedObject(
            track_id=int(_number(o["track_id"], f"{w}.track_id")),
            class_name=str(o["class_name"]),
            confidence=_number(o.get("confidence"), f"{w}.confidence", 1.0),
            position_m=_vec(o.get("position_m"), f"{w}.position_m"),
            size_m=_vec(o.get("size_m"), f"{w}.size_m"),
            velocity_mps=_vec(o.get("velocity_mps"), f"{w}.velocity_mps"),
            distance_m=_number(o["distance_m"], f"{w}.distance_m"),
            relative_speed_mps=_number(o.get("relative_speed_mps"), f"{w}", 0.0),
            time_to_collision_s=math.inf if ttc is None else _number(ttc, f"{w}.ttc"),
            lane_relation=int(lane)))
    scene = SceneSummary(stamp_ns=stamp_ns, ego=ego, objects=objects,
                            perception_mode=str(data.get("perception_mode", MODE_FUSED)))
    instruction = data.get("instruction", "") or ""
    if not isinstance(instruction, str):
        raise SceneFileError(f"{where}.instruction: expected text")
    return scene, instruction


def load_scene_file(path: Path) -> tuple[SceneSummary, str]:
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SceneFileError(f"{path}: cannot parse: {exc}") from exc
    return scene_from_dict(data, str(path))
