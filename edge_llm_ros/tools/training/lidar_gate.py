"""Train the lidar road-user gate on labelled KITTI frames (`edge-llm-ros bench perception`
reports what it gives, held out by frame).

The geometric detector's clusters (after corridor and structure rules) are labelled
by matching them to KITTI's road users (nearest centre within 2 m, one cluster per
road user); the rest are background, except clusters near Misc/Tram labels or in a
DontCare region, which are left out. A logistic regression on the standardised
`CLUSTER_FEATURES` (L2-regularised, Newton steps, classes balanced) is small enough
to ship as numbers in edge_llm_ros/perception/lidar_gates.py, and trains in
milliseconds, so a frame split (even frame numbers against odd ones) can be refitted
for every evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edge_llm_ros.perception.kitti import parse_kitti_calib, project_velo_to_image, read_kitti_bin
from edge_llm_ros.perception.lidar import CLUSTER_FEATURES, LidarDetector, LidarDetectorConfig
from edge_llm_ros.tools.evaluation.perception import (
    SCORED_CLASSES,
    kitti_frame_ids,
    points_in_box,
    read_kitti_labels,
)

GATE_L2 = 5.0  # ridge strength: ~300 clusters, ~30 road users; chosen on the frame split
GATE_THRESHOLD = 0.3  # the shipped config's gate_threshold


def cluster_dataset(kitti_dir: Path, config: LidarDetectorConfig,
                    frames: Sequence[str] | None = None, match_m: float = 2.0,
                    min_points: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features (M, F), label, frame index) over frames; label 0 is background, 1 + i a
    road user of class `SCORED_CLASSES[i]` (car, truck, pedestrian, cyclist)."""
    kitti_dir = Path(kitti_dir)
    frames = list(frames) if frames is not None else kitti_frame_ids(kitti_dir)
    detector = LidarDetector(replace(config, gate="", gate_weights=(), gate_mean=(),
                                     gate_scale=(), return_features=True))
    xs, ys, fs = [], [], []
    for fi, frame in enumerate(frames):
        points = read_kitti_bin(kitti_dir / "velodyne" / f"{frame}.bin")
        calib = parse_kitti_calib(kitti_dir / "calib" / f"{frame}.txt")
        boxes, dont_care = read_kitti_labels(kitti_dir / "label_2" / f"{frame}.txt", calib)
        objects = detector.detect(points).objects
        if not objects:
            continue
        truth = [b for b in boxes if b.class_name is not None
                 and points_in_box(points, b) >= min_points]
        other = [b for b in boxes if b.class_name is None]
        xy = np.array([o.center_m[:2] for o in objects])
        label = np.zeros(len(objects))
        pairs = sorted((float(np.hypot(*(b.center_m[:2] - xy[j]))), i, j)
                       for i, b in enumerate(truth) for j in range(len(objects)))
        used_t: set[int] = set()
        used_d: set[int] = set()
        for d, i, j in pairs:
            if d <= match_m and i not in used_t and j not in used_d:
                used_t.add(i)
                used_d.add(j)
                label[j] = 1.0 + SCORED_CLASSES.index(truth[i].class_name)
        uv, depth = project_velo_to_image(np.array([o.center_m for o in objects]), calib)
        keep = np.ones(len(objects), dtype=bool)
        for j in range(len(objects)):
            if label[j]:
                continue
            near_other = any(math.hypot(*(b.center_m[:2] - xy[j])) <= match_m
                             + max(b.size_m[:2]) / 2 for b in other)
            in_dc = depth[j] > 0 and any(r[0] <= uv[j, 0] <= r[2] and r[1] - 20 <= uv[j, 1]
                                         <= r[3] + 20 for r in dont_care)
            keep[j] = not (near_other or in_dc)
        xs.append(np.array([o.features for o in objects])[keep])
        ys.append(label[keep])
        fs.append(np.full(int(keep.sum()), fi))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(fs)


