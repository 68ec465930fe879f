"""TensorRT engines for the camera detector: build on the target GPU, cache, reuse.

Engines live in the package's one engine cache (`edge_llm_ros.engine_cache`):
one entry per model file, precision and input size, whose manifest records
the key: the model file's SHA-256, the TensorRT version, the GPU's name and
compute capability, the precision and the input size. A cached engine is
used only when that key equals the current one; otherwise (TensorRT
upgraded, another GPU, the model retrained) it is rebuilt in place.

Builds go through Ultralytics: a .pt through its exporter (.pt -> ONNX ->
TensorRT), an Ultralytics-exported .onnx straight through its ONNX-to-TensorRT
step (at the ONNX file's fixed input size). Either way the class names and
input size are written into the engine for `CameraDetector`. INT8 needs
calibration images: a folder of frames like the ones the camera will see (for
the simulator: `dataset.build_dataset` images).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_llm_ros.engine_cache import (
    EngineBuildError,
    EngineCache,
    default_cache_dir,
    gpu_identity,
    sha256_file,
    tensorrt_version,
)
from edge_llm_ros.perception.camera.detector import ModelLoadError
from edge_llm_ros.perception.camera.ultralytics_env import ultralytics

PRECISIONS = ("fp16", "int8")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
KEY_VERSION = 1  # bump when the key's meaning changes: every cached engine is rebuilt


@dataclass(frozen=True)
class EngineKey:
    """Everything a TensorRT engine depends on; equal keys mean the engine can be reused."""

    model_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0"
    precision: str  # fp16 | int8
    input_hw: tuple[int, int]  # network input (height, width)
    calibration_sha256: str = ""  # int8 only: which images calibrated it
    key_version: int = KEY_VERSION

    @property
    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "input_hw": list(self.input_hw), "digest": self.digest}


def _hw(imgsz: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(imgsz, int):
        return (imgsz, imgsz)
    h, w = (int(v) for v in imgsz)
    return (h, w)


def engine_cache_key(model_sha256: str, tensorrt_version: str, gpu_name: str,
                     compute_capability: str | tuple[int, int], precision: str,
                     imgsz: int | tuple[int, int], calibration_sha256: str = "") -> EngineKey:
    """The cache key of an engine (pure: no GPU, TensorRT or file access)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if not isinstance(compute_capability, str):
        compute_capability = f"{compute_capability[0]}.{compute_capability[1]}"
    h, w = _hw(imgsz)
    if h <= 0 or w <= 0:
        raise ValueError(f"imgsz must be positive, got {imgsz}")
    return EngineKey(model_sha256, str(tensorrt_version), str(gpu_name), compute_capability,
                     precision, (h, w), calibration_sha256 if precision == "int8" else "")


