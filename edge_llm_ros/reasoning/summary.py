"""The end-of-run summary of decisions that the pipeline prints."""

from __future__ import annotations

from collections import Counter

import numpy as np

from edge_llm_ros.types import SOURCE_FALLBACK_RULE, SOURCE_NAMES


def summarize_decisions(log: list[tuple[str, int, float]], deadline_ms: float) -> str:
    if not log:
        return "[reasoner] no decisions"
    n = len(log)
    lat = np.array([x[2] for x in log])
    sources = Counter(SOURCE_NAMES[x[1]] for x in log)
    model = sum(1 for x in log if x[1] != SOURCE_FALLBACK_RULE)
    actions = Counter(x[0] for x in log)
    return (f"[reasoner] {n} decisions: model {model} ({model / n:.0%}), "
            + ", ".join(f"{k} {v}" for k, v in sorted(sources.items()))
            + f"; latency p50 {np.percentile(lat, 50):.0f} ms, p99 {np.percentile(lat, 99):.0f}"
            f" ms; by the {deadline_ms:.0f} ms deadline {np.mean(lat <= deadline_ms):.0%}; "
            + "actions " + ", ".join(f"{k} {v}" for k, v in actions.most_common()))
