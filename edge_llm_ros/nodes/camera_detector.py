"""camera_detector node: sensor_msgs/Image -> Detection2DArray with a YOLO
model whose file picks the runtime (.pt PyTorch, .onnx ONNX Runtime, .engine
TensorRT). Images are viewed in place (no cv_bridge); a debug image with the
boxes is rendered only while someone subscribes to it.

Without a usable model (missing, corrupt, not downloadable offline) the node
by default stays up and publishes nothing, says why once in its log and as an
ERROR in /diagnostics, and scene_fusion runs on the lidar alone
(`on_model_error: lidar_only`); `fail` makes configure fail instead."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sensor_msgs.msg import Image

from edge_llm_ros import msg
from edge_llm_ros.diagnostics import Level
from edge_llm_ros.nodes.base import ManagedEdgeNode
from edge_llm_ros.nodes.convert import detections_to_msg, rgb_image_to_msg
from edge_llm_ros.params import ConfigError
from edge_llm_ros.perception.camera.detector import (
    CameraDetector,
    ImageEncodingError,
    ImageError,
    ModelLoadError,
    class_map_from,
    detector_kwargs,
    image_from_msg_bytes,
)
from edge_llm_ros.perception.camera.model_source import resolve_model
from edge_llm_ros.perception.draw import draw_detections
from edge_llm_ros.stamps import StampGuard

SIM_MODEL_WARNING = (
    "model_path is empty: using the packaged simulator-trained model {path}. It knows only "
    "simulator renders (on real camera images it calls most road users 'truck' or finds "
    "nothing): on a vehicle set model_path, e.g. yolo11n.pt (Ultralytics downloads it on a "
    "connected machine) or your own .pt/.onnx/.engine; simulator runs name it in "
    "config/simulator.yaml")


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
        self.model_error = ""  # why the camera runs without a model (on_model_error lidar_only)
        self._image_sub = None
        super().__init__("camera_detector", node_name, **kwargs)
        # Outputs exist in every state; they publish only while active.
        self.detections_pub = self.create_output_publisher(
            msg.Detection2DArray, "perception/detections_2d", 10)
        self.debug_pub = self.create_output_publisher(Image, "perception/debug_image", 2)

    def configure_node(self) -> None:
        p = self.params
        name = self.get_name()
        device = str(p["device"])
        parse_class_map(list(p["class_map"]), name)  # names a bad entry before any build
        try:
            resolved = resolve_model(str(p["model_path"]))
        except ModelLoadError as exc:
            self._without_model(exc)
            return
        model_path = resolved.path
        if resolved.how == "default":
            self.get_logger().warning(SIM_MODEL_WARNING.format(path=model_path))
        if p["engine.build"] or p["engine.build_only"]:
            model_path = self._engine_for(model_path, device)
            if p["engine.build_only"]:
                self.get_logger().info(f"engine ready: {model_path}; build_only: exiting")
                raise SystemExit(0)
        try:
            self.detector = CameraDetector(model_path, **detector_kwargs(p))
        except ModelLoadError as exc:
            self._without_model(exc)
            return
        except ValueError as exc:
            raise ConfigError(f"node '{name}': parameter 'model_path': {exc}") from exc
        self.get_logger().info(
            f"model {model_path} ({resolved.how}; {self.detector.runtime}, input "
            f"{self.detector.inference_size[1]}x{self.detector.inference_size[0]}, classes "
            f"{sorted(set(self.detector.names.values()))}, mapping "
            f"{self.detector.class_mapping})")
        self.stamps = StampGuard(float(p["max_stamp_age_ms"]), float(p["max_stamp_future_ms"]))
        self._image_sub = self.create_sensor_subscription(Image, "camera/image_raw",
                                                          self.on_image)

    def _without_model(self, exc: ModelLoadError) -> None:
        """No usable model: fail configure (on_model_error fail, or an engine build_only run,
        which must not exit 0 without its engine), or stay up publishing nothing."""
        if self.params["on_model_error"] == "fail" or self.params["engine.build_only"]:
            raise ConfigError(f"node '{self.get_name()}': parameter 'model_path': {exc}") from exc
        self.model_error = f"camera model unavailable: {exc}"
        self.health.set_condition("camera_model", Level.ERROR,
                                  f"{self.model_error}; no detections, fusion runs lidar-only")
        self.get_logger().error(f"{self.model_error}. No detections are published; the "
                                "pipeline runs lidar-only (on_model_error: lidar_only)")

    def diagnostic_values(self) -> dict[str, str]:
        values = super().diagnostic_values()
        if self.detector is not None:
            values.update(model=str(self.detector.model_path),
                          class_mapping=self.detector.class_mapping)
        return values

    def release_node(self) -> None:
        if self._image_sub is not None:
            self.destroy_subscription(self._image_sub)
            self._image_sub = None
        self.detector = None  # the runtime's session and weights go with it
        self.model_error = ""
        self.health.clear_condition("camera_model")

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
