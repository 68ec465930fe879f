"""Lidar objects to camera detections: IoU in the image, class compatibility, Hungarian.

The lidar gives where (metric position, size); the camera gives what (its
class is far more reliable than a class guessed from a cluster's size). A
projected lidar box and a 2D detection are paired when their image boxes
overlap enough and their classes could be the same thing; the optimal
one-to-one assignment (Hungarian) avoids the greedy mistakes that happen in
crowds, where one big box overlaps several small ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

# Classes that may be the same physical object seen by the two sensors. A lidar
# size guess confuses car/truck and pedestrian/cyclist; a motorcycle can pass
# for either family.
DEFAULT_CLASS_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"car", "truck", "bus", "van", "trailer", "vehicle", "motorcycle"}),
    frozenset({"pedestrian", "person", "cyclist", "bicycle", "motorcycle", "rider"}),
)
# Classes that carry no information: compatible with anything.
WILDCARD_CLASSES = frozenset({"", "unknown", "object"})

_BIG = 1e6


@dataclass
class AssociationResult:
    """Index pairs (lidar, detection) and what stayed unpaired on each side."""

    matches: np.ndarray  # (K,2) int: lidar index, detection index
    iou: np.ndarray  # (K,) IoU of each pair
    unmatched_lidar: np.ndarray  # (N-K,) int
    unmatched_detections: np.ndarray  # (M-K,) int


def overlap_areas(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,M) intersection areas of boxes a (N,4) and b (M,4), x_min, y_min, x_max, y_max,
    and the boxes' own areas (N,), (M,)."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    return (inter, (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]),
            (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,M) intersection over union of boxes a (N,4) and b (M,4), x_min, y_min, x_max, y_max.

    NaN boxes (not visible) get IoU 0.
    """
    inter, area_a, area_b = overlap_areas(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0.0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0)


def _group_masks(names: Sequence[str], groups: Sequence[Iterable[str]]) -> np.ndarray:
    """Bit mask of the groups each class belongs to; wildcards belong to all."""
    cache: dict[str, int] = {}
    every = (1 << len(groups)) - 1
    out = np.empty(len(names), dtype=np.int64)
    for i, name in enumerate(names):
        m = cache.get(name)
        if m is None:
            key = name.lower()
            m = every if key in WILDCARD_CLASSES else sum(
                1 << g for g, members in enumerate(groups) if key in members)
            cache[name] = m
        out[i] = m
    return out


def class_compatibility(lidar_classes: Sequence[str], detection_classes: Sequence[str],
                        groups: Sequence[Iterable[str]] = DEFAULT_CLASS_GROUPS) -> np.ndarray:
    """(N,M) bool: may lidar object i and detection j be the same object?

    Same name, a wildcard ("unknown") on either side, or a shared group.
    """
    groups = [frozenset(g) for g in groups]
    ml = _group_masks(lidar_classes, groups)
    md = _group_masks(detection_classes, groups)
    codes: dict[str, int] = {}
    cl = np.array([codes.setdefault(c.lower(), len(codes)) for c in lidar_classes], dtype=np.int64)
    cd = np.array([codes.setdefault(c.lower(), len(codes)) for c in detection_classes],
                  dtype=np.int64)
    same = cl[:, None] == cd[None, :]
    return same | ((ml[:, None] & md[None, :]) != 0)


def associate(projected_boxes: np.ndarray, lidar_classes: Sequence[str],
              detection_boxes: np.ndarray, detection_classes: Sequence[str],
              min_iou: float = 0.3,
              groups: Sequence[Iterable[str]] = DEFAULT_CLASS_GROUPS) -> AssociationResult:
    """Pair projected lidar boxes (N,4; NaN rows = not in view) with detection boxes (M,4).

    Cost is 1 - IoU; pairs below `min_iou` or with incompatible classes are
    never made (gating), so a pair is only what both sensors plausibly agree on.
    """
    pb = np.asarray(projected_boxes, dtype=float).reshape(-1, 4)
    db = np.asarray(detection_boxes, dtype=float).reshape(-1, 4)
    n, m = len(pb), len(db)
    if n == 0 or m == 0:
        return AssociationResult(np.empty((0, 2), dtype=np.int64), np.empty(0),
                                 np.arange(n), np.arange(m))
    iou = iou_matrix(pb, db)
    allowed = (iou >= min_iou) & class_compatibility(lidar_classes, detection_classes, groups)
    rows_any, cols_any = allowed.any(axis=1), allowed.any(axis=0)
    matches = np.empty((0, 2), dtype=np.int64)
    if rows_any.any():
        # Solve only the rows/columns that have a candidate: smaller problem, same answer.
        ri, ci = np.flatnonzero(rows_any), np.flatnonzero(cols_any)
        sub_allowed = allowed[np.ix_(ri, ci)]
        cost = np.where(sub_allowed, 1.0 - iou[np.ix_(ri, ci)], _BIG)
        r, c = linear_sum_assignment(cost)
        keep = sub_allowed[r, c]
        matches = np.column_stack([ri[r[keep]], ci[c[keep]]]).astype(np.int64)
    lidar_free = np.ones(n, dtype=bool)
    det_free = np.ones(m, dtype=bool)
    lidar_free[matches[:, 0]] = False
    det_free[matches[:, 1]] = False
    return AssociationResult(matches, iou[matches[:, 0], matches[:, 1]],
                             np.flatnonzero(lidar_free), np.flatnonzero(det_free))


def fuse_labels(lidar_classes: Sequence[str], lidar_scores: np.ndarray,
                detection_classes: Sequence[str], detection_scores: np.ndarray,
                matches: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Class and confidence of each lidar object after association.

    Matched objects take the camera's class; their confidence is the
    noisy-OR of both scores (two independent sensors agreeing an object is
    there is stronger evidence than either alone). Unmatched objects keep
    the lidar's class and score.
    """
    classes = list(lidar_classes)
    conf = np.clip(np.asarray(lidar_scores, dtype=float).copy(), 0.0, 1.0)
    if len(matches):
        li, di = matches[:, 0], matches[:, 1]
        ds = np.clip(np.asarray(detection_scores, dtype=float)[di], 0.0, 1.0)
        conf[li] = 1.0 - (1.0 - conf[li]) * (1.0 - ds)
        for i, j in zip(li.tolist(), di.tolist(), strict=True):
            classes[i] = detection_classes[j]
    return classes, conf


def normalize_class(name: str, aliases: Mapping[str, str]) -> str:
    """Lower-case class name with detector-specific aliases (COCO "person") mapped."""
    key = name.strip().lower()
    return aliases.get(key, key)
