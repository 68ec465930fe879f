"""The benchmark runs and reports what `edge-llm-ros bench perception` prints."""

from __future__ import annotations

from edge_llm_ros.tools.bench.fusion import TARGET_MS, benchmark_fusion


def test_benchmark_reports_steady_state_with_50_tracks() -> None:
    r = benchmark_fusion(n_frames=40)
    assert r["n_objects"] == 50 and r["n_frames"] == 35
    assert r["tracked_objects_median"] == 50
    assert 0.0 < r["frame_ms_median"] <= r["frame_ms_p99"] <= r["frame_ms_max"]
    assert r["target_ms"] == TARGET_MS
    # Loose bound: the CPU is shared with other work; the real figure is ~1 ms.
    assert r["frame_ms_median"] < 4 * TARGET_MS
    assert r["stats"]["tracks_created"] == 50  # no id churn in a steady scene
    assert sum(r["rejected"].values()) == 0
