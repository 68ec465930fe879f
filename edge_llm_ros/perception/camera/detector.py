"""2D object detection on camera images with an Ultralytics YOLO model (or MB3-CenterNet).

The model file picks the runtime, so the same code serves a laptop, CI and a
vehicle: `.pt` runs on PyTorch, `.onnx` on ONNX Runtime, `.engine` on TensorRT
(built on the target GPU by `engine.build_engine`). Ultralytics does the
letterboxing, inference and NMS for all three. A `.json` is a TensorFlow.js
MB3-CenterNet graph model (COCO; `centernet`), run on the CPU with torch, for machines
that cannot download Ultralytics weights. This module adds what a ROS
node needs around it: image decoding from raw `sensor_msgs/Image` bytes
without cv_bridge, clear errors for bad models and images, class renaming
(a COCO-trained model's names onto this package's classes by default, see
`coco`) and per-stage timing.

Ultralytics is imported lazily and offline (see `ultralytics_env`), so
importing this module is cheap and never touches the network.
One `CameraDetector` per thread: Ultralytics predictors are not thread-safe.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_llm_ros.params.specs import default_of
from edge_llm_ros.perception.camera.coco import (
    COCO_CLASS_MAP,
    is_coco_names,
    map_coco_detections,
    suppress_renamed,
)
from edge_llm_ros.perception.camera.model_source import ModelLoadError
from edge_llm_ros.perception.camera.ultralytics_env import ultralytics
from edge_llm_ros.types import Detection2D


def _d(name: str) -> Any:
    """The camera_detector spec's default of a parameter (declared once, there)."""
    return default_of("camera_detector", name)


def class_map_from(entries: list[str]) -> dict[str, str] | None:
    """["person:pedestrian", ...] -> {"person": "pedestrian"}; empty -> None (keep all).
    ValueError names a malformed entry."""
    if not entries:
        return None
    mapping = {}
    for entry in entries:
        source, sep, target = entry.partition(":")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"class_map entry {entry!r} must be 'model_class:our_class'")
        mapping[source.strip()] = target.strip()
    return mapping


def detector_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
    """`CameraDetector` keyword arguments from a camera_detector node's parameters, so the
    node and the offline tools build the same detector."""
    return {"conf_threshold": float(params["conf_threshold"]),
            "iou_threshold": float(params["iou_threshold"]),
            "imgsz": int(params["imgsz"]) or None, "device": str(params["device"]),
            "class_map": class_map_from(list(params["class_map"])),
            "max_det": int(params["max_detections"])}

SUPPORTED_ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "mono8": 1}  # encoding: channels
RUNTIMES: dict[str, str] = {".pt": "pytorch", ".onnx": "onnxruntime", ".engine": "tensorrt",
                            ".json": "tfjs"}

class ImageError(ValueError):
    """Image data that cannot be an image of the stated size (empty, too short, wrong shape)."""


class ImageEncodingError(ImageError):
    """An image encoding the detector does not take (yuv422, 16UC1, bayer_*, ...)."""


@dataclass
class CameraDetections:
    """Result of one `detect` call; `timing_ms` per stage plus "total"."""

    detections: list[Detection2D]
    timing_ms: dict[str, float]
    image_width_px: int
    image_height_px: int
    inference_size: tuple[int, int]  # (height, width) of the network input for this image
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.detections)


# ------------------------------------------------------------------ images


def _check_encoding(encoding: str) -> int:
    channels = SUPPORTED_ENCODINGS.get(encoding)
    if channels is None:
        raise ImageEncodingError(
            f"unsupported image encoding '{encoding}': the camera detector takes "
            f"{', '.join(SUPPORTED_ENCODINGS)} (convert e.g. yuv422, bayer_* or 16UC1 "
            "images to one of these before detection)")
    return channels


