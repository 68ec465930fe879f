"""`edge-llm-ros bench reasoner`: latency, deadline hits, model share and decode efficiency.

All figures come from one run: the onboard path (quantized model, cached
static prefix, grammar, deadline watchdog) and the naive baseline (same tuned
model, fp32 transformers generate, no reuse, no grammar) on the same scenes.
Decode efficiency is measured against this machine's memory bandwidth: a
decode step reads every weight once, so bandwidth / weight bytes is the
ceiling on tokens per second.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from edge_llm_ros.reasoning.encoding import dynamic_text, encode_scene, static_prefix
from edge_llm_ros.reasoning.reasoner import Reasoner
from edge_llm_ros.tools.bench.reasoner_baseline import NaiveTransformersBaseline
from edge_llm_ros.tools.evaluation.reasoner import is_unsafe_miss
from edge_llm_ros.tools.training.reasoner_dataset import EVAL_FIRST_SEED, generate
from edge_llm_ros.types import SOURCE_FALLBACK_RULE

BENCH_FIRST_SEED = EVAL_FIRST_SEED + 500_000  # its own held-out scenes


def _pct(values: list[float], q: float) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return round(float(np.percentile(vals, q)), 2) if vals else float("nan")


def memory_read_bandwidth_gbps(threads: int = 2, size_mb: int = 256, repeats: int = 7) -> float:
    """Read bandwidth of main memory with `threads` readers (numpy sums release the GIL)
    over an array far larger than the caches."""
    from concurrent.futures import ThreadPoolExecutor

    a = np.ones(size_mb * (1 << 20) // 8, dtype=np.float64)
    chunks = np.array_split(a, threads)
    times = []
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sum, chunks))
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(pool.map(np.sum, chunks))
            times.append(time.perf_counter() - t0)
    return a.nbytes / statistics.median(times) / 1e9


def benchmark_reasoner(reasoner: Reasoner, scenes: int = 200, deadline_ms: float | None = None,
                       baseline: NaiveTransformersBaseline | None = None,
                       baseline_scenes: int = 30, unbounded_scenes: int = 50,
                       threads: int = 2, log: Callable[[str], None] = print) -> dict:
    # An operator instruction stays in force for many decisions: group scenes by it, so
    # the static prefix is recomputed only when it changes (as on the road).
    samples = sorted(generate(scenes, BENCH_FIRST_SEED), key=lambda s: s.instruction)
    deadline_ms = deadline_ms or reasoner.config.deadline_ms  # default: the reasoner's own
    backend = reasoner.backend
    if backend is None:
        raise ValueError("bench reasoner needs a model backend")
    reasoner.warm_up()

    # 1) As deployed: the real deadline.
    lat, settled, ttft, hits, model, agree, unsafe = [], [], [], 0, 0, 0, 0
    actions: list[str] = []
    for s in samples:
        reasoner.wait_idle()
        d = reasoner.decide(s.scene, s.instruction, s.remote, budget_ms=deadline_ms)
        lat.append(d.latency_ms)
        actions.append(d.action)
        settled.append(d.settled_ms)
        reasoner.wait_idle()
        st = reasoner.last_stats
        ttft.append(st.first_token_ms if st is not None else math.nan)
        hits += int(d.latency_ms <= deadline_ms)
        model += int(d.source != SOURCE_FALLBACK_RULE)
        agree += int(d.action == s.label.action)
        unsafe += int(is_unsafe_miss(s, d.action, d.target_speed_mps))
    n = len(samples)
    log(f"[bench] onboard: {n} scenes, latency p50 {_pct(lat, 50)} ms, model share "
        f"{model / n:.3f}")

    # 1b) Published as soon as the action is settled (publish_on_action).
    deployed_config = reasoner.config
    reasoner.config = dataclasses.replace(deployed_config, publish_on_action=True)
    early_lat, early_model = [], 0
    try:
        for s in samples:
            reasoner.wait_idle()
            d = reasoner.decide(s.scene, s.instruction, s.remote, budget_ms=deadline_ms)
            early_lat.append(d.latency_ms)
            early_model += int(d.source != SOURCE_FALLBACK_RULE)
    finally:
        reasoner.config = deployed_config
    log(f"[bench] publish on action: latency p50 {_pct(early_lat, 50)} ms")

    # 2) Whole answers, no deadline: decode speed.
    rates, gen_tokens = [], []
    for s in samples[:unbounded_scenes]:
        reasoner.wait_idle()
        reasoner.decide(s.scene, s.instruction, s.remote, budget_ms=30_000.0)
        reasoner.wait_idle()
        st = reasoner.last_stats
        if st is not None and not math.isnan(st.decode_tokens_per_s):
            rates.append(st.decode_tokens_per_s)
            gen_tokens.append(st.generated_tokens)
    bandwidth = memory_read_bandwidth_gbps(threads)
    weight_bytes = backend.weight_bytes_per_token
    decode_tps = statistics.median(rates) if rates else math.nan
    ceiling = bandwidth * 1e9 / weight_bytes if weight_bytes > 0 else math.nan
    onboard = {
        "backend": backend.name, "model": backend.model_id, "scenes": n,
        "deadline_ms": deadline_ms,
        "time_to_first_token_ms_p50": _pct(ttft, 50), "time_to_first_token_ms_p99": _pct(ttft, 99),
        "time_to_settled_action_ms_p50": _pct(settled, 50),
        "time_to_settled_action_ms_p99": _pct(settled, 99),
        "decision_latency_ms_p50": _pct(lat, 50), "decision_latency_ms_p99": _pct(lat, 99),
        "deadline_hit_rate": round(hits / n, 4), "model_settled_share": round(model / n, 4),
        "agreement": round(agree / n, 4), "unsafe_misses": unsafe,
        "decode_tokens_per_s": round(decode_tps, 1),
        "answer_tokens_median": statistics.median(gen_tokens) if gen_tokens else None,
        "weight_bytes_per_token": int(weight_bytes) if weight_bytes == weight_bytes else None,
        "memory_read_bandwidth_gbps": round(bandwidth, 2),
        "decode_share_of_bandwidth_ceiling": round(decode_tps / ceiling, 3),
    }
    onboard["publish_on_action"] = {
        "decision_latency_ms_p50": _pct(early_lat, 50),
        "decision_latency_ms_p99": _pct(early_lat, 99),
        "deadline_hit_rate": round(sum(1 for v in early_lat if v <= deadline_ms) / n, 4),
        "model_settled_share": round(early_model / n, 4),
    }
    out = {"onboard": onboard}

    # 3) The naive baseline on the first scenes of the same set.
    if baseline is not None:
        b_lat, b_ttft, b_rates, b_agree, b_unsafe, b_unparsed = [], [], [], 0, 0, 0
        b_actions: list[str | None] = []
        subset = samples[:baseline_scenes]
        for s in subset:
            fmt = baseline.prompt_format
            a = baseline.decide(static_prefix(s.instruction, s.intent, fmt),
                                dynamic_text(encode_scene(s.scene, s.scene.objects, fmt),
                                             s.remote))
            b_lat.append(a.latency_ms)
            b_actions.append(a.action)
            b_ttft.append(a.first_token_ms)
            if a.generated_tokens > 1 and a.latency_ms > a.first_token_ms:
                b_rates.append((a.generated_tokens - 1) / ((a.latency_ms - a.first_token_ms) / 1e3))
            b_unparsed += int(a.action is None)
            b_agree += int(a.action == s.label.action)
            b_unsafe += int(a.action is not None and is_unsafe_miss(s, a.action, 0.0))
        n_b = len(subset)
        onboard_same = lat[:n_b]
        params = sum(p.numel() for p in baseline.model.parameters())
        b_tps = statistics.median(b_rates) if b_rates else math.nan
        b_ceiling = bandwidth * 1e9 / (params * 4)
        out["baseline"] = {
            "what": "same model, fp32 transformers generate, no prefix reuse, "
                    "unconstrained, no deadline",
            "scenes": n_b,
            "time_to_first_token_ms_p50": _pct(b_ttft, 50),
            # Unconstrained text is only known to hold an action once it parses: at the end.
            "time_to_settled_action_ms_p50": _pct(b_lat, 50),
            "decision_latency_ms_p50": _pct(b_lat, 50), "decision_latency_ms_p99": _pct(b_lat, 99),
            "deadline_hit_rate": round(sum(1 for v in b_lat if v <= deadline_ms) / n_b, 4),
            "model_settled_share": round(sum(1 for v, a in zip(b_lat, b_actions, strict=True)
                                             if v <= deadline_ms and a is not None) / n_b, 4),
            "agreement": round(b_agree / n_b, 4), "unparsed_answers": b_unparsed,
            "unsafe_misses": b_unsafe, "decode_tokens_per_s": round(b_tps, 1),
            "weight_bytes_per_token": params * 4,
            "decode_share_of_bandwidth_ceiling": round(b_tps / b_ceiling, 3),
        }
        out["latency_ratio_baseline_over_onboard_p50"] = round(
            statistics.median(b_lat) / statistics.median(onboard_same), 1)
        out["latency_ratio_baseline_over_publish_on_action_p50"] = round(
            statistics.median(b_lat) / statistics.median(early_lat[:n_b]), 1)
        out["onboard_agreement_on_baseline_scenes"] = round(sum(
            1 for i, s in enumerate(subset) if actions[i] == s.label.action) / n_b, 4)
    return out
