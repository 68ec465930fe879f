"""Offload only when the answer can come back in time, with hysteresis; payload by
bandwidth; a dead remote stops offload at once."""

from __future__ import annotations

import math

import pytest

from edge_llm_ros.offload.link import LinkEstimate
from edge_llm_ros.offload.policy import (
    TIER_SUMMARY_AND_KEYFRAME,
    TIER_SUMMARY_ONLY,
    OffloadConfig,
    OffloadPolicy,
    PayloadSizes,
    estimate_round_trip_ms,
)

SIZES = PayloadSizes(summary_bytes=1_000, keyframe_bytes=40_000, response_bytes=400)


def link(bandwidth_bps: float, rtt_ms: float = 20.0) -> LinkEstimate:
    return LinkEstimate(rtt_ms=rtt_ms, rtt_var_ms=0.0, base_rtt_ms=rtt_ms,
                        bandwidth_bps=bandwidth_bps, loss_fraction=0.0, samples=5)


def policy(**kw: float) -> OffloadPolicy:
    cfg = dict(planning_deadline_ms=1000.0, remote_compute_guess_ms=300.0,
               reenable_dwell_s=2.0)
    cfg.update(kw)
    return OffloadPolicy(OffloadConfig(**cfg))


def test_round_trip_estimate_adds_rtt_transfer_and_compute() -> None:
    # 20 ms + (1000 + 400) B * 8 / 1 Mbit/s = 11.2 ms + 300 ms
    assert estimate_round_trip_ms(link(1e6), 1000, 400, 300.0) == pytest.approx(331.2)
    unknown = LinkEstimate(math.nan, math.nan, math.nan, math.nan, 0.0, 0)
    assert estimate_round_trip_ms(unknown, 1000, 400, 300.0) == math.inf


def test_fast_link_offloads_with_keyframe_slow_link_without() -> None:
    p = policy()
    s = p.update(0.0, link(100e6), True, SIZES)
    assert s.enabled and s.tier == TIER_SUMMARY_AND_KEYFRAME
    p = policy()
    s = p.update(0.0, link(2e6), True, SIZES)
    assert s.enabled and s.tier == TIER_SUMMARY_ONLY


def test_too_slow_link_dead_remote_and_unmeasured_link_do_not_offload() -> None:
    s = policy().update(0.0, link(256e3, rtt_ms=600.0), True, SIZES)
    assert not s.enabled and "exceeds" in s.reason
    s = policy().update(0.0, link(100e6), False, SIZES)
    assert not s.enabled and "heartbeat" in s.reason
    unknown = LinkEstimate(math.nan, math.nan, math.nan, math.nan, 0.0, 0)
    assert not policy().update(0.0, unknown, True, SIZES).enabled


def test_hysteresis_keeps_a_borderline_link_from_flapping() -> None:
    p = policy()
    assert p.update(0.0, link(1e6, rtt_ms=300.0), True, SIZES).enabled  # ~611 ms < 700
    # An estimate between the two thresholds keeps the state it is in...
    for t in range(1, 20):
        assert p.update(t * 0.1, link(1e6, rtt_ms=300.0 + 150.0 * (t % 2)), True,
                        SIZES).enabled
    # ...until it passes the disable threshold; then it waits the dwell to come back.
    assert not p.update(3.0, link(1e6, rtt_ms=700.0), True, SIZES).enabled
    assert not p.update(4.0, link(1e6, rtt_ms=300.0), True, SIZES).enabled
    assert "waiting" in p.update(4.5, link(1e6, rtt_ms=300.0), True, SIZES).reason
    assert p.update(5.1, link(1e6, rtt_ms=300.0), True, SIZES).enabled
    assert p.switches == 3


def test_keyframe_tier_has_its_own_hysteresis_and_goes_first() -> None:
    p = policy()
    assert p.update(0.0, link(10e6), True, SIZES).tier == TIER_SUMMARY_AND_KEYFRAME
    assert p.update(0.1, link(6e6), True, SIZES).tier == TIER_SUMMARY_AND_KEYFRAME
    assert p.update(0.2, link(3e6), True, SIZES).tier == TIER_SUMMARY_ONLY
    assert p.update(0.3, link(6e6), True, SIZES).tier == TIER_SUMMARY_ONLY
    # A keyframe that would not fit the deadline is dropped even on a "fast" link.
    big = PayloadSizes(1_000, 2_000_000, 400)
    s = policy().update(0.0, link(10e6), True, big)
    assert s.enabled and s.tier == TIER_SUMMARY_ONLY


def test_remote_compute_estimate_follows_reported_times() -> None:
    p = policy()
    for _ in range(20):
        p.record_compute(900.0)
    p.record_compute(math.nan)
    assert p.remote_compute_ms == pytest.approx(900.0, rel=0.01)
    assert not p.update(0.0, link(100e6), True, SIZES).enabled  # 900 > 0.7 * 1000


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="enable_fraction"):
        OffloadConfig(enable_fraction=0.95, disable_fraction=0.9)
    with pytest.raises(ValueError, match="keyframe"):
        OffloadConfig(keyframe_enable_bps=1e6, keyframe_disable_bps=2e6)
