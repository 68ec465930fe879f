"""Link bandwidth and round-trip time to the remote planner, from echoed probes and real
request timings, smoothed.

An empty probe (the heartbeat) measures the bare round trip. A probe of S bytes whose echo
comes back empty takes longer by the time S bytes need on the uplink, so
S * 8 / (rtt(S) - rtt(0)) samples the uplink bandwidth the vehicle can actually get,
queueing behind its own traffic included. Real PlanRequests give the same kind of sample
once the remote's compute time (reported in the plan) is taken out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_llm_ros.params.specs import default_of

MIN_TRANSFER_S = 0.0005  # below this a transfer time is noise, not a bandwidth sample
MAX_BANDWIDTH_BPS = 10e9


@dataclass(frozen=True)
class LinkConfig:
    rtt_gain: float = 0.125  # EWMA gain of the smoothed RTT (RFC 6298's alpha)
    rtt_var_gain: float = 0.25  # EWMA gain of the RTT variation (RFC 6298's beta)
    bandwidth_gain: float = 0.3  # EWMA gain of the bandwidth estimate
    base_rtt_window: int = 16  # the bare RTT is the minimum of this many recent heartbeats
    # a sized probe should take about this long to upload (offload_manager's parameter)
    probe_target_s: float = default_of("offload_manager", "probe_target_ms") / 1e3
    probe_min_bytes: int = 1024
    probe_max_bytes: int = default_of("offload_manager", "probe_max_bytes")
    # an echo later than this counts as a lost probe
    probe_timeout_s: float = max(2.0, default_of("offload_manager", "liveliness_timeout_s"))
    loss_gain: float = 0.1

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LinkConfig:
        """From an offload_manager node's parameters."""
        return cls(probe_target_s=float(params["probe_target_ms"]) / 1e3,
                   probe_max_bytes=int(params["probe_max_bytes"]),
                   probe_timeout_s=max(2.0, float(params["liveliness_timeout_s"])))


@dataclass(frozen=True)
class LinkEstimate:
    rtt_ms: float  # smoothed round trip, NaN until the first echo
    rtt_var_ms: float
    base_rtt_ms: float  # recent minimum of the bare round trip
    bandwidth_bps: float  # smoothed uplink bandwidth, NaN until the first sized sample
    loss_fraction: float  # smoothed share of probes never echoed
    samples: int  # bandwidth samples taken

    @property
    def known(self) -> bool:
        return math.isfinite(self.rtt_ms) and math.isfinite(self.bandwidth_bps)


class LinkEstimator:
    """Not thread-safe: the node calls it from one executor thread."""

    def __init__(self, config: LinkConfig = LinkConfig()) -> None:
        self.config = config
        self._outstanding: dict[int, tuple[int, int]] = {}  # sequence -> (bytes, sent ns)
        self._bare_rtts: deque[float] = deque(maxlen=config.base_rtt_window)
        self._srtt_ms = math.nan
        self._rttvar_ms = math.nan
        self._seconds_per_bit = math.nan  # smoothed inverse: one fast outlier cannot dominate
        self._loss = 0.0
        self._samples = 0
        self.probes_lost = 0
        self.last_echo_ns: int | None = None

    # ------------------------------------------------------------ probes
    def next_probe_bytes(self) -> int:
        """Probe size for the next bandwidth sample: about probe_target_s at the estimate."""
        c = self.config
        bandwidth = self.bandwidth_bps
        if not math.isfinite(bandwidth):
            return c.probe_min_bytes
        size = int(bandwidth * c.probe_target_s / 8.0)
        return max(c.probe_min_bytes, min(c.probe_max_bytes, size))

    def probe_sent(self, sequence: int, payload_bytes: int, sent_ns: int) -> None:
        self._outstanding[sequence] = (payload_bytes, sent_ns)

    def echo_received(self, sequence: int, now_ns: int) -> float | None:
        """Take one echo; returns its round trip in ms, or None for an unknown/expired one."""
        entry = self._outstanding.pop(sequence, None)
        if entry is None:
            return None
        payload_bytes, sent_ns = entry
        rtt_ms = (now_ns - sent_ns) / 1e6
        if rtt_ms < 0:
            return None
        self.last_echo_ns = now_ns
        self._loss += self.config.loss_gain * (0.0 - self._loss)
        if payload_bytes == 0:
            self._bare_rtts.append(rtt_ms)
            self._update_rtt(rtt_ms)
        else:
            self._bandwidth_sample(payload_bytes, (rtt_ms - self.base_rtt_ms) / 1e3)
        return rtt_ms

    def expire(self, now_ns: int) -> int:
        """Count probes whose echo is overdue as lost; returns how many were."""
        timeout_ns = int(self.config.probe_timeout_s * 1e9)
        lost = [s for s, (_, sent) in self._outstanding.items() if now_ns - sent > timeout_ns]
        for sequence in lost:
            del self._outstanding[sequence]
            self._loss += self.config.loss_gain * (1.0 - self._loss)
        self.probes_lost += len(lost)
        return len(lost)

    # ------------------------------------------------------------ real requests
    def request_timing(self, upload_bytes: int, round_trip_ms: float,
                       remote_compute_ms: float) -> None:
        """A plan came back: its round trip less remote compute and the bare RTT is upload
        time (the answer is small next to the request)."""
        if not (math.isfinite(round_trip_ms) and math.isfinite(remote_compute_ms)):
            return
        if remote_compute_ms < 0 or remote_compute_ms >= round_trip_ms:
            return  # a compute time the round trip cannot contain: the remote's word is wrong
        transfer_s = (round_trip_ms - max(remote_compute_ms, 0.0) - self.base_rtt_ms) / 1e3
        self._bandwidth_sample(upload_bytes, transfer_s)

    # ------------------------------------------------------------ estimates
    @property
    def base_rtt_ms(self) -> float:
        return min(self._bare_rtts) if self._bare_rtts else (
            self._srtt_ms if math.isfinite(self._srtt_ms) else 0.0)

    @property
    def bandwidth_bps(self) -> float:
        return 1.0 / self._seconds_per_bit if math.isfinite(self._seconds_per_bit) else math.nan

    def estimate(self) -> LinkEstimate:
        return LinkEstimate(rtt_ms=self._srtt_ms, rtt_var_ms=self._rttvar_ms,
                            base_rtt_ms=self.base_rtt_ms if self._bare_rtts else math.nan,
                            bandwidth_bps=self.bandwidth_bps, loss_fraction=self._loss,
                            samples=self._samples)

    def _update_rtt(self, rtt_ms: float) -> None:
        c = self.config
        if not math.isfinite(self._srtt_ms):
            self._srtt_ms, self._rttvar_ms = rtt_ms, rtt_ms / 2.0
            return
        self._rttvar_ms += c.rtt_var_gain * (abs(self._srtt_ms - rtt_ms) - self._rttvar_ms)
        self._srtt_ms += c.rtt_gain * (rtt_ms - self._srtt_ms)

    def _bandwidth_sample(self, payload_bytes: int, transfer_s: float) -> None:
        if payload_bytes <= 0:
            return
        # A transfer faster than the clock can tell only says "at least this fast".
        sample = min(payload_bytes * 8.0 / max(transfer_s, MIN_TRANSFER_S), MAX_BANDWIDTH_BPS)
        self._samples += 1
        inverse = 1.0 / sample
        if not math.isfinite(self._seconds_per_bit):
            self._seconds_per_bit = inverse
        else:
            self._seconds_per_bit += self.config.bandwidth_gain * (inverse - self._seconds_per_bit)