def fit_gate(x: np.ndarray, y: np.ndarray, l2: float = GATE_L2,
             iterations: int = 30) -> dict[str, tuple[float, ...]]:
    """Balanced, L2-regularised logistic regression (Newton) -> gate_weights/mean/scale."""
    if x.shape[1] != len(CLUSTER_FEATURES):
        raise ValueError(f"features must have {len(CLUSTER_FEATURES)} columns")
    if not 0 < y.sum() < y.size:
        raise ValueError("training the gate needs road users and background")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    sample_w = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0  # no penalty on the bias
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (sample_w * (p - y)) + reg * w
        hess = (z * (sample_w * p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return {"gate_weights": tuple(round(float(v), 5) for v in w),
            "gate_mean": tuple(round(float(v), 5) for v in mean),
            "gate_scale": tuple(round(float(v), 5) for v in scale)}


def train_gate(kitti_dir: Path, config: LidarDetectorConfig,
               frames: Sequence[str] | None = None, l2: float = GATE_L2
               ) -> dict[str, tuple[float, ...]]:
    """Fit the gate on the given labelled frames (all of them by default)."""
    x, y, _ = cluster_dataset(kitti_dir, config, frames)
    return fit_gate(x, (y > 0).astype(np.float64), l2)


def write_gates_module(path: Path, gates: dict[str, dict[str, tuple[float, ...]]],
                       note: str) -> None:
    """Write edge_llm_ros/perception/lidar_gates.py (the shipped gate weights)."""
    lines = ['"""Shipped weights of the lidar road-user gate (written by',
             'edge_llm_ros/tools/training/lidar_gate.py; do not edit by hand).', "", note,
             '"""', "", "GATES: dict[str, dict[str, tuple[float, ...]]] = {"]
    for name, g in gates.items():
        lines.append(f"    {name!r}: {{")
        for key in ("gate_weights", "gate_mean", "gate_scale"):
            lines.append(f"        {key!r}: (")
            values = [repr(v) for v in g[key]]
            for i in range(0, len(values), 6):
                lines.append("            " + ", ".join(values[i:i + 6]) + ",")
            lines.append("        ),")
        lines.append("    },")
    lines.append("}")
    Path(path).write_text("\n".join(lines) + "\n")


def frame_split(frames: Sequence[str]) -> list[list[str]]:
    """Two folds: even frame numbers, odd frame numbers (neighbouring KITTI frames are
    different scenes in the object benchmark, so neither fold sees the other's)."""
    return [[f for f in frames if int(f) % 2 == 0], [f for f in frames if int(f) % 2 == 1]]


def leave_one_frame_out(frames: Sequence[str]) -> list[list[str]]:
    """One fold per frame: each frame is scored by a gate fitted on the ten others."""
    return [[f] for f in frames]


SPLITS = {"even_odd": (frame_split, "train on even frame numbers, report on odd, and the "
                       "other way round"),
          "leave_one_frame_out": (leave_one_frame_out, "each frame reported by a gate fitted "
                                  "on all the other frames")}


def cross_validate_gate(kitti_dir: Path, config: LidarDetectorConfig, l2: float = GATE_L2,
                        threshold: float = GATE_THRESHOLD,
                        split: str = "even_odd", **camera: Any) -> dict[str, Any]:
    """Held-out figures: for each fold (`SPLITS`), a gate fitted on the other folds'
    frames is evaluated on this fold's; counts are summed over folds. `camera` and
    `confirmation` (evaluate_kitti_labelled's) evaluate after camera fusion."""
    from edge_llm_ros.tools.evaluation.perception import evaluate_kitti_labelled

    frames = kitti_frame_ids(kitti_dir)
    x, y, f = cluster_dataset(kitti_dir, config, frames)
    sums = {"road_users": 0, "found": 0, "in_view_true": 0, "in_view_false": 0,
            "class_ok": 0}
    per_class: dict[str, dict[str, int]] = {}
    make_folds, description = SPLITS[split]
    folds = make_folds(frames)
    for held_out in folds:
        train = np.isin(f, [i for i, fr in enumerate(frames) if fr not in held_out])
        gate = fit_gate(x[train], (y[train] > 0).astype(np.float64), l2)
        r = evaluate_kitti_labelled(kitti_dir, replace(config, gate_threshold=threshold,
                                                       **gate),
                                    frames=held_out, timing_repeats=0, **camera)
        for row in r["per_frame"].values():
            sums["road_users"] += row["truth"]
            sums["found"] += row["found"]
            sums["in_view_true"] += row["in_view_true"]
            sums["in_view_false"] += row["in_view_false"]
        for c, row in r["per_class"].items():
            ok = round((row["class_accuracy"] or 0.0) * row["found"])
            sums["class_ok"] += ok
            acc = per_class.setdefault(c, {"truth": 0, "found": 0, "class_ok": 0})
            acc["truth"] += row["truth"]
            acc["found"] += row["found"]
            acc["class_ok"] += ok
    seen = sums["in_view_true"] + sums["in_view_false"]
    return {
        "split": description,
        "folds": folds, "l2": l2, "threshold": threshold,
        "road_users": sums["road_users"], "found": sums["found"],
        "recall": round(sums["found"] / sums["road_users"], 3) if sums["road_users"] else None,
        "precision_in_view": round(sums["in_view_true"] / seen, 3) if seen else None,
        "class_accuracy": round(sums["class_ok"] / sums["found"], 3) if sums["found"] else None,
        "per_class": {c: {"truth": v["truth"], "found": v["found"],
                          "class_accuracy": round(v["class_ok"] / v["found"], 3)
                          if v["found"] else None} for c, v in per_class.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Fit the shipped HDL-64E gate on every labelled frame and write lidar_gates.py."""
    import argparse
    import json

    from edge_llm_ros.tools.evaluation.perception import KITTI_LIDAR_CONFIG

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kitti", type=Path, required=True, help="labelled KITTI frames")
    parser.add_argument("--write", type=Path, default=None,
                        help="write the gates module here (edge_llm_ros/perception/"
                        "lidar_gates.py)")
    parser.add_argument("--l2", type=float, default=GATE_L2)
    args = parser.parse_args(argv)
    config = replace(KITTI_LIDAR_CONFIG, gate="")
    frames = kitti_frame_ids(args.kitti)
    gate = train_gate(args.kitti, config, frames, args.l2)
    print(json.dumps(cross_validate_gate(args.kitti, config, args.l2), indent=2))
    if args.write:
        write_gates_module(args.write, {"kitti_hdl64": gate},
                           f"kitti_hdl64: KITTI's HDL-64E, fitted on the {len(frames)} labelled "
                           f"frames {frames[0]}-{frames[-1]} (L2 {args.l2}).")
    return 0


if __name__ == "__main__":  # pragma: no cover - manual use
    raise SystemExit(main())
