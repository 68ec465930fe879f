"""One cache for every TensorRT engine the package builds (camera detector, Edge-LLM reasoner).

A TensorRT engine runs only with the TensorRT (and CUDA) version and the GPU it
was built on, for the model, precision and shapes it was built from, and a
build takes minutes; so engines are built once per key and reused. Each entry
is a folder `<cache>/<name>/` holding the engine file(s) and a manifest
(`engine_cache.json`) that records the key it was built for. An entry is
reused only when the manifest's key equals the current one and the engine file
is there and non-empty; anything else (no entry, another key, a corrupt
manifest, a truncated engine, a build that died half way) is rebuilt. Builds
happen in a staging folder and replace the entry in one rename, under a lock
file, so two processes starting together build once and never read half an
engine.

Callers own their key (a JSON-able mapping of everything their engine depends
on) and their build step; `gpu_identity`, `tensorrt_version` and `sha256_file`
are the probes both keys use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_llm_ros.filelock import file_lock

MANIFEST = "engine_cache.json"
DIGEST_CHARS = 16
STAGING_PREFIX = ".building-"

_CU_ATTR_CC_MAJOR, _CU_ATTR_CC_MINOR = 75, 76  # CUdevice_attribute values


class EngineBuildError(RuntimeError):
    """An engine cannot be built here (no GPU, no TensorRT, bad input, builder failure)."""


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class GpuIdentity:
    name: str
    compute_capability: str  # "major.minor", e.g. "9.0"
    driver_version: int  # CUDA driver API version, e.g. 13000


def _cuda_driver() -> Any:
    """libcuda through ctypes (no torch, no cuda-python); OSError if absent."""
    return ctypes.CDLL(ctypes.util.find_library("cuda") or "libcuda.so.1")


def device_index(device: int | str) -> int:
    """0, "0", "cuda" and "cuda:1" style device names -> the CUDA device index."""
    text = str(device)
    return 0 if text in ("", "cuda") else int(text.split(":")[-1])


def gpu_identity(device: int | str = 0) -> GpuIdentity:
    """Name, compute capability and driver version of a CUDA device; RuntimeError if none."""
    index = device_index(device)
    try:
        cu = _cuda_driver()
    except OSError as exc:
        raise RuntimeError(f"no NVIDIA driver (libcuda not loadable: {exc})") from exc
    if (err := cu.cuInit(0)) != 0:
        raise RuntimeError(f"CUDA driver initialisation failed (CUresult {err})")
    count = ctypes.c_int()
    if cu.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value <= index:
        raise RuntimeError(f"no CUDA device {index} visible ({count.value} found)")
    handle = ctypes.c_int()
    cu.cuDeviceGet(ctypes.byref(handle), index)
    name = ctypes.create_string_buffer(256)
    cu.cuDeviceGetName(name, 256, handle)
    major, minor, version = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    cu.cuDeviceGetAttribute(ctypes.byref(major), _CU_ATTR_CC_MAJOR, handle)
    cu.cuDeviceGetAttribute(ctypes.byref(minor), _CU_ATTR_CC_MINOR, handle)
    cu.cuDriverGetVersion(ctypes.byref(version))
    return GpuIdentity(name.value.decode(errors="replace"), f"{major.value}.{minor.value}",
                       version.value)


def tensorrt_version(hint: str = "install the tensorrt wheel matching this CUDA",
                     error: type[Exception] = EngineBuildError) -> str:
    try:
        import tensorrt
    except ImportError as exc:
        raise error(f"TensorRT is not installed (import tensorrt failed: {exc}); {hint}") \
            from exc
    return str(tensorrt.__version__)


def sha256_file(path: str | Path, into: Any = None) -> str:
    """SHA-256 of a file's bytes (fed into `into`, a hashlib object, when given)."""
    h = into if into is not None else hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def key_digest(key: Mapping[str, Any]) -> str:
    """Short stable hash of a key (its JSON with sorted keys)."""
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:DIGEST_CHARS]


def default_cache_dir() -> Path:
    """~/.cache/edge_llm_ros/engines (XDG_CACHE_HOME respected): writable where the package
    and its models may not be."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge_llm_ros" / "engines"


# --------------------------------------------------------------------------- entries


def read_manifest(entry: str | Path) -> dict[str, Any] | None:
    """An entry's manifest, or None when missing or not JSON."""
    try:
        manifest = json.loads((Path(entry) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _normal(key: Mapping[str, Any]) -> Any:
    """The key as its manifest reads back (tuples become lists)."""
    return json.loads(json.dumps(key))


def entry_matches(entry: str | Path, engine_file: str, key: Mapping[str, Any]) -> bool:
    """True if `entry` holds a non-empty `engine_file` and a manifest recording exactly `key`."""
    manifest = read_manifest(entry)
    engine = Path(entry) / engine_file
    return (manifest is not None and manifest.get("key") == _normal(key)
            and engine.is_file() and engine.stat().st_size > 0)


def _publish(staging: Path, target: Path) -> None:
    """Replace `target` by `staging` (the old entry moves aside first, then goes)."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class EngineCache:
    """A folder of engine entries; `get_or_build` is the only way in."""

    root: Path

    def entry(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"bad cache entry name {name!r}")
        return Path(self.root) / name

    def get_or_build(self, name: str, key: Mapping[str, Any], engine_file: str,
                     build: Callable[[Path], None], *, what: str,
                     log: Callable[[str], None] = print, force: bool = False,
                     info: Mapping[str, Any] | None = None,
                     error: type[Exception] = EngineBuildError) -> Path:
        """The entry folder for `key`: reused if it matches, else built by `build(staging)`.

        `build` writes `engine_file` (and anything else the engine needs) into
        the staging folder it is given; its exceptions propagate and leave no
        entry behind. `info` adds fields to the manifest (not to the key).
        `error` is raised when the build produced no engine file.
        """
        root = Path(self.root)
        root.mkdir(parents=True, exist_ok=True)
        target = self.entry(name)
        with file_lock(root / f".{name}.lock"):
            if not force and entry_matches(target, engine_file, key):
                log(f"{what}: cache hit: {target}")
                return target
            manifest = read_manifest(target)
            if force:
                reason = "forced"
            elif manifest is None:
                reason = ("no cached engine" if not target.exists()
                          else "cached entry has no readable manifest")
            elif manifest.get("key") != _normal(key):
                reason = "cached engine's key differs"
            else:
                reason = "cached engine file is missing or empty"
            log(f"building {what}: {reason}; this takes a few minutes")
            t0 = time.monotonic()
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
            try:
                build(staging)
                engine = staging / engine_file
                if not engine.is_file() or engine.stat().st_size == 0:
                    raise error(f"building {what} produced no {engine_file}")
                manifest = {**(info or {}), "key": _normal(key), "digest": key_digest(key),
                            "build_seconds": round(time.monotonic() - t0, 1)}
                (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
                _publish(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            log(f"built {target} in {time.monotonic() - t0:.0f} s")
            return target
