"""Which file a camera `model_path` names, fetching Ultralytics' published weights the way
Ultralytics does when a bare name such as `yolo11n.pt` is not on this machine.

Looked for, in order: empty -> the packaged simulator model; an existing path
(absolute, or relative to the working directory); a bare file name in the
package's models/ folder, then in the weights cache (`weights_cache_dir()`);
a bare name Ultralytics publishes (yolo11n.pt, yolov8s.pt, ...) is downloaded
by Ultralytics' own downloader into that cache, so the next start finds it
without a network. Anything else is a `ModelLoadError` saying what to do.

A failed download must not stall a vehicle's start: Ultralytics gives up at
once when the first attempt fails and the machine is offline, and it is
allowed one retry (not three, with back-off) otherwise.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from edge_llm_ros.paths import model_file
from edge_llm_ros.perception.camera.ultralytics_env import ultralytics

SIM_MODEL_NAME = "sim_detector.onnx"  # the packaged model, trained on simulator renders only
_FETCH_RETRIES = 1


class ModelLoadError(RuntimeError):
    """The model file is missing, of an unsupported kind, corrupt, or not a detector."""


@dataclass(frozen=True)
class ResolvedModel:
    """The file to load and how it was found."""

    path: Path
    how: str  # "default" (empty model_path) | "path" | "packaged" | "cache" | "fetched"


def weights_cache_dir() -> Path:
    """~/.cache/edge_llm_ros/weights (XDG_CACHE_HOME respected): where fetched weights stay."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge_llm_ros" / "weights"


def fetchable_names() -> frozenset[str]:
    """The weight files Ultralytics publishes and downloads by bare name."""
    ultralytics()  # the offline-safe import first
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    return frozenset(GITHUB_ASSETS_NAMES)


def fetch_weights(name: str, cache_dir: Path | None = None) -> Path:
    """Download Ultralytics' published `name` into the cache with Ultralytics' downloader;
    ModelLoadError (naming the file and what to do) when it cannot."""
    ultralytics()
    from ultralytics.utils.downloads import attempt_download_asset

    target = (cache_dir or weights_cache_dir()) / name
    started = time.monotonic()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        got = Path(attempt_download_asset(target, retry=_FETCH_RETRIES))
    except Exception as exc:  # ConnectionError offline; OSError on a read-only cache
        reason = " ".join(str(exc).replace("\N{CROSS MARK}", "").split())  # one line, no emoji
        raise ModelLoadError(
            f"'{name}' is not on this machine and Ultralytics could not download it "
            f"({type(exc).__name__} after {time.monotonic() - started:.1f} s: "
            f"{reason}); copy the weights to {target} or set model_path "
            "to a local .pt/.onnx/.engine file") from exc
    if not got.is_file():
        raise ModelLoadError(f"Ultralytics' download of '{name}' left no file at {got}; copy "
                             f"the weights to {target} or set model_path to a local file")
    return got


def resolve_model(model_path: str | Path, fetch: bool = True) -> ResolvedModel:
    """The file `model_path` names (see the module docstring); with `fetch` False a
    publishable bare name that is not here is an error instead of a download."""
    text = str(model_path).strip()
    if not text:
        return ResolvedModel(model_file(SIM_MODEL_NAME), "default")
    path = Path(text).expanduser()
    if path.exists():
        return ResolvedModel(path.absolute(), "path")
    if path.name != text:  # a path with folders that is not there, unless under models/
        if not path.is_absolute() and model_file(text).exists():
            return ResolvedModel(model_file(text), "packaged")
        raise ModelLoadError(f"model file not found: {path}")
    packaged = model_file(text)
    if packaged.exists():
        return ResolvedModel(packaged, "packaged")
    cached = weights_cache_dir() / text
    if cached.exists():
        return ResolvedModel(cached, "cache")
    if text in fetchable_names():
        if not fetch:
            raise ModelLoadError(f"model file not found: {text} (not in the working directory "
                                 f"or {weights_cache_dir()}; downloading is off)")
        return ResolvedModel(fetch_weights(text), "fetched")
    raise ModelLoadError(
        f"model file not found: {text} (looked in the working directory, the package's "
        f"models/ and {weights_cache_dir()}; Ultralytics publishes no file of that name)")
