"""Camera <-> lidar association: IoU, gating, class compatibility, optimal assignment."""

from __future__ import annotations

import numpy as np
import pytest

from edge_llm_ros.fusion.association import (
    associate,
    class_compatibility,
    fuse_labels,
    iou_matrix,
    normalize_class,
)
from edge_llm_ros.fusion.config import DEFAULT_CLASS_ALIASES


def test_iou_by_hand() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]])
    iou = iou_matrix(a, b)
    np.testing.assert_allclose(iou, [[50 / 150, 0], [50 / 150, 0], [0, 0]])


def test_correct_pairs_in_any_order() -> None:
    lidar = np.array([[0, 0, 10, 10], [100, 100, 140, 160], [300, 50, 380, 120]], float)
    order = [2, 0, 1]
    dets = lidar[order] + 1.5  # slightly shifted, shuffled
    res = associate(lidar, ["car"] * 3, dets, ["car"] * 3)
    pairs = {int(i): int(j) for i, j in res.matches}
    assert pairs == {2: 0, 0: 1, 1: 2}
    assert len(res.unmatched_lidar) == 0 and len(res.unmatched_detections) == 0
    assert (res.iou > 0.5).all()


def test_gating_by_iou() -> None:
    lidar = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], float)
    dets = np.array([[7, 0, 17, 10], [51, 51, 61, 61]], float)  # IoU 0.18 and 0.68
    res = associate(lidar, ["car", "car"], dets, ["car", "car"], min_iou=0.3)
    assert res.matches.tolist() == [[1, 1]]
    assert res.unmatched_lidar.tolist() == [0] and res.unmatched_detections.tolist() == [0]
    # Lidar boxes out of view (NaN) never match.
    res = associate(np.full((1, 4), np.nan), ["car"], dets, ["car", "car"])
    assert len(res.matches) == 0


def test_class_compatibility() -> None:
    comp = class_compatibility(["car", "truck", "pedestrian", "unknown", "cyclist"],
                               ["car", "pedestrian", "person", "bus"])
    assert comp.tolist() == [
        [True, False, False, True],    # car: car, bus (vehicle family)
        [True, False, False, True],    # truck
        [False, True, True, False],    # pedestrian: pedestrian, person
        [True, True, True, True],      # unknown: anything
        [False, True, True, False],    # cyclist: vulnerable road users
    ]
    box = np.array([[0, 0, 10, 10]], float)
    assert len(associate(box, ["car"], box, ["pedestrian"]).matches) == 0
    assert len(associate(box, ["truck"], box, ["car"]).matches) == 1
    assert len(associate(box, ["unknown"], box, ["pedestrian"]).matches) == 1


def test_hungarian_beats_greedy() -> None:
    # Greedy by best IoU may give D1 to B (tie) and leave A alone; the optimum pairs both.
    lidar = np.array([[0, 0, 10, 10], [6, 0, 16, 10]], float)
    dets = np.array([[3, 0, 13, 10], [10, 0, 20, 10]], float)
    res = associate(lidar, ["car", "car"], dets, ["car", "car"], min_iou=0.3)
    assert sorted(res.matches.tolist()) == [[0, 0], [1, 1]]


def test_empty_inputs() -> None:
    res = associate(np.zeros((0, 4)), [], np.array([[0, 0, 1, 1]], float), ["car"])
    assert res.matches.shape == (0, 2) and res.unmatched_detections.tolist() == [0]
    res = associate(np.array([[0, 0, 1, 1]], float), ["car"], np.zeros((0, 4)), [])
    assert res.unmatched_lidar.tolist() == [0]


def test_camera_class_wins_and_confidence_fuses() -> None:
    classes, conf = fuse_labels(["truck", "unknown", "car"], np.array([0.6, 0.3, 0.5]),
                                ["car", "pedestrian"], np.array([0.8, 0.9]),
                                np.array([[0, 0], [1, 1]]))
    assert classes == ["car", "pedestrian", "car"]
    np.testing.assert_allclose(conf, [1 - 0.4 * 0.2, 1 - 0.7 * 0.1, 0.5])
    assert normalize_class(" Person", DEFAULT_CLASS_ALIASES) == "pedestrian"
    assert normalize_class("car", DEFAULT_CLASS_ALIASES) == "car"
    assert pytest.approx(conf[0]) == 0.92
