"""camera_detector node: sensor_msgs/Image -> Detection2DArray with a YOLO
model whose file picks the runtime (.pt PyTorch, .onnx ONNX Runtime, .engine
TensorRT). Images are viewed in place (no cv_bridge); a debug image with the
boxes is rendered only while someone subscribes to it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sensor_msgs.msg import Image

from edge_llm_ros import msg
from edge_llm_ros.nodes.base import ManagedEdgeNode
from edge_llm_ros.nodes.convert import detections_to_msg, rgb_image_to_msg
from edge_llm_ros.params import ConfigError
from edge_llm_ros.paths import model_file
from edge_llm_ros.perception.camera.detector import (
    CameraDetector,
    ImageEncodingError,
    ImageError,
    ModelLoadError,
    class_map_from,
    detector_kwargs,
    image_from_msg_bytes,
)
from edge_llm_ros.perception.draw import draw_detections
from edge_llm_ros.stamps import StampGuard

DEFAULT_MODEL = "sim_detector.onnx"


def parse_class_map(entries: list[str], node_name: str) -> dict[str, str] | None:
    """["person:pedestrian", ...] -> {"person": "pedestrian"}; empty -> None (keep all)."""
    try:
        return class_map_from(entries)
    except ValueError as exc:
        raise ConfigError(f"node '{node_name}': parameter 'class_map': {exc}") from exc


class CameraDetectorNode(ManagedEdgeNode):
    """Managed: configure loads the model (building a TensorRT engine if asked),
    activate starts detecting, cleanup frees the model."""

    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        self.detector: CameraDetector | None = None
        self._image_sub = None
        super().__init__("camera_detector", node_name, **kwargs)
        # Outputs exist in every state; they publish only while active.
        self.detections_pub = self.create_output_publisher(
            msg.Detection2DArray, "perception/detections_2d", 10)
        self.debug_pub = self.create_output_publisher(Image, "perception/debug_image", 2)

    def configure_node(self) -> None:
        p = self.params
        name = self.get_name()
        model_path = Path(str(p["model_path"])) if p["model_path"] else model_file(DEFAULT_MODEL)
        device = str(p["device"])
        parse_class_map(list(p["class_map"]), name)  # names a bad entry before any build
        if p["engine.build"] or p["engine.build_only"]:
            model_path = self._engine_for(model_path, device)
            if p["engine.build_only"]:
                self.get_logger().info(f"engine ready: {model_path}; build_only: exiting")
                raise SystemExit(0)
        try:
            self.detector = CameraDetector(model_path, **detector_kwargs(p))
        except (ModelLoadError, ValueError) as exc:
            raise ConfigError(f"node '{name}': parameter 'model_path': {exc}") from exc
        self.get_logger().info(
            f"model {model_path} ({self.detector.runtime}, input "
            f"{self.detector.inference_size[1]}x{self.detector.inference_size[0]}, classes "
            f"{sorted(set(self.detector.names.values()))})")
        self.stamps = StampGuard(float(p["max_stamp_age_ms"]), float(p["max_stamp_future_ms"]))
        self._image_sub = self.create_sensor_subscription(Image, "camera/image_raw",
                                                          self.on_image)

    def release_node(self) -> None:
        if self._image_sub is not None:
            self.destroy_subscription(self._image_sub)
            self._image_sub = None
        self.detector = None  # the runtime's session and weights go with it

    def _engine_for(self, model_path: Path, device: str) -> Path:
        from edge_llm_ros.perception.camera.engine import EngineBuildError, build_engine

        p = self.params
        calibration = str(p["engine.calibration_dir"]) or None
        if model_path.suffix.lower() == ".onnx" and model_path.with_suffix(".pt").is_file():
            model_path = model_path.with_suffix(".pt")  # engines are exported from the .pt
        size = {"imgsz": int(p["imgsz"])} if int(p["imgsz"]) else {}
        try:
            return build_engine(
                model_path, precision=str(p["engine.precision"]), **size,
                calib_images_dir=calibration,
                cache_dir=str(p["engine.cache_dir"]) or None,
                device=device if device != "cpu" else "cuda:0",
                log=lambda line: self.get_logger().info(line),
            )
        except (EngineBuildError, ModelLoadError, ValueError) as exc:
            raise ConfigError(f"node '{self.get_name()}': TensorRT engine: {exc}") from exc

    def on_image(self, message: Image) -> None:
        detector = self.detector
        if detector is None:
            return
        started = time.perf_counter()
        if self.stamp_rejected(message.header.stamp):
            return
        try:
            image = image_from_msg_bytes(message.data, message.width, message.height, message.step,
                                         message.encoding, bool(message.is_bigendian))
        except ImageEncodingError as exc:
            self.report_error("unsupported_encoding", str(exc))
            return
        except ImageError as exc:
            self.report_error("malformed_image", str(exc))
            return
        result = detector.detect(image, message.encoding)
        processing_ms = (time.perf_counter() - started) * 1e3
        out = detections_to_msg(result.detections, message.header, message.width, message.height,
                                processing_ms)
        self.detections_pub.publish(out)
        self.report_timing(processing_ms, message.header.stamp, message.header.frame_id)
        if self.debug_pub.get_subscription_count() > 0:
            rgb = draw_detections(image, message.encoding, result.detections)
            self.debug_pub.publish(rgb_image_to_msg(np.ascontiguousarray(rgb), message.header))
