"""TensorRT engine cache logic that needs no GPU: the key, the cache entry, input checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from edge_llm_ros.engine_cache import MANIFEST, entry_matches
from edge_llm_ros.perception.camera import ModelLoadError
from edge_llm_ros.perception.camera.engine import (
    EngineBuildError,
    EngineKey,
    build_engine,
    engine_cache_key,
    entry_name,
)

BASE = {"model_sha256": "a" * 64, "tensorrt_version": "10.13.0", "gpu_name": "NVIDIA H100",
        "compute_capability": (9, 0), "precision": "fp16", "imgsz": (480, 640)}


def test_key_is_pure_and_stable() -> None:
    a, b = engine_cache_key(**BASE), engine_cache_key(**BASE)
    assert a == b and a.digest == b.digest and len(a.digest) == 64
    assert a.compute_capability == "9.0" and a.input_hw == (480, 640)
    assert engine_cache_key(**{**BASE, "compute_capability": "9.0"}) == a
    assert engine_cache_key(**{**BASE, "imgsz": 640}).input_hw == (640, 640)


@pytest.mark.parametrize("field,value", [
    ("model_sha256", "b" * 64),
    ("tensorrt_version", "10.14.1"),
    ("gpu_name", "NVIDIA H200"),
    ("compute_capability", (8, 9)),
    ("precision", "int8"),
    ("imgsz", (640, 640)),
    ("imgsz", (480, 672)),
])
def test_every_component_changes_the_key(field: str, value: object) -> None:
    assert engine_cache_key(**{**BASE, field: value}).digest != engine_cache_key(**BASE).digest


def test_calibration_set_matters_for_int8_only() -> None:
    int8 = {**BASE, "precision": "int8"}
    assert (engine_cache_key(**int8, calibration_sha256="x").digest
            != engine_cache_key(**int8, calibration_sha256="y").digest)
    assert (engine_cache_key(**BASE, calibration_sha256="x")
            == engine_cache_key(**BASE, calibration_sha256="y"))


def test_key_version_invalidates_everything() -> None:
    key = engine_cache_key(**BASE)
    assert dataclasses.replace(key, key_version=key.key_version + 1).digest != key.digest


@pytest.mark.parametrize("bad", [{"precision": "fp32"}, {"precision": "FP16"},
                                 {"imgsz": (0, 640)}])
def test_bad_key_inputs(bad: dict) -> None:
    with pytest.raises(ValueError):
        engine_cache_key(**{**BASE, **bad})


def test_one_cache_entry_per_model_precision_and_size() -> None:
    name = entry_name(Path("m/sim_detector.pt"), "fp16", (480, 640))
    assert name == "sim_detector-pt.fp16.480x640"
    assert entry_name(Path("sim_detector.onnx"), "fp16", (480, 640)) != name
    assert entry_name(Path("sim_detector.pt"), "int8", (480, 640)) != name


def test_the_key_decides_reuse(tmp_path: Path) -> None:
    """Keys go through the shared cache: equal key -> reuse, any change -> rebuild."""
    key = engine_cache_key(**BASE)
    other: EngineKey = engine_cache_key(**{**BASE, "tensorrt_version": "11.0.0"})
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "x.engine").write_bytes(b"\0" * 16)
    (tmp_path / "e" / MANIFEST).write_text(json.dumps({"key": key.to_json()}))
    assert entry_matches(tmp_path / "e", "x.engine", key.to_json())
    assert not entry_matches(tmp_path / "e", "x.engine", other.to_json())  # TensorRT upgraded


def test_build_engine_input_checks(tmp_path: Path, sim_model_pt: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"built from an Ultralytics \.pt or \.onnx"):
        build_engine(tmp_path / "m.tflite", cache_dir=tmp_path)
    with pytest.raises(ModelLoadError, match="not found"):
        build_engine(tmp_path / "missing.pt", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="precision"):
        build_engine(sim_model_pt, precision="fp32", cache_dir=tmp_path)
    with pytest.raises(EngineBuildError, match="calib_images_dir"):
        build_engine(sim_model_pt, precision="int8", cache_dir=tmp_path)
    with pytest.raises(EngineBuildError, match="no images"):
        build_engine(sim_model_pt, precision="int8", calib_images_dir=tmp_path,
                     cache_dir=tmp_path)


def test_build_engine_without_gpu_says_so(tmp_path: Path, sim_model_pt: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: test_engine_gpu.py covers real builds")
    with pytest.raises(EngineBuildError, match="NVIDIA GPU"):
        build_engine(sim_model_pt, cache_dir=tmp_path)


def test_onnx_metadata_of_the_shipped_model(sim_model_onnx: Path, tmp_path: Path) -> None:
    from edge_llm_ros.perception.camera.engine import onnx_metadata

    meta, hw = onnx_metadata(sim_model_onnx)
    assert hw == (480, 640)
    assert "pedestrian" in meta["names"] and meta["task"] == "detect"
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01garbage")
    with pytest.raises(ModelLoadError):
        onnx_metadata(junk)


def test_int8_calibration_batches(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from edge_llm_ros.perception.camera.engine import _CalibrationLoader, calibration_images

    for i, shape in enumerate([(480, 640, 3), (375, 1242, 3)]):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full(shape, 60 + i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    files = calibration_images(tmp_path)
    assert [f.name for f in files] == ["0.png", "1.png"]
    batches = list(_CalibrationLoader(files, (480, 640)))
    assert len(batches) == 2
    for b in batches:
        img = b["img"]
        assert tuple(img.shape) == (1, 3, 480, 640) and str(img.dtype) == "torch.uint8"
    assert int(batches[0]["img"].max()) == 60  # not rescaled: the calibrator divides by 255
