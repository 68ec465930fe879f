"""The camera image as a person checks it: 2D detections, the fused 3D boxes projected
with the calibration, and the decision written across the top."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from edge_llm_ros.fusion.projection import box_corners, project_points
from edge_llm_ros.perception.draw import CLASS_COLOURS_RGB, draw_projected_boxes, to_rgb
from edge_llm_ros.viz.boxes import OTHER_RGB, VizBox

_CHANNELS = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "bgra8": 4}
_BANNER_RGB = (20, 20, 20)


def image_to_rgb(message: Any) -> np.ndarray:
    """An (H, W, 3) uint8 RGB copy of a sensor_msgs/Image (rgb8, bgr8, mono8, rgba8, bgra8);
    ValueError names an encoding it cannot show."""
    encoding = str(message.encoding)
    channels = _CHANNELS.get(encoding)
    if channels is None:
        raise ValueError(f"image encoding '{encoding}' is not shown (supported: "
                         f"{', '.join(_CHANNELS)})")
    height, width, step = int(message.height), int(message.width), int(message.step)
    data = np.frombuffer(bytes(message.data), dtype=np.uint8)
    if step < width * channels or data.size < step * height:
        raise ValueError(f"image {width}x{height} {encoding}: step {step} and {data.size} "
                         "bytes of data do not hold it")
    rows = data[: step * height].reshape(height, step)[:, : width * channels]
    pixels = rows.reshape(height, width, channels) if channels > 1 else rows
    if encoding == "rgba8":
        return np.ascontiguousarray(pixels[..., :3])
    if encoding == "bgra8":
        return np.ascontiguousarray(pixels[..., 2::-1])
    return to_rgb(pixels, encoding)


def draw_detection_boxes(canvas: np.ndarray, detections: Sequence[Any]) -> None:
    """Each Detection2D's box with class and score, in place."""
    for det in detections:
        x0, y0 = int(round(float(det.x_min_px))), int(round(float(det.y_min_px)))
        x1, y1 = int(round(float(det.x_max_px))), int(round(float(det.y_max_px)))
        colour = CLASS_COLOURS_RGB.get(str(det.class_name), OTHER_RGB)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, 2)
        text = f"{det.class_name} {float(det.score):.2f}"
        cv2.putText(canvas, text, (x0 + 2, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    colour, 1, cv2.LINE_AA)


def projected_corners(boxes: Sequence[VizBox], T_camera_from: Mapping[str, np.ndarray],
                      K: np.ndarray, width_px: int, height_px: int) -> list[np.ndarray | None]:
    """Each box's 8 corners in pixels, or None when it cannot be drawn: a frame with no
    known transform to the camera, a corner behind the camera, or wholly off the image."""
    out: list[np.ndarray | None] = []
    for box in boxes:
        T = T_camera_from.get(box.frame_id)
        if T is None:
            out.append(None)
            continue
        corners = box_corners(np.array(box.center_m), np.array(box.size_m),
                              np.array([box.yaw_rad]))[0]
        uv, in_front = project_points(corners, T, K)
        off_image = (uv[:, 0].max() < 0 or uv[:, 0].min() > width_px or uv[:, 1].max() < 0
                     or uv[:, 1].min() > height_px) if bool(np.all(in_front)) else True
        out.append(None if off_image else uv)
    return out


def wrap(text: str, width_px: int, scale: float) -> list[str]:
    """`text` in lines no wider than `width_px` at this font scale (words kept whole)."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        fits = cv2.getTextSize(candidate, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] <= width_px
        if lines and fits:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def draw_banner(canvas: np.ndarray, lines: Sequence[str]) -> None:
    """Text lines, wrapped to the image's width, on a dark strip across its top, in place."""
    scale = max(0.4, canvas.shape[1] / 1400.0)
    rows = [row for line in lines for row in wrap(line, canvas.shape[1] - 12, scale)]
    if not rows:
        return
    (_, line_h), _ = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    pitch = line_h + 8
    cv2.rectangle(canvas, (0, 0), (canvas.shape[1], pitch * len(rows) + 4), _BANNER_RGB, -1)
    for i, row in enumerate(rows):
        cv2.putText(canvas, row, (6, pitch * (i + 1) - 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)


def annotate(image_rgb: np.ndarray, detections: Sequence[Any] = (),
             boxes: Sequence[VizBox] = (), T_camera_from: Mapping[str, np.ndarray] | None = None,
             K: np.ndarray | None = None, banner: Sequence[str] = ()) -> np.ndarray:
    """A new RGB image: detections, boxes projected when K and the boxes' frames' transforms
    to the camera are known, and banner lines on top."""
    canvas = np.ascontiguousarray(image_rgb).copy()
    draw_detection_boxes(canvas, detections)
    if K is not None and T_camera_from and boxes:
        height, width = canvas.shape[:2]
        corners = projected_corners(boxes, T_camera_from, K, width, height)
        draw_projected_boxes(canvas, corners, [f"#{b.object_id} {b.class_name}" for b in boxes],
                             [b.class_name for b in boxes])
    draw_banner(canvas, banner)
    return canvas
