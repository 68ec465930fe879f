"""Annotated images for people: 2D detections, projected 3D boxes, track ids."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# One colour per class (RGB), so a glance tells cars from pedestrians.
CLASS_COLOURS_RGB: dict[str, tuple[int, int, int]] = {
    "car": (0, 200, 255),
    "truck": (255, 160, 0),
    "pedestrian": (255, 60, 60),
    "cyclist": (80, 255, 80),
}
_OTHER_RGB = (230, 230, 230)

# Box edges as corner index pairs: bottom face, top face, verticals.
_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
          (0, 4), (1, 5), (2, 6), (3, 7)]


def to_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """A writable RGB copy of an rgb8 / bgr8 / mono8 image."""
    if encoding == "bgr8":
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if encoding == "mono8" or image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image.copy()


def _label(canvas: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int]) -> None:
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    y = max(y, h + 4)
    cv2.rectangle(canvas, (x, y - h - 4), (x + w + 4, y), colour, -1)
    cv2.putText(canvas, text, (x + 2, y - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)


def draw_detections(image: np.ndarray, encoding: str, detections: Sequence) -> np.ndarray:
    """RGB image with each detection's box, class and score (Detection2D-like items)."""
    canvas = to_rgb(image, encoding)
    for det in detections:
        x0, y0, x1, y1 = (int(round(v)) for v in det.box_px)
        colour = CLASS_COLOURS_RGB.get(det.class_name, _OTHER_RGB)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, 2)
        _label(canvas, f"{det.class_name} {det.score:.2f}", x0, y0, colour)
    return canvas


def draw_projected_boxes(canvas: np.ndarray, corners_px: Sequence[np.ndarray | None],
                         labels: Sequence[str], class_names: Sequence[str]) -> np.ndarray:
    """Draw 3D boxes given their 8 projected corners (None: not in view), in place."""
    for corners, label, class_name in zip(corners_px, labels, class_names, strict=True):
        if corners is None:
            continue
        colour = CLASS_COLOURS_RGB.get(class_name, _OTHER_RGB)
        pts = np.round(corners).astype(int)
        for a, b in _EDGES:
            cv2.line(canvas, tuple(pts[a]), tuple(pts[b]), colour, 1, cv2.LINE_AA)
        top = pts[:, 1].argmin()
        _label(canvas, label, int(pts[top, 0]), int(pts[top, 1]), colour)
    return canvas
