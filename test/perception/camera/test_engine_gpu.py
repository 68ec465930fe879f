"""Real TensorRT builds from the shipped model (NVIDIA GPU and the tensorrt wheel only).

Each build takes a minute or more, so one module-scoped cache folder serves
all tests: the first builds FP16, the second must hit that cache, the third
asks for INT8 and must build again, and the detections of the FP16 engine
are compared with the .pt model's on held-out frames.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from edge_llm_ros.engine_cache import MANIFEST, read_manifest
from edge_llm_ros.perception.camera import CameraDetector
from edge_llm_ros.tools.bench.camera import box_iou
from edge_llm_ros.tools.training.camera_dataset import EvalFrame


def _gpu_missing() -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU (torch.cuda.is_available() is False)"
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT is not installed (pip install tensorrt)"
    return None


pytestmark = [pytest.mark.gpu, pytest.mark.slow,
              pytest.mark.skipif(_gpu_missing() is not None, reason=_gpu_missing() or "")]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trt_cache")


@pytest.fixture(scope="module")
def calib_dir(tmp_path_factory: pytest.TempPathFactory, eval_frames: list[EvalFrame]) -> Path:
    import cv2

    folder = tmp_path_factory.mktemp("calib")
    for i, frame in enumerate(eval_frames[:32]):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame.image_rgb[..., ::-1])
    return folder


@pytest.fixture(scope="module")
def fp16_engine(sim_model_pt: Path, cache_dir: Path) -> Path:
    from edge_llm_ros.perception.camera.engine import build_engine

    messages: list[str] = []
    engine = build_engine(sim_model_pt, "fp16", (480, 640), cache_dir=cache_dir, device=0,
                          log=messages.append)
    assert any(m.startswith("building") for m in messages), messages
    return engine


def test_fp16_build_writes_engine_and_manifest(fp16_engine: Path) -> None:
    key = read_manifest(fp16_engine.parent)["key"]
    assert fp16_engine.stat().st_size > 0
    assert key["precision"] == "fp16" and key["input_hw"] == [480, 640]
    assert key["tensorrt_version"] and key["gpu_name"] and key["compute_capability"]


def test_second_call_hits_the_cache(fp16_engine: Path, sim_model_pt: Path,
                                    cache_dir: Path) -> None:
    from edge_llm_ros.perception.camera.engine import build_engine

    mtime = os.stat(fp16_engine).st_mtime_ns
    messages: list[str] = []
    again = build_engine(sim_model_pt, "fp16", (480, 640), cache_dir=cache_dir, device=0,
                         log=messages.append)
    assert again == fp16_engine and os.stat(again).st_mtime_ns == mtime
    assert any("cache hit" in m for m in messages) and not any(
        m.startswith("building") for m in messages)


def test_stale_manifest_and_other_precision_rebuild(fp16_engine: Path, sim_model_pt: Path,
                                                    cache_dir: Path, calib_dir: Path) -> None:
    from edge_llm_ros.perception.camera.engine import build_engine

    messages: list[str] = []
    int8 = build_engine(sim_model_pt, "int8", (480, 640), calib_images_dir=calib_dir,
                        cache_dir=cache_dir, device=0, log=messages.append)
    assert int8 != fp16_engine and int8.is_file()
    assert any(m.startswith("building") for m in messages)
    # A manifest from another TensorRT version: the engine is rebuilt in place.
    manifest_path = int8.parent / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    key = manifest["key"]
    manifest_path.write_text(json.dumps({**manifest, "key": {**key, "tensorrt_version": "0.0.0"}}))
    messages.clear()
    rebuilt = build_engine(sim_model_pt, "int8", (480, 640), calib_images_dir=calib_dir,
                           cache_dir=cache_dir, device=0, log=messages.append)
    assert rebuilt == int8
    assert any("key differs" in m for m in messages)
    assert read_manifest(int8.parent)["key"] == key


def test_engine_detections_agree_with_the_pt_model(fp16_engine: Path, sim_model_pt: Path,
                                                   eval_frames: list[EvalFrame]) -> None:
    engine_det = CameraDetector(fp16_engine, device="cuda:0")
    pt_det = CameraDetector(sim_model_pt, device="cuda:0")
    assert engine_det.runtime == "tensorrt"
    assert engine_det.names == pt_det.names
    matched = total = 0
    for frame in eval_frames[:24]:
        ref = [d for d in pt_det.detect(frame.image_rgb, "rgb8").detections if d.score >= 0.4]
        got = engine_det.detect(frame.image_rgb, "rgb8").detections
        for d in ref:
            total += 1
            matched += any(g.class_name == d.class_name and box_iou(g.box_px, d.box_px) >= 0.8
                           for g in got)
    assert total >= 20
    assert matched / total >= 0.95, f"FP16 engine matched {matched}/{total} confident .pt boxes"


def test_fp16_engine_from_the_shipped_onnx(sim_model_onnx: Path, cache_dir: Path,
                                           eval_frames: list[EvalFrame]) -> None:
    from edge_llm_ros.perception.camera.engine import build_engine

    engine = build_engine(sim_model_onnx, "fp16", cache_dir=cache_dir, device=0, log=print)
    assert engine.name == "sim_detector-onnx.fp16.480x640.engine"
    det = CameraDetector(engine, device="cuda:0")
    assert det.names[2] == "pedestrian" and det.inference_size == (480, 640)
    assert sum(len(det.detect(f.image_rgb, "rgb8")) for f in eval_frames[:8]) > 0
