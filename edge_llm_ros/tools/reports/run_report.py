"""What a user sees of a run, read back from its bag: how many decisions came by the
deadline and how many the model made, the end-to-end latency from the sensor stamp,
and each stage's latency over time, as figures and as a picture.

The same report serves `make demo`, a bag replayed through the on-board nodes and
`bench system`, so the figures a vehicle team quotes are computed one way.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_llm_ros.bag.reader import bag_typestore, iter_messages, open_bag
from edge_llm_ros.bag.types import build_typestore

DECISION_TOPIC = "/decision"
SCENE_TOPIC = "/scene/summary"
#: Decision.SOURCE_* -> name; the model decided both "model" and "remote_informed".
SOURCES = {0: "model", 1: "fallback", 2: "remote_informed"}
MODEL_SOURCES = ("model", "remote_informed")
#: The stages in data-flow order (a scene's stage_latencies, then the decision).
STAGE_ORDER = ("camera_detector", "lidar_detector", "scene_fusion", "reasoner")


@dataclass(frozen=True)
class DecisionSample:
    """One published decision and the timing of the scene it decided on."""

    stamp_ns: int  # sensor stamp of the scene
    latency_ms: float  # decision publish time minus the sensor stamp (Decision.latency_ms)
    deadline_ms: float
    source: str  # one of SOURCES' values
    action: str
    fallback_reason: str = ""
    # Stage output time minus the sensor stamp, for each stage the scene went through.
    stage_latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def on_time(self) -> bool:
        return self.latency_ms <= self.deadline_ms

    @property
    def by_model(self) -> bool:
        return self.source in MODEL_SOURCES


def _namespaced(topics: Iterable[str], suffix: str) -> str | None:
    """The bag topic that is `suffix` in any namespace (/car1/decision), or None."""
    matches = sorted(t for t in topics if t == suffix or t.endswith(suffix))
    return matches[0] if matches else None


def read_decisions(bag: str | Path) -> list[DecisionSample]:
    """Every Decision of a recorded run, joined with the SceneSummary it decided on
    (same header stamp). A bag without decisions gives an empty list."""
    info = open_bag(bag)
    decision_topic = _namespaced(info.topic_names, DECISION_TOPIC)
    if decision_topic is None:
        return []
    scene_topic = _namespaced(info.topic_names, SCENE_TOPIC)
    typestore = bag_typestore(bag, build_typestore())
    topics = [decision_topic] + ([scene_topic] if scene_topic else [])
    stages_by_stamp: dict[int, dict[str, float]] = {}
    decisions: list[Any] = []
    for message in iter_messages(bag, topics):
        msg = typestore.deserialize_cdr(message.rawdata, message.msgtype)
        stamp_ns = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
        if message.topic == decision_topic:
            decisions.append((stamp_ns, msg))
        else:
            stages_by_stamp[stamp_ns] = {
                s.stage: float(s.pipeline_latency_ms) for s in msg.stage_latencies
                if math.isfinite(float(s.pipeline_latency_ms))
            }
    samples = []
    for stamp_ns, msg in decisions:
        stages = dict(stages_by_stamp.get(stamp_ns, {}))
        stages["reasoner"] = float(msg.latency_ms)
        samples.append(DecisionSample(
            stamp_ns=stamp_ns, latency_ms=float(msg.latency_ms),
            deadline_ms=float(msg.deadline_ms), source=SOURCES.get(int(msg.source), "unknown"),
            action=str(msg.action_name), fallback_reason=str(msg.fallback_reason),
            stage_latency_ms=stages))
    return samples


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan}
    array = np.asarray(values, dtype=float)
    return {"p50": round(float(np.percentile(array, 50)), 1),
            "p99": round(float(np.percentile(array, 99)), 1),
            "max": round(float(array.max()), 1)}


def summarize(samples: Sequence[DecisionSample]) -> dict[str, Any]:
    """The figures: decisions, e2e latency p50/p99/max, share by the deadline, share
    decided by the model (and remote-informed), fallback reasons, and each stage's
    latency from the sensor stamp."""
    n = len(samples)
    share = (lambda k: round(k / n, 4)) if n else (lambda k: math.nan)
    stages: dict[str, list[float]] = {}
    for s in samples:
        for stage, latency in s.stage_latency_ms.items():
            stages.setdefault(stage, []).append(latency)
    ordered = sorted(stages, key=lambda st: (STAGE_ORDER.index(st) if st in STAGE_ORDER
                                             else len(STAGE_ORDER), st))
    reasons = Counter(s.fallback_reason.split(":")[0] for s in samples
                      if s.source == "fallback" and s.fallback_reason)
    return {
        "decisions": n,
        "e2e_latency_ms": _percentiles([s.latency_ms for s in samples]),
        "deadline_ms": samples[0].deadline_ms if samples else math.nan,
        "by_deadline_share": share(sum(s.on_time for s in samples)),
        "model_share": share(sum(s.by_model for s in samples)),
        "remote_informed_share": share(sum(s.source == "remote_informed" for s in samples)),
        "fallback_share": share(sum(s.source == "fallback" for s in samples)),
        "fallback_reasons": dict(reasons.most_common(5)),
        "stage_latency_ms": {st: _percentiles(stages[st]) for st in ordered},
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    e2e = summary["e2e_latency_ms"]
    lines = [
        f"decisions {summary['decisions']}: {100 * summary['by_deadline_share']:.1f} % by the "
        f"{summary['deadline_ms']:.0f} ms deadline, {100 * summary['model_share']:.1f} % decided "
        f"by the model ({100 * summary['remote_informed_share']:.1f} % remote-informed), "
        f"{100 * summary['fallback_share']:.1f} % by the fallback",
        f"e2e sensor -> decision: p50 {e2e['p50']} ms, p99 {e2e['p99']} ms, max {e2e['max']} ms",
        "latency from the sensor stamp by stage (p50 / p99 ms): " + ", ".join(
            f"{stage} {v['p50']} / {v['p99']}"
            for stage, v in summary["stage_latency_ms"].items()),
    ]
    if summary["fallback_reasons"]:
        lines.append("fallback reasons: " + ", ".join(
            f"{reason} ({count})" for reason, count in summary["fallback_reasons"].items()))
    return "\n".join(lines)


_SOURCE_COLOURS = {"model": "#2b8a3e", "remote_informed": "#1c7ed6", "fallback": "#e8590c",
                   "unknown": "#868e96"}


def plot_run(samples: Sequence[DecisionSample], out_png: str | Path, title: str = "") -> Path:
    """Each stage's latency over time against the deadline, and who decided each frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    fig, (ax, strip) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True,
                                    gridspec_kw={"height_ratios": [5, 1]})
    if samples:
        t0 = min(s.stamp_ns for s in samples)
        t_s = np.array([(s.stamp_ns - t0) / 1e9 for s in samples])
        stages = summarize(samples)["stage_latency_ms"]
        for stage in stages:
            if stage == "reasoner":
                continue
            pts = [(t, s.stage_latency_ms[stage]) for t, s in zip(t_s, samples, strict=True)
                   if stage in s.stage_latency_ms]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, lw=0.9, label=f"{stage} output")
        for source, colour in _SOURCE_COLOURS.items():
            mask = np.array([s.source == source for s in samples])
            if mask.any():
                ax.scatter(t_s[mask], np.array([s.latency_ms for s in samples])[mask], s=9,
                           color=colour, label=f"decision ({source})", zorder=3)
                strip.scatter(t_s[mask], np.zeros(int(mask.sum())), marker="|", s=300,
                              color=colour)
        ax.axhline(samples[0].deadline_ms, color="#c92a2a", ls="--", lw=1.2,
                   label=f"deadline {samples[0].deadline_ms:.0f} ms")
    ax.set_ylabel("ms after the sensor stamp")
    ax.set_title(title or "latency from the sensor stamp, per stage and per decision")
    ax.legend(loc="upper right", fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    strip.set_yticks([])
    strip.set_ylabel("decided by", rotation=0, ha="right", va="center")
    strip.set_xlabel("sensor time, s from the first decision")
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
