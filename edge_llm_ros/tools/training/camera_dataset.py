"""Labelled camera frames from the built-in simulator: YOLO training sets and held-out eval.

Labels come from the simulator's segmentation render (the actor id at every
pixel), so each box is the tight box of the pixels an actor really covers in
that frame (a modal box: occluded parts are not in it). Boxes too small or
too hidden to be detectable are not labelled but kept as *ignore* regions, so
an evaluation does not count a detection of one as a false positive (the
KITTI "DontCare" idea). See `BoxFilter` for the thresholds and why.

Frames come from two kinds of runs:
- the packaged scenarios it was trained on (`TRAINING_SCENARIOS`), whose seeds jitter
  each actor's start and speed: the scenes the simulator node plays;
- procedural scenarios (`random_scenario`): random roads, traffic,
  pedestrians and cyclists with random sizes and paint, so the detector learns
  the classes rather than the few packaged scenes.

Seeds: training and validation runs draw simulator and generator seeds from
[1, HELDOUT_SEED_BASE); `heldout_frames` uses seeds from HELDOUT_SEED_BASE
up, so no held-out run was ever seen in training. Everything is a pure
function of the seed: the same seed writes byte-identical images and labels.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edge_llm_ros.sim import (
    DEFAULT_SIZES_M,
    CameraConfig,
    CameraModel,
    GroundTruthObject,
    Scenario,
    Simulator,
    load_scenario,
    scenario_from_dict,
)
from edge_llm_ros.tools.training.reasoner_dataset import TRAINING_SCENARIOS

# Class ids of the shipped detector (the order is the model's class index).
CLASS_NAMES: tuple[str, ...] = ("car", "truck", "pedestrian", "cyclist")
CLASS_IDS: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}
# Seeds at or above this are reserved for held-out evaluation.
HELDOUT_SEED_BASE = 1_000_000
DEFAULT_CAMERA = CameraConfig()  # what the simulator node publishes (640x480, 90 deg)
_NEAR_M = 0.1


@dataclass(frozen=True)
class BoxFilter:
    """Which actor boxes are labelled; the rest become ignore regions.

    - `min_pixels`: actor pixels in the frame. Below ~40 px (e.g. a car
      smaller than 8x5 px, a pedestrian 3x13 px at 640x480) an object is a
      few blobs of colour that neither a small YOLO nor a person labels
      reliably.
    - `min_height_px`: box height; the stride-8 head of a YOLO needs a few
      cells of signal.
    - `min_visible_fraction`: area of the visible (modal) box over the area of
      the actor's whole projected 3D box (clipped to the image, so objects cut
      by the image border are not penalised). An unoccluded actor scores
      0.6-1.0 (its shape does not fill the corners of its box); below 0.25
      most of it is hidden behind something else.
    """

    min_pixels: int = 40
    min_height_px: float = 8.0
    min_visible_fraction: float = 0.25

    def keeps(self, pixels: int, height_px: float, visible_fraction: float) -> bool:
        return (pixels >= self.min_pixels and height_px >= self.min_height_px
                and visible_fraction >= self.min_visible_fraction)


@dataclass(frozen=True)
class LabeledBox:
    actor_id: int
    class_name: str
    box_px: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max; pixel edges
    pixels: int  # actor pixels in the segmentation
    visible_fraction: float  # see BoxFilter

    @property
    def class_id(self) -> int:
        return CLASS_IDS[self.class_name]


@dataclass
class LabeledFrame:
    image_rgb: np.ndarray  # (H,W,3) uint8
    boxes: list[LabeledBox]  # labelled (kept by the filter)
    ignored: list[LabeledBox]  # visible but below the filter: neither positive nor negative
    source: str  # "<scenario name>@seed<k>"
    time_s: float


@dataclass
class DatasetInfo:
    root: Path
    data_yaml: Path
    n_train: int
    n_val: int
    boxes_per_class: dict[str, int] = field(default_factory=dict)
    ignored_boxes: int = 0
    runs: int = 0


# ---------------------------------------------------------------- labels


def projected_box_px(obj: GroundTruthObject, camera: CameraModel
                     ) -> tuple[float, float, float, float] | None:
    """Image rectangle (pixel edges, clipped) of an object's whole 3D box, or None if unseen.

    The box's edges are clipped at the camera's near plane before projecting,
    so an object beside the camera (corners behind it) still gets the right
    rectangle for its visible part.
    """
    length, w, h = (float(v) for v in obj.size_m)
    c, s = math.cos(obj.yaw_base_rad), math.sin(obj.yaw_base_rad)
    signs = np.array([(sx, sy, sz) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    local = signs * (length / 2.0, w / 2.0, h / 2.0)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    corners_base = local @ rot.T + obj.center_base_m
    t = camera.T_camera_optical_from_base
    cam = corners_base @ t[:3, :3].T + t[:3, 3]
    pts = [p for p in cam if p[2] >= _NEAR_M]
    for i in range(8):
        for j in range(i + 1, 8):
            if np.count_nonzero(signs[i] != signs[j]) != 1:
                continue  # not an edge of the box
            zi, zj = cam[i, 2], cam[j, 2]
            if (zi - _NEAR_M) * (zj - _NEAR_M) < 0.0:
                a = (_NEAR_M - zi) / (zj - zi)
                pts.append(cam[i] + a * (cam[j] - cam[i]))
    if not pts:
        return None
    p = np.asarray(pts)
    uv = p[:, :2] / p[:, 2:3] * np.diag(camera.K)[:2] + camera.K[:2, 2] + 0.5  # to pixel edges
    x0, y0 = np.clip(uv.min(axis=0), 0.0, (camera.width_px, camera.height_px))
    x1, y1 = np.clip(uv.max(axis=0), 0.0, (camera.width_px, camera.height_px))
    if x1 <= x0 or y1 <= y0:
        return None
    return float(x0), float(y0), float(x1), float(y1)


def boxes_from_segmentation(segmentation: np.ndarray, objects: Sequence[GroundTruthObject],
                            camera: CameraModel, box_filter: BoxFilter | None = None
                            ) -> tuple[list[LabeledBox], list[LabeledBox]]:
    """(labelled, ignored) tight boxes of each actor's pixels in a segmentation render.

    Box corners are pixel edges: an actor covering columns 10..19 gets
    x_min=10, x_max=20. Actors with no pixel in the frame get no box at all.
    """
    box_filter = box_filter or BoxFilter()
    seg = np.asarray(segmentation)
    by_id = {o.id: o for o in objects}
    ids, counts = np.unique(seg[seg >= 0], return_counts=True)
    kept: list[LabeledBox] = []
    ignored: list[LabeledBox] = []
    for actor_id, count in zip(ids.tolist(), counts.tolist(), strict=True):
        obj = by_id.get(actor_id)
        if obj is None or obj.class_name not in CLASS_IDS:
            continue
        rows = np.flatnonzero((seg == actor_id).any(axis=1))
        cols = np.flatnonzero((seg == actor_id).any(axis=0))
        box = (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))
        area = (box[2] - box[0]) * (box[3] - box[1])
        full = projected_box_px(obj, camera)
        full_area = (full[2] - full[0]) * (full[3] - full[1]) if full is not None else 0.0
        fraction = min(1.0, area / full_area) if full_area > 0.0 else 1.0
        labeled = LabeledBox(actor_id, obj.class_name, box, int(count), round(fraction, 4))
        (kept if box_filter.keeps(count, box[3] - box[1], fraction) else ignored).append(labeled)
    return kept, ignored


def yolo_label_lines(boxes: Sequence[LabeledBox], width_px: int, height_px: int) -> list[str]:
    """YOLO txt rows: class cx cy w h, normalised to the image size."""
    lines = []
    for b in boxes:
        x0, y0, x1, y1 = b.box_px
        lines.append(f"{b.class_id} {(x0 + x1) / 2 / width_px:.6f} {(y0 + y1) / 2 / height_px:.6f} "
                     f"{(x1 - x0) / width_px:.6f} {(y1 - y0) / height_px:.6f}")
    return lines


# ---------------------------------------------------- procedural scenarios


def _footprint(scenario: Scenario, actor: Any, times: np.ndarray) -> np.ndarray:
    """(T, 4) axis-aligned x_min, x_max, y_min, y_max of an actor over time (world)."""
    out = np.empty((len(times), 4))
    for k, t in enumerate(times):
        st = scenario.actor_state(actor, float(t))
        c, s = abs(math.cos(st.yaw_rad)), abs(math.sin(st.yaw_rad))
        hl, hw = actor.size_m[0] / 2.0, actor.size_m[1] / 2.0
        ex, ey = c * hl + s * hw, s * hl + c * hw
        out[k] = (st.x_m - ex, st.x_m + ex, st.y_m - ey, st.y_m + ey)
    return out


def _ego_footprint(scenario: Scenario, times: np.ndarray, margin_m: float) -> np.ndarray:
    out = np.empty((len(times), 4))
    for k, t in enumerate(times):
        st = scenario.ego_state(float(t))
        cx = st.x_m + 1.25  # body centre ahead of the rear axle
        out[k] = (cx - 2.25 - margin_m, cx + 2.25 + margin_m + 2.0,  # camera is at the front
                  st.y_m - 0.9 - margin_m, st.y_m + 0.9 + margin_m)
    return out


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.any((a[:, 0] < b[:, 1]) & (b[:, 0] < a[:, 1])
                       & (a[:, 2] < b[:, 3]) & (b[:, 2] < a[:, 3])))


def random_scenario(seed: int, duration_s: float = 20.0) -> Scenario:
    """A random road scene: traffic in both directions, parked cars, pedestrians, cyclists.

    Paths are scripted (the simulator has no collisions), so each candidate
    actor is rejected if its footprint ever overlaps the ego or an actor
    already placed; no frame shows one body inside another.
    """
    rng = np.random.default_rng([seed, 0xCA3])
    num_lanes = int(rng.integers(2, 6))
    oncoming = int(rng.integers(0, min(2, num_lanes - 1) + 1))
    lane_w = float(rng.uniform(3.0, 3.8))
    sidewalk_w = float(rng.uniform(1.8, 4.0))
    half = num_lanes * lane_w / 2.0
    ego_lane = int(rng.integers(0, num_lanes - oncoming))
    ego_speed = float(rng.choice([0.0, rng.uniform(2.0, 8.0), rng.uniform(8.0, 16.0)],
                                 p=[0.15, 0.35, 0.5]))
    ego_x = 60.0
    length = ego_x + ego_speed * duration_s + 400.0
    road = {"num_lanes": num_lanes, "oncoming_lanes": oncoming, "lane_width_m": round(lane_w, 3),
            "length_m": round(length, 1), "speed_limit_mps": 16.0,
            "sidewalk_width_m": round(sidewalk_w, 3)}
    ego = {"lane": ego_lane, "start_x_m": ego_x, "speed_profile": [[0, round(ego_speed, 3)]]}
    base = scenario_from_dict({"description": "procedural", "duration_s": duration_s,
                               "road": road, "ego": ego, "actors": []})
    times = np.arange(0.0, duration_s + 1e-9, 0.25)
    placed = [_ego_footprint(base, times, margin_m=1.0)]
    actors: list[dict[str, Any]] = []
    lane_speed = {lane: float(rng.uniform(0.0, 15.0)) for lane in range(num_lanes)}

    def color() -> list[float]:
        return [round(float(v), 3) for v in rng.uniform(0.03, 0.97, 3)]

    def size(cls: str) -> list[float]:
        return [round(float(d * rng.uniform(0.85, 1.15)), 3) for d in DEFAULT_SIZES_M[cls]]

    def vehicle() -> dict[str, Any]:
        cls = "truck" if rng.random() < 0.25 else "car"
        lane = int(rng.integers(0, num_lanes))
        onc = lane >= num_lanes - oncoming
        parked = rng.random() < 0.15
        speed = 0.0 if parked else lane_speed[lane] * float(rng.uniform(0.95, 1.05))
        ahead = float(rng.uniform(-15.0, 120.0))
        if onc:
            ahead = float(rng.uniform(10.0, 60.0)) + speed * duration_s * float(rng.uniform(0, 1))
        return {"class": cls, "size_m": size(cls), "color": color(),
                "path": {"lane": lane, "start_x_m": round(ego_x + ahead, 2),
                         "speed_profile": [[0, round(speed, 3)]]}}

    def walker(cls: str) -> dict[str, Any]:
        side = float(rng.choice([-1.0, 1.0]))
        x0 = ego_x + float(rng.uniform(-5.0, 90.0)) + ego_speed * duration_s * float(rng.random())
        if cls == "pedestrian":
            if rng.random() < 0.35:  # crosses the road somewhere in the run
                # (floored so the keyframe times stay strictly increasing after rounding)
                t0 = max(float(rng.uniform(0.0, duration_s * 0.7)), 0.001)
                speed = float(rng.uniform(0.8, 1.8))
                y0, y1 = side * (half + 1.0), -side * (half + 1.0)
                t1 = t0 + abs(y1 - y0) / speed
                kf = [[0.0, x0, y0], [round(t0, 3), x0, y0], [round(t1, 3), x0, y1]]
                return {"class": cls, "size_m": size(cls), "color": color(),
                        "path": {"keyframes": kf}}
            y = side * (half + float(rng.uniform(0.4, max(0.5, sidewalk_w - 0.4))))
            speed = float(rng.choice([0.0, rng.uniform(0.6, 1.8)], p=[0.3, 0.7]))
        else:
            y = side * (half - float(rng.uniform(0.5, 1.0)))
            speed = float(rng.uniform(2.5, 7.0))
        # Cyclists ride with the traffic next to them; pedestrians walk either way.
        direction = float(rng.choice([-1.0, 1.0])) if cls == "pedestrian" else -side
        x1 = x0 + direction * speed * duration_s
        path: dict[str, Any] = {"keyframes": [[0.0, round(x0, 2), round(y, 3)],
                                              [duration_s, round(x1, 2), round(y, 3)]]}
        if speed == 0.0:
            path = {"keyframes": [[0.0, round(x0, 2), round(y, 3)]],
                    "yaw_deg": round(float(rng.uniform(-180.0, 180.0)), 1)}
        return {"class": cls, "size_m": size(cls), "color": color(), "path": path}

    wanted = (["vehicle"] * int(rng.integers(3, 11)) + ["pedestrian"] * int(rng.integers(1, 7))
              + ["cyclist"] * int(rng.integers(0, 4)))
    for kind in wanted:
        for _ in range(8):  # a few tries to find a free spot
            spec = vehicle() if kind == "vehicle" else walker(kind)
            spec["id"] = len(actors) + 1
            trial = scenario_from_dict({"description": "procedural", "duration_s": duration_s,
                                        "road": road, "ego": ego, "actors": [spec]})
            fp = _footprint(trial, trial.actors[0], times)
            if not any(_overlaps(fp, other) for other in placed):
                placed.append(fp)
                actors.append(spec)
                break
    return scenario_from_dict(
        {"name": f"procedural_{seed}", "description": f"procedural scene, seed {seed}",
         "duration_s": duration_s, "road": road, "ego": ego, "actors": actors},
        source=f"random_scenario({seed})")


# ------------------------------------------------------------------ frames


@dataclass(frozen=True)
class RunSpec:
    """One simulator run to sample: a packaged scenario name or a procedural seed."""

    scenario: str  # packaged name, or "procedural"
    seed: int  # simulator seed (packaged) or generator seed (procedural)
    frame_interval_s: float = 1.0

    def build(self) -> tuple[Scenario, int]:
        if self.scenario == "procedural":
            return random_scenario(self.seed), 0  # the generator already randomised it
        return load_scenario(self.scenario), self.seed

    @property
    def label(self) -> str:
        return f"{self.scenario}@seed{self.seed}"


def iter_run_frames(run: RunSpec, box_filter: BoxFilter | None = None,
                    camera: CameraConfig = DEFAULT_CAMERA) -> Iterator[LabeledFrame]:
    """Every frame of a run, `frame_interval_s` apart, with its labelled boxes.

    The simulator is stepped at 1/frame_interval_s Hz: poses are pure
    functions of time, so skipping the ticks in between changes nothing but
    saves their renders.
    """
    scenario, sim_seed = run.build()
    with Simulator(scenario, seed=sim_seed, camera=camera, lidar=None,
                   rate_hz=1.0 / run.frame_interval_s) as sim:
        assert sim.camera_model is not None
        while not sim.done:
            frame = sim.step()
            seg = sim.render_segmentation()
            kept, ignored = boxes_from_segmentation(seg, frame.objects, sim.camera_model,
                                                    box_filter)
            assert frame.image_rgb is not None
            yield LabeledFrame(frame.image_rgb, kept, ignored, run.label, frame.time_s)


def plan_runs(n_runs: int, seed: int, heldout: bool = False,
              packaged_fraction: float = 0.3) -> list[RunSpec]:
    """A seeded list of runs: packaged scenarios and procedural scenes, mixed.

    Training seeds are drawn below HELDOUT_SEED_BASE, held-out seeds at or
    above it, so the two never share a run.
    """
    rng = np.random.default_rng([seed, 1 if heldout else 0])
    low, high = (HELDOUT_SEED_BASE, 2 * HELDOUT_SEED_BASE) if heldout else (1, HELDOUT_SEED_BASE)
    packaged = [n for n in TRAINING_SCENARIOS if n != "clear_road"]  # no actors to learn from
    runs = []
    for k in range(n_runs):
        # 1-2 s apart: consecutive frames differ, and a set spans many scenes.
        interval = float(rng.uniform(1.0, 2.0))
        run_seed = int(rng.integers(low, high))
        if rng.random() < packaged_fraction:
            runs.append(RunSpec(packaged[k % len(packaged)], run_seed, round(interval, 3)))
        else:
            runs.append(RunSpec("procedural", run_seed, round(interval, 3)))
    return runs


# ----------------------------------------------------------------- dataset


def _write_png(path: Path, image_rgb: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), np.ascontiguousarray(image_rgb[..., ::-1])):
        raise OSError(f"cannot write {path}")


def dataset_manifest(n_images: int, seed: int, val_fraction: float,
                     box_filter: BoxFilter | None) -> dict[str, Any]:
    """What a dataset folder was generated from (to reuse it only when this matches)."""
    return {"n_images": n_images, "seed": seed, "val_fraction": val_fraction,
            "box_filter": dataclasses.asdict(box_filter or BoxFilter()),
            "class_names": list(CLASS_NAMES), "format": 1}


def load_dataset_info(out_dir: str | Path, n_images: int, seed: int, val_fraction: float = 0.15,
                      box_filter: BoxFilter | None = None) -> DatasetInfo | None:
    """The DatasetInfo of a folder `build_dataset` wrote with these arguments, else None."""
    root = Path(out_dir)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest != json.loads(json.dumps(dataset_manifest(n_images, seed, val_fraction,
                                                          box_filter))):
        return None
    n_train = len(list((root / "images" / "train").glob("*.png")))
    n_val = len(list((root / "images" / "val").glob("*.png")))
    return DatasetInfo(root=root, data_yaml=root / "data.yaml", n_train=n_train, n_val=n_val)


def build_dataset(out_dir: str | Path, n_images: int = 1200, seed: int = 0,
                  val_fraction: float = 0.15, box_filter: BoxFilter | None = None,
                  max_empty_fraction: float = 0.05,
                  log: Any = None) -> DatasetInfo:
    """Write a YOLO detection dataset of `n_images` simulator frames under `out_dir`.

    Layout: images/{train,val}/*.png, labels/{train,val}/*.txt, data.yaml.
    Whole runs go to either split (a run goes to val whenever val holds less
    than `val_fraction` of the frames so far), so validation never sees a
    frame from a run it trained on. Frames without any labelled box are
    capped at `max_empty_fraction` of the set: a few teach "nothing here",
    more only cost training time. The folder is replaced if it exists.
    """
    if n_images < 2:
        raise ValueError(f"n_images must be >= 2, got {n_images}")
    root = Path(out_dir)
    if root.exists():
        shutil.rmtree(root)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    info = DatasetInfo(root=root, data_yaml=root / "data.yaml", n_train=0, n_val=0,
                       boxes_per_class=dict.fromkeys(CLASS_NAMES, 0))
    max_empty = int(max_empty_fraction * n_images)
    n_empty = 0
    # More runs than needed; stop as soon as the set is full.
    for k, run in enumerate(plan_runs(max(8, n_images), seed)):
        split = "val" if k > 0 and info.n_val < val_fraction * (info.n_train + info.n_val) \
            else "train"
        for frame in iter_run_frames(run, box_filter):
            if info.n_train + info.n_val >= n_images:
                break
            if not frame.boxes:
                if n_empty >= max_empty:
                    continue
                n_empty += 1
            name = f"{k:05d}_{frame.source.replace('@', '_')}_{frame.time_s:06.2f}"
            h, w = frame.image_rgb.shape[:2]
            _write_png(root / "images" / split / f"{name}.png", frame.image_rgb)
            (root / "labels" / split / f"{name}.txt").write_text(
                "".join(line + "\n" for line in yolo_label_lines(frame.boxes, w, h)))
            for b in frame.boxes:
                info.boxes_per_class[b.class_name] += 1
            info.ignored_boxes += len(frame.ignored)
            if split == "val":
                info.n_val += 1
            else:
                info.n_train += 1
        info.runs = k + 1
        if log is not None and k % 10 == 0:
            log(f"dataset: run {k} ({run.label}): {info.n_train} train, {info.n_val} val")
        if info.n_train + info.n_val >= n_images:
            break
    (root / "manifest.json").write_text(json.dumps(dataset_manifest(n_images, seed, val_fraction,
                                                                     box_filter),
                                                    indent=1, sort_keys=True))
    info.data_yaml.write_text(yaml.safe_dump({
        "path": str(root.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(CLASS_NAMES)),
    }, sort_keys=False))
    return info


@dataclass
class EvalFrame:
    image_rgb: np.ndarray
    gt_boxes: list[LabeledBox]
    ignore_boxes: list[LabeledBox]
    source: str
    time_s: float


def heldout_frames(n_frames: int = 120, seed: int = 0, packaged_fraction: float = 0.5,
                   box_filter: BoxFilter | None = None) -> list[EvalFrame]:
    """(image, ground-truth boxes) pairs from runs whose seeds training never uses.

    Half the runs (by default) are packaged scenarios, half procedural scenes;
    frames are taken in run order until `n_frames` are collected, at most 12
    per run so no single scene dominates.
    """
    out: list[EvalFrame] = []
    for run in plan_runs(max(4, n_frames), seed, heldout=True,
                         packaged_fraction=packaged_fraction):
        for i, frame in enumerate(iter_run_frames(run, box_filter)):
            if len(out) >= n_frames or i >= 12:
                break
            out.append(EvalFrame(frame.image_rgb, frame.boxes, frame.ignored, frame.source,
                                 frame.time_s))
        if len(out) >= n_frames:
            break
    return out