def image_from_msg_bytes(data: bytes | bytearray | memoryview | np.ndarray, width: int,
                         height: int, step: int, encoding: str, is_bigendian: bool = False
                         ) -> np.ndarray:
    """A `sensor_msgs/Image` payload as an (H,W,3) or (H,W) uint8 array, without copying.

    The array is a view of `data` in the message's own channel order (rgb8
    stays RGB): with `step == width * channels` it is C-contiguous; with
    padded rows (`step` larger) it is a strided view that skips the padding,
    still without a copy (OpenCV, torch and Ultralytics accept such rows).
    The view is read-only when `data` is `bytes`. `is_bigendian` does not
    matter for 8-bit encodings and is accepted for the message's sake.
    """
    del is_bigendian  # one byte per channel: byte order is moot
    channels = _check_encoding(encoding)
    if width <= 0 or height <= 0:
        raise ImageError(f"image size must be positive, got {width}x{height}")
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageError(f"step {step} is shorter than a row of {width} px x {channels} channel(s) "
                         f"({row_bytes} bytes) for encoding '{encoding}'")
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else data.reshape(-1).view(np.uint8)
    # The last row needs no padding after it, but messages normally carry it.
    needed = step * (height - 1) + row_bytes
    if buf.size == 0:
        raise ImageError(f"image data is empty (expected {step * height} bytes for "
                         f"{width}x{height} '{encoding}', step {step})")
    if buf.size < needed or buf.size > step * height:
        raise ImageError(f"image data has {buf.size} bytes, expected {step * height} for "
                         f"{width}x{height} '{encoding}' with step {step}")
    if step == row_bytes:
        image = buf[:height * row_bytes].reshape(height, width, channels)
    else:
        image = np.lib.stride_tricks.as_strided(
            buf, shape=(height, width, channels), strides=(step, channels, 1), writeable=False)
    return image[:, :, 0] if channels == 1 else image


def _to_bgr(image: np.ndarray, encoding: str) -> np.ndarray:
    """The (H,W,3) BGR uint8 image Ultralytics expects; a copy only for rgb8 and mono8."""
    channels = _check_encoding(encoding)
    if not isinstance(image, np.ndarray):
        raise ImageError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"image must be uint8 for '{encoding}', got {image.dtype}")
    if channels == 1 and image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    expected = "(H, W)" if channels == 1 else "(H, W, 3)"
    if (channels == 1 and image.ndim != 2) or (channels == 3 and (image.ndim != 3
                                                                  or image.shape[2] != 3)):
        raise ImageError(f"image of shape {image.shape} does not match '{encoding}' "
                         f"(expected {expected})")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageError(f"image is empty (shape {image.shape})")
    import cv2

    if encoding == "bgr8":  # padded rows pass as they are; odd pixel strides are packed
        return image if image.strides[1:] == (3, 1) else np.ascontiguousarray(image)
    if encoding == "rgb8":
        return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


# ------------------------------------------------------------------ models


def runtime_for(model_path: str | Path) -> str:
    """'pytorch' | 'onnxruntime' | 'tensorrt' | 'tfjs' from the file's extension, else
    ModelLoadError."""
    suffix = Path(model_path).suffix.lower()
    if suffix not in RUNTIMES:
        raise ModelLoadError(
            f"unsupported model file '{model_path}': expected .pt (PyTorch), .onnx (ONNX Runtime), "
            f".engine (TensorRT) or .json (a TF.js MB3-CenterNet graph model), got "
            f"'{suffix or 'no extension'}'")
    return RUNTIMES[suffix]


def load_yolo(model_path: str | Path) -> Any:
    """An Ultralytics YOLO for a .pt/.onnx/.engine file; errors as ModelLoadError.

    Only a .pt is read here; ONNX Runtime and TensorRT open theirs at the first
    prediction, so `CameraDetector` runs one on a blank image at start-up to
    surface a corrupt file there and not on the first camera frame.
    """
    path = Path(model_path)
    runtime = runtime_for(path)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}" if not path.exists()
                             else f"model path is not a file: {path}")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"model file is empty: {path}")
    YOLO = ultralytics().YOLO
    try:
        model = YOLO(str(path), task="detect")
    except Exception as exc:  # torch.load / pickle raise many types on junk files
        raise ModelLoadError(f"cannot load '{path}' as an Ultralytics {runtime} model: "
                             f"{type(exc).__name__}: {exc}") from exc
    if runtime == "pytorch" and getattr(model, "task", "detect") != "detect":
        raise ModelLoadError(f"'{path}' is a '{model.task}' model; the camera detector needs "
                             "a detection ('detect') model")
    return model


