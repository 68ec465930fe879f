"""MB3-CenterNet (COCO, TF.js graph) as a camera detector: tiling, peak reading, and the
real model on a real KITTI image against its labels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_llm_ros.perception.camera.centernet import OUTPUT_STRIDE, peaks, tile_spans
from edge_llm_ros.perception.camera.detector import CameraDetector
from edge_llm_ros.perception.camera.model_source import ModelLoadError, resolve_model


def test_tiles_are_square_cover_the_width_and_respect_a_count() -> None:
    spans = tile_spans(1242, 375)
    assert len(spans) == 4 and spans[0][0] == 0 and spans[-1][1] == 1242
    assert all(b - a == 375 for a, b in spans)
    assert all(spans[k][1] >= spans[k + 1][0] for k in range(3))  # no gap
    assert tile_spans(640, 480, tiles=1) == [(0, 640)]
    assert tile_spans(300, 600) == [(0, 300)]


def test_peaks_are_local_maxima_with_their_sides() -> None:
    heat = np.zeros((16, 16, 3), np.float32)
    heat[5, 7, 2] = 0.9
    heat[5, 8, 2] = 0.8  # beside the peak: not a peak
    heat[10, 3, 0] = 0.4
    heat[12, 12, 1] = 0.1  # under the threshold
    sides = np.zeros((16, 16, 4), np.float32)
    sides[5, 7] = (10, 20, 30, 40)
    found = peaks(heat, sides, threshold=0.3, k=10)
    assert [(f[4], f[5]) for f in found] == [(pytest.approx(0.9), 2), (pytest.approx(0.4), 0)]
    cx, cy = 7 * OUTPUT_STRIDE, 5 * OUTPUT_STRIDE
    assert found[0][:4] == (cx - 10, cy - 20, cx + 30, cy + 40)


def _labelled_cars(label_file: Path) -> list[tuple[float, float, float, float]]:
    rows = [line.split() for line in label_file.read_text().splitlines()]
    return [tuple(map(float, r[4:8])) for r in rows
            if r[0] == "Car" and float(r[7]) - float(r[5]) >= 40]  # 40 px and taller


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union


def test_real_model_finds_labelled_kitti_cars(coco_centernet: Path,
                                              kitti_labelled_dir: Path) -> None:
    detector = CameraDetector(coco_centernet, device="cpu")
    assert detector.runtime == "tfjs" and detector.class_mapping == "coco"
    assert detector.names[0] == "person" and len(detector.names) == 80
    hits = total = 0
    for frame in ("000001", "000003", "000008"):
        image = cv2.imread(str(kitti_labelled_dir / "image_2" / f"{frame}.png"))
        found = detector.detect(image)
        assert {d.class_name for d in found.detections} <= {"car", "truck", "pedestrian",
                                                            "cyclist"}
        cars = [d.box_px for d in found.detections if d.class_name in ("car", "truck")]
        for box in _labelled_cars(kitti_labelled_dir / "label_2" / f"{frame}.txt"):
            total += 1
            hits += any(_iou(box, c) >= 0.5 for c in cars)
    assert total >= 4 and hits >= total - 1


def test_packaged_path_resolves_and_gpu_is_refused(coco_centernet: Path) -> None:
    assert resolve_model("coco_centernet/centernet.json").path == coco_centernet
    with pytest.raises(ModelLoadError, match="runs on the CPU"):
        CameraDetector(coco_centernet, device="cuda:0")
