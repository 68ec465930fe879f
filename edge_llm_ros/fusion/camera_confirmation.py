"""Which lidar objects the camera vouches for, and which it rules out.

Why: on real scans most lidar clusters in front of the car are walls, poles, bushes
and pieces of parked cars; shape alone cannot tell them from people and bikes (the
labelled KITTI frames: 4 of 10 reported objects in view were not road users). A camera
that names road users can: in the part of its view where it sees well, a cluster that
no camera box of a compatible class covers is dropped, as Autoware's region-of-interest
cluster fusion removes unmatched clusters. Two guards keep that safe: what lies in the
ego corridor is always kept (a camera miss is no licence to drive into something), and
beyond `camera_confirm_range_m` (where small road users are a few pixels) nothing is
dropped. Nor is what the camera could not have seen: an object hidden behind a nearer
one in the image.

A cluster is covered by a box when their IoU reaches the association's threshold, or
when most of one box lies inside the other: a fragment of a car or a cyclist split
from the bicycle projects into a larger camera box; a person half hidden behind a car
is a small camera box inside the cluster's. Coverage may be many-to-one; the class
still comes from the one-to-one association.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from edge_llm_ros.fusion.association import class_compatibility, iou_matrix, overlap_areas


@dataclass(frozen=True)
class ConfirmationConfig:
    range_m: float  # 0: off; forward distance (lidar/base x) up to which the camera rules
    corridor_half_m: float  # |lateral| at or under which nothing is dropped
    min_iou: float  # as the association's
    min_inside: float = 0.6  # share of the smaller box inside the larger


@dataclass(frozen=True)
class Confirmation:
    covered: np.ndarray  # (N,) bool: a compatible camera box covers the object
    covering_class: list[str | None]  # the best covering box's class
    drop: np.ndarray  # (N,) bool: in the ruled part of the view, uncovered, off the corridor

    def relabel(self, classes: list[str], paired: np.ndarray) -> None:
        """A covered object the one-to-one association left unpaired takes its cover's
        class (in place): a car fragment under a car box is a car."""
        for i in np.flatnonzero(self.covered & ~paired):
            classes[i] = self.covering_class[i] or classes[i]


def inside_share(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """(N,M) share of each inner box's area that lies inside each outer box."""
    inter, area, _ = overlap_areas(inner, outer)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(area[:, None] > 0.0, inter / area[:, None], 0.0)
    return np.nan_to_num(share, nan=0.0)


def confirm_with_camera(projected_boxes: np.ndarray, lidar_classes: Sequence[str],
                        forward_m: np.ndarray, lateral_m: np.ndarray,
                        detection_boxes: np.ndarray, detection_classes: Sequence[str],
                        config: ConfirmationConfig,
                        groups: Iterable[Iterable[str]] = ()) -> Confirmation:
    """projected_boxes (N,4), NaN rows where the object is not in the image."""
    pb = np.asarray(projected_boxes, dtype=float).reshape(-1, 4)
    db = np.asarray(detection_boxes, dtype=float).reshape(-1, 4)
    n = len(pb)
    covered = np.zeros(n, dtype=bool)
    covering: list[str | None] = [None] * n
    if n and len(db):
        kwargs = {"groups": tuple(groups)} if groups else {}
        compatible = class_compatibility(lidar_classes, detection_classes, **kwargs)
        iou = iou_matrix(pb, db)
        share = np.maximum(inside_share(pb, db), inside_share(db, pb).T)
        ok = compatible & ((iou >= config.min_iou) | (share >= config.min_inside))
        covered = ok.any(axis=1)
        best = np.argmax(np.where(ok, iou + share, -1.0), axis=1)
        covering = [detection_classes[int(best[i])] if covered[i] else None for i in range(n)]
    visible = ~np.isnan(pb).any(axis=1)
    forward = np.asarray(forward_m, dtype=float).reshape(n)
    lateral = np.asarray(lateral_m, dtype=float).reshape(n)
    ruled = (visible & (config.range_m > 0.0) & (forward <= config.range_m)
             & (np.abs(lateral) > config.corridor_half_m))
    return Confirmation(covered, covering, ruled & ~covered & ~hidden_from_camera(
        pb, np.hypot(forward, lateral), config.min_inside))


def hidden_from_camera(projected_boxes: np.ndarray, distance_m: np.ndarray,
                       min_inside: float, depth_gap_m: float = 1.0) -> np.ndarray:
    """(N,) bool: most of the object's image box lies behind a nearer object's, so the
    camera could not have seen it (a person behind a parked car, visible to the roof-
    mounted lidar): the camera's silence is no evidence against it."""
    pb = np.asarray(projected_boxes, dtype=float).reshape(-1, 4)
    if len(pb) < 2:
        return np.zeros(len(pb), dtype=bool)
    share = inside_share(pb, pb)
    nearer = distance_m[None, :] < distance_m[:, None] - depth_gap_m
    return (np.where(nearer, share, 0.0) >= min_inside).any(axis=1)
