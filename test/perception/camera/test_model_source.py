"""What a camera model_path names, and the download of a bare Ultralytics name failing
fast and clearly when the machine is offline (for real: no download ever succeeds here)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from edge_llm_ros.paths import model_file
from edge_llm_ros.perception.camera.model_source import (
    ModelLoadError,
    fetchable_names,
    resolve_model,
    weights_cache_dir,
)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache and working directory; any HTTPS request is refused at once (a proxy
    on a closed local port), so a download attempt can never succeed, on any machine."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    return tmp_path


def test_where_a_model_is_found(isolated: Path) -> None:
    default = resolve_model("")
    assert default.how == "default" and default.path == model_file("sim_detector.onnx")
    assert resolve_model("sim_detector.pt").how == "packaged"
    (isolated / "mine.onnx").write_bytes(b"x")
    assert resolve_model("mine.onnx") == resolve_model(str(isolated / "mine.onnx"))
    assert resolve_model("mine.onnx").how == "path"
    cached = weights_cache_dir() / "yolov8n.pt"
    assert cached == isolated / "cache" / "edge_llm_ros" / "weights" / "yolov8n.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert resolve_model("yolov8n.pt").how == "cache" and resolve_model("yolov8n.pt").path == cached


def test_missing_models_are_named(isolated: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"not found: .*models/nope\.pt$"):
        resolve_model(str(isolated / "models" / "nope.pt"))
    with pytest.raises(ModelLoadError, match="not found: my_model.pt .*publishes no file"):
        resolve_model("my_model.pt")
    assert "yolo11n.pt" in fetchable_names() and "yolov8s.pt" in fetchable_names()
    with pytest.raises(ModelLoadError, match="downloading is off"):
        resolve_model("yolo11n.pt", fetch=False)


def test_offline_download_fails_fast_naming_the_file(isolated: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as info:
        resolve_model("yolo11n.pt")
    elapsed_s = time.monotonic() - started
    message = str(info.value)
    assert "'yolo11n.pt' is not on this machine and Ultralytics could not download it" in message
    assert str(weights_cache_dir() / "yolo11n.pt") in message and "\n" not in message
    assert elapsed_s < 15.0, f"gave up after {elapsed_s:.1f} s"
    # nothing half-downloaded is left for the next start to take as the model
    assert not any(p.is_file() for p in (isolated / "cache").rglob("*"))
    assert not any(p.name.startswith("yolo11n") for p in isolated.iterdir())
    assert os.environ["YOLO_OFFLINE"] == "1"
