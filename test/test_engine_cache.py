"""The one TensorRT engine cache: reuse on an equal key, rebuild on anything else, one
build at a time. The build step here writes bytes; what is under test is the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_llm_ros.engine_cache import (
    MANIFEST,
    STAGING_PREFIX,
    EngineBuildError,
    EngineCache,
    device_index,
    entry_matches,
    key_digest,
    read_manifest,
    sha256_file,
)

KEY = {"model_sha256": "a" * 64, "tensorrt_version": "10.16.0.72", "cuda_version": "13.0",
       "gpu_name": "NVIDIA H200", "compute_capability": "9.0", "precision": "fp16",
       "input_hw": [480, 640]}


class Builder:
    """A build step that counts its calls and writes `payload` as the engine."""

    def __init__(self, payload: bytes = b"plan") -> None:
        self.calls, self.payload = 0, payload

    def __call__(self, staging: Path) -> None:
        self.calls += 1
        (staging / "x.engine").write_bytes(self.payload)
        (staging / "tokenizer.json").write_text("{}")


def _get(cache: EngineCache, build: Builder, key: dict = KEY, logs: list | None = None,
         force: bool = False) -> Path:
    return cache.get_or_build("m.fp16", key, "x.engine", build, what="test engine",
                              log=(logs if logs is not None else []).append, force=force)


@pytest.mark.parametrize("field", sorted(KEY))
def test_the_key_changes_with_each_input(field: str) -> None:
    changed = {**KEY, field: [1, 2] if field == "input_hw" else "other"}
    assert key_digest(changed) != key_digest(KEY)
    assert key_digest(dict(reversed(list(KEY.items())))) == key_digest(KEY)  # order-free


def test_hit_on_equal_key_rebuild_on_another(tmp_path: Path) -> None:
    cache, build, logs = EngineCache(tmp_path), Builder(), []
    entry = _get(cache, build, logs=logs)
    assert build.calls == 1 and (entry / "x.engine").read_bytes() == b"plan"
    assert (entry / "tokenizer.json").is_file()  # everything the build wrote is kept
    assert read_manifest(entry)["key"] == KEY and read_manifest(entry)["digest"] == key_digest(KEY)
    assert _get(cache, build, logs=logs) == entry and build.calls == 1
    assert "cache hit" in logs[-1]
    assert _get(cache, build, {**KEY, "tensorrt_version": "11.0"}, logs) == entry
    assert build.calls == 2 and "key differs" in " ".join(logs)
    assert _get(cache, build, force=True) == entry and build.calls == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((STAGING_PREFIX, ".old-"))]


@pytest.mark.parametrize("damage", ["truncated_engine", "missing_engine", "corrupt_manifest",
                                    "missing_manifest", "manifest_not_a_dict"])
def test_corrupt_or_partial_entries_are_rebuilt(tmp_path: Path, damage: str) -> None:
    cache, build = EngineCache(tmp_path), Builder()
    entry = _get(cache, build)
    if damage == "truncated_engine":
        (entry / "x.engine").write_bytes(b"")
    elif damage == "missing_engine":
        (entry / "x.engine").unlink()
    elif damage == "corrupt_manifest":
        (entry / MANIFEST).write_text('{"key": {"model_')
    elif damage == "missing_manifest":
        (entry / MANIFEST).unlink()
    else:
        (entry / MANIFEST).write_text(json.dumps([KEY]))
    assert not entry_matches(entry, "x.engine", KEY)
    assert _get(cache, build) == entry and build.calls == 2
    assert entry_matches(entry, "x.engine", KEY)


def test_a_failed_or_empty_build_publishes_nothing(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)

    def failing(staging: Path) -> None:
        (staging / "x.engine").write_bytes(b"half")
        raise RuntimeError("builder crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        _get(cache, failing)  # type: ignore[arg-type]
    with pytest.raises(EngineBuildError, match="produced no x.engine"):
        _get(cache, Builder(payload=b""))
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    good = Builder()
    _get(cache, good)
    assert good.calls == 1


def test_a_failed_rebuild_keeps_no_stale_engine_reachable(tmp_path: Path) -> None:
    """After a failed rebuild for a new key, the old entry still fails the new key's check."""
    cache = EngineCache(tmp_path)
    entry = _get(cache, Builder())

    def failing(staging: Path) -> None:
        raise RuntimeError("no")

    new_key = {**KEY, "gpu_name": "other"}
    with pytest.raises(RuntimeError):
        _get(cache, failing, new_key)  # type: ignore[arg-type]
    assert not entry_matches(entry, "x.engine", new_key)


_SLOW_BUILD = """
import os, sys, time
from pathlib import Path
from edge_llm_ros.engine_cache import EngineCache
root, marker, key = sys.argv[1], sys.argv[2], {"k": 1}

def build(staging):
    with open(marker, "a") as f:
        f.write(f"start {os.getpid()}\\n")
    time.sleep(0.5)
    (staging / "x.engine").write_bytes(b"plan")
    with open(marker, "a") as f:
        f.write(f"end {os.getpid()}\\n")

EngineCache(Path(root)).get_or_build("m", key, "x.engine", build, what="t", log=print)
"""


def test_the_lock_makes_concurrent_processes_build_once(tmp_path: Path) -> None:
    """Two processes asking at once: one builds, the other waits and then hits the cache."""
    marker = tmp_path / "builds.txt"
    procs = [subprocess.Popen([sys.executable, "-c", _SLOW_BUILD, str(tmp_path / "c"),
                               str(marker)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert marker.read_text().split()[0::2] == ["start", "end"]  # one build, not two
    assert sum("cache hit" in out for out in outs) == 1


def test_entry_names_and_devices() -> None:
    for bad in ("", ".hidden", "a/b"):
        with pytest.raises(ValueError):
            EngineCache(Path("/tmp")).entry(bad)
    assert [device_index(d) for d in (0, "1", "cuda", "cuda:2", "")] == [0, 1, 0, 2, 0]


def test_sha256_file_streams(tmp_path: Path) -> None:
    import hashlib

    blob = os.urandom(3 << 20)
    (tmp_path / "f").write_bytes(blob)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(blob).hexdigest()