class CameraDetector:
    """YOLO detector; the model file's extension picks PyTorch, ONNX Runtime or TensorRT
    (a .json: the TF.js MB3-CenterNet, CPU only, COCO names).

    `imgsz=None` uses the model's own input size (the `imgsz` recorded in a
    .pt, 640 for the shipped one; the fixed size of an .onnx/.engine).
    `class_map` renames model classes; with a map, classes it does not name
    are dropped. Without one, a model whose names are COCO's (`coco.is_coco_names`)
    gets the COCO mapping with riders merged into cyclists
    (`coco.map_coco_detections`), so it reports only road users; any other model
    keeps its own names. `class_mapping` says which applies. A map naming no
    class of the model is an error; names it has in excess are listed in
    `class_map_unused` (a node may warn about typos).
    `device` is "cpu", "cuda:0" or 0.
    """

    def __init__(self, model_path: str | Path,
                 conf_threshold: float = _d("conf_threshold"),
                 iou_threshold: float = _d("iou_threshold"),
                 imgsz: int | tuple[int, int] | None = _d("imgsz") or None,
                 device: str | int = _d("device"), class_map: Mapping[str, str] | None = None,
                 max_det: int = _d("max_detections"), warmup: bool = True) -> None:
        if not 0.0 <= conf_threshold <= 1.0 or not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f"conf_threshold and iou_threshold must be in [0, 1], got "
                             f"{conf_threshold}, {iou_threshold}")
        self.model_path = Path(model_path)
        self.runtime = runtime_for(self.model_path)
        if self.runtime == "tensorrt" and str(device).lower() == "cpu":
            raise ModelLoadError(f"'{self.model_path}' is a TensorRT engine: it needs a GPU "
                                 "device (e.g. device='cuda:0'), not 'cpu'")
        self.conf_threshold = float(conf_threshold)
        self.iou_threshold = float(iou_threshold)
        self.device = device
        self.max_det = int(max_det)
        self.class_map = dict(class_map) if class_map is not None else None
        self.merge_riders = False  # the default COCO mapping (set once the names are known)
        if self.runtime == "tfjs":
            from edge_llm_ros.perception.camera.centernet import (
                CenterNetConfig,
                CenterNetDetector,
            )

            if str(device).lower() != "cpu":
                raise ModelLoadError(f"'{self.model_path}' is a TF.js graph model: it runs on "
                                     f"the CPU (device='cpu'), not {device!r}")
            self._model = CenterNetDetector(self.model_path, CenterNetConfig(
                conf_threshold=self.conf_threshold, iou_threshold=self.iou_threshold,
                max_peaks=self.max_det))
        else:
            self._model = load_yolo(self.model_path)
        self._imgsz = imgsz
        self.names: dict[int, str] = {}
        self.inference_size: tuple[int, int] = (0, 0)  # for a 640x480 frame; see input_size()
        self._input_sizes: dict[tuple[int, int], tuple[int, int]] = {}
        self.class_map_unused: list[str] = []
        if warmup:
            self._warmup()

    def predict_kwargs(self) -> dict[str, Any]:
        """The arguments given to Ultralytics' `predict` (the benchmark's bare call uses them)."""
        kwargs: dict[str, Any] = {"conf": self.conf_threshold, "iou": self.iou_threshold,
                                  "device": self.device, "max_det": self.max_det,
                                  "verbose": False}
        if self._imgsz is not None:
            kwargs["imgsz"] = self._imgsz
        return kwargs

    @property
    def model(self) -> Any:
        """The underlying `ultralytics.YOLO` (for benchmarks and advanced use)."""
        return self._model

    def close(self) -> None:
        """Drop the model (a lifecycle node's deactivate): GPU memory is given back."""
        self._model = None
        if str(self.device).lower() != "cpu":
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def _warmup(self) -> None:
        """One prediction on a blank frame: opens the runtime, learns names and input size."""
        blank = np.zeros((480, 640, 3), dtype=np.uint8)
        try:
            if self.runtime == "tfjs":
                self._model.detect_bgr(blank)
            else:
                self._model.predict(blank, **self.predict_kwargs())
        except Exception as exc:
            raise ModelLoadError(f"cannot run '{self.model_path}' with {self.runtime} on "
                                 f"device {self.device!r}: {type(exc).__name__}: {exc}") from exc
        self._after_setup()

    def _after_setup(self) -> None:
        names = (self._model.names if self.runtime == "tfjs"
                 else self._model.predictor.model.names)
        self.names = {int(k): str(v) for k, v in names.items()}
        self.inference_size = self.input_size(480, 640)
        if self.class_map is None and is_coco_names(self.names.values()):
            self.class_map = dict(COCO_CLASS_MAP)
            self.merge_riders = True
        if self.class_map is not None:
            unknown = sorted(set(self.class_map) - set(self.names.values()))
            self.class_map_unused = unknown
            if unknown and len(unknown) == len(self.class_map):
                raise ModelLoadError(
                    f"class_map names {unknown}, none of which the model knows "
                    f"(its classes: {sorted(set(self.names.values()))})")

    @property
    def class_mapping(self) -> str:
        """What names detections get: "coco" (the default COCO mapping, riders merged),
        "class_map" (renamed as given) or "model" (the model's own names)."""
        if self.merge_riders:
            return "coco"
        return "model" if self.class_map is None else "class_map"

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the network input for an image of this size.

        A .pt letterboxes to the smallest stride multiple (a 640x480 frame at
        imgsz 640 runs at 480x640); exported models run at their fixed size.
        Worked out once per image size by Ultralytics' own letterbox.
        """
        key = (int(height), int(width))
        if self.runtime == "tfjs":
            return self._model.input_hw  # each square tile is resized to it
        if key not in self._input_sizes:
            blank = np.zeros((*key, 3), dtype=np.uint8)
            shape = self._model.predictor.pre_transform([blank])[0].shape
            self._input_sizes[key] = (int(shape[0]), int(shape[1]))
        return self._input_sizes[key]

    def _map(self, class_id: int) -> str | None:
        name = self.names.get(class_id, str(class_id))
        if self.class_map is None:
            return name
        return self.class_map.get(name)

    def detect(self, image: np.ndarray, encoding: str = "bgr8") -> CameraDetections:
        """Detections in one image ((H,W,3) rgb8/bgr8 or (H,W) mono8, uint8)."""
        if self._model is None:
            raise RuntimeError("CameraDetector.detect() after close()")
        t0 = time.perf_counter()
        bgr = _to_bgr(image, encoding)
        t1 = time.perf_counter()
        if self.runtime == "tfjs":
            return self._detect_tfjs(bgr, t0, t1)
        results = self._model.predict(bgr, **self.predict_kwargs())
        t2 = time.perf_counter()
        if not self.names:
            self._after_setup()
        result = results[0]
        out: list[Detection2D] = []
        boxes = result.boxes
        if boxes is not None and len(boxes):
            xyxy = boxes.xyxy.cpu().numpy().astype(float)
            scores = boxes.conf.cpu().numpy().astype(float)
            classes = boxes.cls.cpu().numpy().astype(int)
            for (x0, y0, x1, y1), score, cls in zip(xyxy, scores, classes, strict=True):
                name = (self.names.get(int(cls), str(int(cls))) if self.merge_riders
                        else self._map(int(cls)))
                if name is not None:
                    out.append(Detection2D(int(cls), name, float(score),
                                           (float(x0), float(y0), float(x1), float(y1))))
            if self.merge_riders:
                out = map_coco_detections(out, self.class_map or COCO_CLASS_MAP)
        t3 = time.perf_counter()
        speed = result.speed or {}
        timing = {
            "convert_in": (t1 - t0) * 1e3,
            "preprocess": float(speed.get("preprocess") or 0.0),
            "inference": float(speed.get("inference") or 0.0),
            "postprocess": float(speed.get("postprocess") or 0.0),
            "predict": (t2 - t1) * 1e3,
            "convert_out": (t3 - t2) * 1e3,
            "total": (t3 - t0) * 1e3,
        }
        h, w = bgr.shape[:2]
        return CameraDetections(out, timing, int(w), int(h), self.input_size(h, w),
                                {"runtime": self.runtime})

    def _detect_tfjs(self, bgr: np.ndarray, t0: float, t1: float) -> CameraDetections:
        raw = self._model.detect_bgr(bgr)
        t2 = time.perf_counter()
        if self.merge_riders:
            out = map_coco_detections(raw, self.class_map or COCO_CLASS_MAP)
        else:
            out = [Detection2D(d.class_id, name, d.score, d.box_px) for d in raw
                   if (name := self._map(d.class_id)) is not None]
        out = suppress_renamed(out, self.iou_threshold)  # bus and truck at one peak: one truck
        t3 = time.perf_counter()
        timing = {"convert_in": (t1 - t0) * 1e3, "preprocess": 0.0,
                  "inference": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3,
                  "predict": (t2 - t1) * 1e3, "convert_out": (t3 - t2) * 1e3,
                  "total": (t3 - t0) * 1e3}
        h, w = bgr.shape[:2]
        return CameraDetections(out, timing, int(w), int(h), self.input_size(h, w),
                                {"runtime": self.runtime})
