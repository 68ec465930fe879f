"""Camera detector benchmark: wrapper overhead over bare Ultralytics, and held-out accuracy.

Timing: the same model file is loaded twice, once bare (`ultralytics.YOLO`)
and once inside `CameraDetector`, and both run on the same images with the
same arguments. Calls alternate, and which of the two goes first flips every
frame, so neither profits from warmer caches or loses to a background load.

Accuracy: recall and precision at IoU 0.5, per class and overall, on
simulator frames from runs whose seeds training never used
(`dataset.heldout_frames`). Detections on an ignore region (a visible actor
too small or too hidden to be labelled) count as neither right nor wrong.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_llm_ros.perception.camera.detector import CameraDetector
from edge_llm_ros.perception.camera.ultralytics_env import ultralytics
from edge_llm_ros.tools.training.camera_dataset import CLASS_NAMES, EvalFrame, heldout_frames
from edge_llm_ros.types import Detection2D

IOU_MATCH = 0.5
IGNORE_COVERAGE = 0.5  # a detection this much inside an ignore box is ignored


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0.0 else 0.0


def _coverage(det: Sequence[float], region: Sequence[float]) -> float:
    """Fraction of the detection's area inside a region."""
    ix = max(0.0, min(det[2], region[2]) - max(det[0], region[0]))
    iy = max(0.0, min(det[3], region[3]) - max(det[1], region[1]))
    area = (det[2] - det[0]) * (det[3] - det[1])
    return ix * iy / area if area > 0.0 else 0.0


def match_frame(detections: Sequence[Detection2D], frame: EvalFrame,
                iou: float = IOU_MATCH) -> dict[str, dict[str, int]]:
    """Per-class tp/fp/fn for one frame (greedy by score, one detection per box)."""
    counts = {c: {"tp": 0, "fp": 0, "fn": 0} for c in CLASS_NAMES}
    matched: set[int] = set()
    for det in sorted(detections, key=lambda d: -d.score):
        if det.class_name not in counts:
            counts[det.class_name] = {"tp": 0, "fp": 0, "fn": 0}
        best, best_iou = -1, iou
        for i, gt in enumerate(frame.gt_boxes):
            if i in matched or gt.class_name != det.class_name:
                continue
            v = box_iou(det.box_px, gt.box_px)
            if v >= best_iou:
                best, best_iou = i, v
        if best >= 0:
            matched.add(best)
            counts[det.class_name]["tp"] += 1
        elif not any(_coverage(det.box_px, ig.box_px) >= IGNORE_COVERAGE
                     or box_iou(det.box_px, ig.box_px) >= iou for ig in frame.ignore_boxes):
            counts[det.class_name]["fp"] += 1
    for i, gt in enumerate(frame.gt_boxes):
        if i not in matched:
            counts[gt.class_name]["fn"] += 1
    return counts


def _rates(c: dict[str, int]) -> dict[str, Any]:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    return {"recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "tp": tp, "fp": fp, "fn": fn}


def evaluate_detector(detector: CameraDetector, frames: Sequence[EvalFrame],
                      iou: float = IOU_MATCH) -> dict[str, Any]:
    """Recall and precision per class and overall (micro-averaged) over `frames`."""
    total: dict[str, dict[str, int]] = {}
    for frame in frames:
        result = detector.detect(frame.image_rgb, encoding="rgb8")
        for cls, c in match_frame(result.detections, frame, iou).items():
            acc = total.setdefault(cls, {"tp": 0, "fp": 0, "fn": 0})
            for k in acc:
                acc[k] += c[k]
    overall = {k: sum(c[k] for c in total.values()) for k in ("tp", "fp", "fn")}
    return {"iou": iou, "n_frames": len(frames),
            "per_class": {cls: _rates(c) for cls, c in total.items()},
            "overall": _rates(overall)}


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"median_ms": round(float(np.median(a)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3),
            "mean_ms": round(float(a.mean()), 3)}


def benchmark_camera(model_path: str | Path, n_frames: int = 200, eval_frames: int = 120,
                     device: str | int = "cpu", n_images: int = 16, warmup: int = 5,
                     seed: int = 0) -> dict[str, Any]:
    """Median/p99 ms of bare `YOLO.predict` vs `CameraDetector.detect`, and held-out accuracy.

    `n_images` held-out frames are cycled for timing; `eval_frames` (0 to
    skip) are scored. The wrapper gets the same BGR array as the bare call,
    so the ratio shows only what the wrapper adds (checks, result conversion).
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    detector = CameraDetector(model_path, device=device)
    bare = ultralytics().YOLO(str(model_path), task="detect")
    kwargs = detector.predict_kwargs()
    frames = heldout_frames(max(n_images, eval_frames), seed=seed)
    images = [np.ascontiguousarray(f.image_rgb[..., ::-1]) for f in frames[:n_images]]

    def run_bare(img: np.ndarray) -> float:
        t = time.perf_counter()
        result = bare.predict(img, **kwargs)[0]
        result.boxes.xyxy.cpu()  # the bare user also reads the boxes out
        return (time.perf_counter() - t) * 1e3

    def run_wrapped(img: np.ndarray) -> float:
        t = time.perf_counter()
        detector.detect(img, encoding="bgr8")
        return (time.perf_counter() - t) * 1e3

    for i in range(warmup):
        run_bare(images[i % len(images)])
        run_wrapped(images[i % len(images)])
    bare_ms: list[float] = []
    wrapped_ms: list[float] = []
    for i in range(n_frames):
        img = images[i % len(images)]
        if i % 2 == 0:
            bare_ms.append(run_bare(img))
            wrapped_ms.append(run_wrapped(img))
        else:
            wrapped_ms.append(run_wrapped(img))
            bare_ms.append(run_bare(img))
    b, w = _stats(bare_ms), _stats(wrapped_ms)
    out: dict[str, Any] = {
        "detector": "camera",
        "model": str(model_path),
        "runtime": detector.runtime,
        "device": str(device),
        "inference_size": list(detector.inference_size),
        "image_size": list(images[0].shape[1::-1]),
        "n_frames": n_frames,
        "bare_predict": b,
        "camera_detector": w,
        "overhead_ratio_median": round(w["median_ms"] / b["median_ms"], 4),
        "overhead_ratio_p99": round(w["p99_ms"] / b["p99_ms"], 4),
    }
    if eval_frames > 0:
        out["accuracy"] = evaluate_detector(detector, frames[:eval_frames])
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m edge_llm_ros.tools.bench.camera MODEL [--n-frames N]`: JSON to stdout."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path")
    parser.add_argument("--n-frames", type=int, default=200)
    parser.add_argument("--eval-frames", type=int, default=120)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    ultralytics()
    from ultralytics.utils import LOGGER

    LOGGER.setLevel("WARNING")  # its "Loading ..." lines go to stdout, which carries the JSON
    print(json.dumps(benchmark_camera(args.model_path, n_frames=args.n_frames,
                                      eval_frames=args.eval_frames, device=args.device),
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