def calibration_images(folder: str | Path) -> list[Path]:
    """Image files directly in `folder` or below, sorted (the calibration order is fixed)."""
    root = Path(folder)
    if not root.is_dir():
        raise EngineBuildError(f"calibration image folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise EngineBuildError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
    return files


def _calibration_sha256(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _gpu(device: int | str) -> tuple[str, str]:
    """(name, "major.minor") of the build GPU; EngineBuildError without one."""
    try:
        gpu = gpu_identity(device)
    except RuntimeError as exc:
        raise EngineBuildError(f"TensorRT engines need an NVIDIA GPU: {exc}") from exc
    return gpu.name, gpu.compute_capability


def entry_name(model_path: Path, precision: str, hw: tuple[int, int]) -> str:
    """The cache entry of a model file/precision/size: one slot that a rebuild overwrites."""
    return (f"{model_path.stem}-{model_path.suffix.lstrip('.').lower()}.{precision}."
            f"{hw[0]}x{hw[1]}")


@contextlib.contextmanager
def _heartbeat(log: Callable[[str], None], what: str, every_s: float = 15.0) -> Iterator[None]:
    """Log "still building" every `every_s` while the block runs (builds take minutes)."""
    stop = threading.Event()
    t0 = time.monotonic()

    def beat() -> None:
        while not stop.wait(every_s):
            log(f"{what}: still building ({time.monotonic() - t0:.0f} s)")

    thread = threading.Thread(target=beat, name="engine-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _calibration_yaml(build_dir: Path, files: list[Path], names: dict[int, str]) -> Path:
    """A YOLO data yaml whose val split is the calibration images (linked, not copied)."""
    images = build_dir / "calib" / "images" / "val"
    images.mkdir(parents=True)
    for i, f in enumerate(files):
        link = images / f"{i:06d}{f.suffix.lower()}"
        try:
            link.symlink_to(f.resolve())
        except OSError:
            shutil.copyfile(f, link)
    data = build_dir / "calib.yaml"
    data.write_text(json.dumps({"path": str(build_dir / "calib"), "train": "images/val",
                                "val": "images/val", "names": names}))
    return data


def onnx_metadata(path: Path) -> tuple[dict[str, str], tuple[int, int]]:
    """Ultralytics' metadata strings of an .onnx and its fixed input (height, width)."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelLoadError(f"cannot read '{path}' as ONNX: {type(exc).__name__}: {exc}") \
            from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    if "names" not in meta:
        raise ModelLoadError(f"'{path}' has no Ultralytics metadata (class names); export it "
                             "with Ultralytics or build the engine from the .pt")
    dims = [d.dim_value if d.HasField("dim_value") else 0
            for d in proto.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or min(dims[2:]) <= 0:
        raise ModelLoadError(f"'{path}' has a dynamic input {dims}; build the engine from the "
                             ".pt, or export a fixed-size ONNX")
    return meta, (int(dims[2]), int(dims[3]))


def _export_pt(staged: Path, precision: str, hw: tuple[int, int], device: int | str,
               files: list[Path], build_dir: Path, workspace_gb: float | None) -> Path:
    """Ultralytics' exporter: .pt -> ONNX -> engine, calibrating INT8 on `files`."""
    try:
        yolo = ultralytics().YOLO(str(staged), task="detect")
    except Exception as exc:
        raise ModelLoadError(f"cannot load '{staged.name}': {type(exc).__name__}: {exc}") \
            from exc
    kwargs: dict[str, Any] = {"format": "engine", "quantize": precision, "imgsz": list(hw),
                              "device": device, "dynamic": False, "batch": 1, "simplify": True,
                              "verbose": False}
    if workspace_gb is not None:
        kwargs["workspace"] = workspace_gb
    if files:
        kwargs["data"] = str(_calibration_yaml(build_dir, files, dict(yolo.names)))
    return Path(yolo.export(**kwargs))


class _CalibrationLoader:
    """What Ultralytics' INT8 calibrator reads: batches {"img": uint8 (1,3,H,W)}, letterboxed."""

    batch_size = 1

    def __init__(self, files: list[Path], hw: tuple[int, int]) -> None:
        self.files, self.hw = files, hw

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import cv2
        import numpy as np
        import torch

        ultralytics()
        from ultralytics.data.augment import LetterBox

        letterbox = LetterBox(self.hw, auto=False, stride=32)
        for f in self.files:
            bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if bgr is None:
                raise EngineBuildError(f"cannot read calibration image {f}")
            img = letterbox(image=bgr)[..., ::-1].transpose(2, 0, 1)  # BGR HWC -> RGB CHW
            yield {"img": torch.from_numpy(np.ascontiguousarray(img))[None]}


def _convert_onnx(staged: Path, precision: str, hw: tuple[int, int], meta: dict[str, str],
                  files: list[Path], workspace_gb: float | None) -> Path:
    """Ultralytics' ONNX -> TensorRT step on an Ultralytics-exported ONNX (metadata kept)."""
    ultralytics()
    from ultralytics.utils.export.engine import onnx2engine

    out = staged.with_suffix(".engine")
    onnx2engine(str(staged), out, workspace_gb, 16 if precision == "fp16" else 8, False,
                (1, 3, *hw), dataset=_CalibrationLoader(files, hw) if files else None,
                metadata=meta)
    return out


def build_engine(model_path: str | Path, precision: str = "fp16",
                 imgsz: int | tuple[int, int] = (480, 640),
                 calib_images_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None, device: int | str = 0,
                 log: Callable[[str], None] = print, workspace_gb: float | None = None,
                 force: bool = False) -> Path:
    """A TensorRT engine for a YOLO .pt/.onnx on this GPU: the cached one if its key matches.

    Otherwise (no engine yet, or its key differs) it is built and cached.
    `imgsz` is the network input (height, width) or one side of a square; an
    .onnx is built at its own fixed input size.
    `cache_dir` defaults to `default_cache_dir()`. INT8 requires
    `calib_images_dir`. `force` rebuilds even on a key match.
    """
    model = Path(model_path)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    suffix = model.suffix.lower()
    if suffix not in (".pt", ".onnx"):
        raise ModelLoadError(f"TensorRT engines are built from an Ultralytics .pt or .onnx "
                             f"model, got '{model}'")
    if not model.is_file():
        raise ModelLoadError(f"model file not found: {model}")
    onnx_meta: dict[str, str] = {}
    if suffix == ".onnx":
        onnx_meta, onnx_hw = onnx_metadata(model)
        if imgsz != onnx_hw and _hw(imgsz) != onnx_hw:
            log(f"{model.name} has a fixed {onnx_hw[0]}x{onnx_hw[1]} input: building at that "
                f"size, not {imgsz}")
        imgsz = onnx_hw
    files: list[Path] = []
    if precision == "int8":
        if calib_images_dir is None:
            raise EngineBuildError("int8 engines need calib_images_dir: a folder of "
                                   "representative camera frames")
        files = calibration_images(calib_images_dir)
    hw = _hw(imgsz)
    gpu_name, capability = _gpu(device)
    key = engine_cache_key(sha256_file(model), tensorrt_version(), gpu_name, capability,
                           precision, hw, _calibration_sha256(files) if files else "")
    name = entry_name(model, precision, hw)
    what = (f"TensorRT {precision} engine for {model.name} ({hw[0]}x{hw[1]}, TensorRT "
            f"{key.tensorrt_version}, {gpu_name} sm{capability.replace('.', '')})")

    def build(staging: Path) -> None:
        staged = staging / model.name
        shutil.copyfile(model, staged)  # the exporter writes its .onnx/.engine beside it
        try:
            with _heartbeat(log, what):
                if suffix == ".pt":
                    built = _export_pt(staged, precision, hw, device, files, staging,
                                       workspace_gb)
                else:
                    built = _convert_onnx(staged, precision, hw, onnx_meta, files, workspace_gb)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise EngineBuildError(f"building {what} failed: {type(exc).__name__}: {exc}") \
                from exc
        if built.is_file():
            built.replace(staging / f"{name}.engine")
        for leftover in staging.iterdir():  # the staged model, its ONNX, calibration links
            if leftover.name != f"{name}.engine":
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()

    cache = EngineCache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    entry = cache.get_or_build(name, key.to_json(), f"{name}.engine", build, what=what, log=log,
                               force=force)
    return entry / f"{name}.engine"
