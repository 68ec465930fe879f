"""Scoring rules of the camera benchmark, and a short real benchmark run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.tools.bench.camera import benchmark_camera, box_iou, match_frame
from edge_llm_ros.tools.training.camera_dataset import EvalFrame, LabeledBox
from edge_llm_ros.types import Detection2D


def _gt(actor_id: int, cls: str, box: tuple[float, float, float, float]) -> LabeledBox:
    return LabeledBox(actor_id, cls, box, pixels=100, visible_fraction=1.0)


def _det(cls: str, box: tuple[float, float, float, float], score: float = 0.9) -> Detection2D:
    return Detection2D(0, cls, score, box)


def test_box_iou() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_match_frame_counts() -> None:
    frame = EvalFrame(np.zeros((1, 1, 3), np.uint8),
                      gt_boxes=[_gt(1, "car", (0, 0, 100, 50)), _gt(2, "pedestrian",
                                                                    (200, 0, 220, 60)),
                                _gt(3, "truck", (300, 0, 400, 80))],
                      ignore_boxes=[_gt(4, "car", (500, 10, 510, 16))], source="t", time_s=0.0)
    dets = [
        _det("car", (2, 0, 100, 52), 0.9),  # tp
        _det("car", (0, 0, 98, 50), 0.5),  # duplicate of the same car: fp
        _det("pedestrian", (200, 0, 221, 30), 0.8),  # IoU < 0.5: fp, and the pedestrian is fn
        _det("car", (300, 0, 400, 80), 0.7),  # right box, wrong class: car fp, truck fn
        _det("car", (499, 9, 511, 17), 0.6),  # on an ignore region: not counted
        _det("cyclist", (600, 0, 620, 40), 0.6),  # nothing there: fp
    ]
    c = match_frame(dets, frame)
    assert c["car"] == {"tp": 1, "fp": 2, "fn": 0}
    assert c["pedestrian"] == {"tp": 0, "fp": 1, "fn": 1}
    assert c["truck"] == {"tp": 0, "fp": 0, "fn": 1}
    assert c["cyclist"] == {"tp": 0, "fp": 1, "fn": 0}


def test_higher_score_claims_the_box_first() -> None:
    frame = EvalFrame(np.zeros((1, 1, 3), np.uint8), [_gt(1, "car", (0, 0, 100, 50))], [], "t", 0)
    c = match_frame([_det("car", (0, 0, 60, 50), 0.3), _det("car", (0, 0, 100, 50), 0.9)], frame)
    assert c["car"] == {"tp": 1, "fp": 1, "fn": 0}


def test_benchmark_camera_reports_both_paths(sim_model_onnx: Path) -> None:
    out = benchmark_camera(sim_model_onnx, n_frames=6, eval_frames=4, n_images=2, warmup=1)
    assert out["runtime"] == "onnxruntime"
    for path in ("bare_predict", "camera_detector"):
        assert out[path]["median_ms"] > 0 and out[path]["p99_ms"] >= out[path]["median_ms"]
    assert out["overhead_ratio_median"] > 0
    acc = out["accuracy"]
    assert acc["n_frames"] == 4 and set(acc["overall"]) >= {"recall", "precision", "tp"}
