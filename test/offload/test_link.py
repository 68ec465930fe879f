"""Link estimates from probe timings: bare RTT from heartbeats, uplink bandwidth from the
extra time of sized probes, losses from echoes that never come."""

from __future__ import annotations

import math

import pytest

from edge_llm_ros.offload.link import LinkConfig, LinkEstimator

MS = 1_000_000


def _exchange(est: LinkEstimator, seq: int, size: int, t_ns: int, rtt_ms: float,
              bandwidth_bps: float) -> int:
    """One probe over a link of this RTT and uplink bandwidth; returns the echo time."""
    est.probe_sent(seq, size, t_ns)
    echo = t_ns + int(rtt_ms * MS + size * 8 / bandwidth_bps * 1e9)
    est.echo_received(seq, echo)
    return echo


@pytest.mark.parametrize("bandwidth_bps", [256e3, 1e6, 10e6, 100e6])
def test_bandwidth_and_rtt_converge_to_the_link(bandwidth_bps: float) -> None:
    est = LinkEstimator()
    t = 0
    for seq in range(1, 60, 2):
        t = _exchange(est, seq, 0, t + 100 * MS, 40.0, bandwidth_bps)
        t = _exchange(est, seq + 1, est.next_probe_bytes(), t + 100 * MS, 40.0, bandwidth_bps)
    e = est.estimate()
    assert e.known
    assert e.rtt_ms == pytest.approx(40.0, rel=0.01)
    assert e.bandwidth_bps == pytest.approx(bandwidth_bps, rel=0.05)
    # Probes are sized to take about the target time at the estimate (within the clamps).
    expected = bandwidth_bps * LinkConfig().probe_target_s / 8
    assert est.next_probe_bytes() == pytest.approx(
        min(max(expected, LinkConfig().probe_min_bytes), LinkConfig().probe_max_bytes), rel=0.1)


def test_a_bandwidth_drop_is_followed_within_a_few_probes() -> None:
    est = LinkEstimator()
    t = 0
    for seq in range(1, 40, 2):
        t = _exchange(est, seq, 0, t + 100 * MS, 20.0, 10e6)
        t = _exchange(est, seq + 1, est.next_probe_bytes(), t + 100 * MS, 20.0, 10e6)
    samples = 0
    for seq in range(100, 140, 2):
        t = _exchange(est, seq, 0, t + 100 * MS, 20.0, 500e3)
        t = _exchange(est, seq + 1, est.next_probe_bytes(), t + 100 * MS, 20.0, 500e3)
        samples += 1
        if est.estimate().bandwidth_bps < 1e6:
            break
    assert samples <= 6, f"needed {samples} probes to see the drop"


def test_lost_probes_are_counted_and_unknown_echoes_ignored() -> None:
    est = LinkEstimator(LinkConfig(probe_timeout_s=1.0))
    est.probe_sent(1, 0, 0)
    est.probe_sent(2, 0, 10 * MS)
    assert est.echo_received(2, 30 * MS) == pytest.approx(20.0)
    assert est.echo_received(99, 40 * MS) is None  # never sent
    assert est.echo_received(2, 50 * MS) is None  # duplicate
    assert est.expire(2000 * MS) == 1
    assert est.probes_lost == 1
    assert est.estimate().loss_fraction > 0


def test_request_timings_refine_bandwidth_and_garbage_is_ignored() -> None:
    est = LinkEstimator()
    est.probe_sent(1, 0, 0)
    est.echo_received(1, 50 * MS)
    assert math.isnan(est.estimate().bandwidth_bps)
    # 10 kB up in 50 ms RTT + 80 ms transfer + 300 ms compute: 1 Mbit/s.
    est.request_timing(10_000, 430.0, 300.0)
    assert est.estimate().bandwidth_bps == pytest.approx(1e6, rel=0.01)
    est.request_timing(10_000, math.nan, 300.0)
    est.request_timing(10_000, 430.0, math.inf)
    # A remote claiming more compute than the whole round trip is not believed.
    est.request_timing(10_000, 430.0, 500.0)
    est.request_timing(10_000, 430.0, -5.0)
    assert est.estimate().samples == 1
