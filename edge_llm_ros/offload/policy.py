"""When to ask the remote planner, and with what payload.

A request is worth sending only if its answer can be back before the planning deadline:
RTT + upload + remote compute + download must fit, with a margin. Two thresholds
(enable below one share of the deadline, disable above a larger one) and a dwell time
before re-enabling keep a noisy estimate from flapping; a dead remote disables at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_llm_ros.offload.link import LinkEstimate
from edge_llm_ros.params.specs import default_of


def _d(name: str) -> Any:
    return default_of("offload_manager", name)


TIER_SUMMARY_ONLY = 0  # PlanRequest.TIER_SUMMARY_ONLY
TIER_SUMMARY_AND_KEYFRAME = 1  # PlanRequest.TIER_SUMMARY_AND_KEYFRAME


@dataclass(frozen=True)
class OffloadConfig:
    """Defaults: the offload_manager node's parameters (declared once, in its spec)."""

    planning_deadline_ms: float = _d("planning_deadline_ms")
    enable_fraction: float = _d("enable_fraction")  # start offloading when the estimate fits
    disable_fraction: float = _d("disable_fraction")  # stop once it no longer fits this share
    reenable_dwell_s: float = _d("reenable_dwell_s")  # after stopping, wait this long at least
    keyframe_enable_bps: float = _d("keyframe_enable_bps")  # keyframe above this bandwidth...
    keyframe_disable_bps: float = _d("keyframe_disable_bps")  # ...dropped again below this
    remote_compute_guess_ms: float = _d("remote_compute_guess_ms")  # until plans report theirs
    compute_gain: float = 0.3  # EWMA gain of the remote compute time

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> OffloadConfig:
        """From an offload_manager node's parameters."""
        names = ("planning_deadline_ms", "enable_fraction", "disable_fraction",
                 "reenable_dwell_s", "keyframe_enable_bps", "keyframe_disable_bps",
                 "remote_compute_guess_ms")
        return cls(**{name: float(params[name]) for name in names})

    def __post_init__(self) -> None:
        if not 0.0 < self.enable_fraction <= self.disable_fraction <= 1.0:
            raise ValueError("need 0 < enable_fraction <= disable_fraction <= 1, got "
                             f"{self.enable_fraction} and {self.disable_fraction}")
        if self.keyframe_disable_bps > self.keyframe_enable_bps:
            raise ValueError("keyframe_disable_bps must not exceed keyframe_enable_bps")
        if self.planning_deadline_ms <= 0:
            raise ValueError("planning_deadline_ms must be positive")


@dataclass(frozen=True)
class PayloadSizes:
    summary_bytes: int  # a summary-only PlanRequest, serialized
    keyframe_bytes: int  # what the compressed keyframe adds
    response_bytes: int  # a RemotePlan, serialized


@dataclass(frozen=True)
class OffloadState:
    enabled: bool
    tier: int
    estimated_ms: float  # round trip expected for the payload of `tier`
    reason: str  # why it is off (empty while on)


def estimate_round_trip_ms(link: LinkEstimate, upload_bytes: int, response_bytes: int,
                           remote_compute_ms: float) -> float:
    """RTT (plus its variation) + upload + remote compute + download, milliseconds."""
    if not link.known:
        return math.inf
    ms_per_byte = 8e3 / link.bandwidth_bps  # downlink taken as fast as the uplink
    rtt = link.rtt_ms + (link.rtt_var_ms if math.isfinite(link.rtt_var_ms) else 0.0)
    return rtt + (upload_bytes + response_bytes) * ms_per_byte + remote_compute_ms


class OffloadPolicy:
    def __init__(self, config: OffloadConfig = OffloadConfig()) -> None:
        self.config = config
        self.remote_compute_ms = config.remote_compute_guess_ms
        self._enabled = False
        self._tier = TIER_SUMMARY_ONLY
        self._disabled_at_s = -math.inf
        self.switches = 0  # times offload turned on or off

    def record_compute(self, remote_compute_ms: float) -> None:
        if math.isfinite(remote_compute_ms) and remote_compute_ms >= 0:
            self.remote_compute_ms += self.config.compute_gain * (
                remote_compute_ms - self.remote_compute_ms)

    def update(self, now_s: float, link: LinkEstimate, remote_alive: bool,
               sizes: PayloadSizes) -> OffloadState:
        c = self.config
        if link.known and link.bandwidth_bps >= c.keyframe_enable_bps:
            self._tier = TIER_SUMMARY_AND_KEYFRAME
        elif not link.known or link.bandwidth_bps < c.keyframe_disable_bps:
            self._tier = TIER_SUMMARY_ONLY
        upload = sizes.summary_bytes + (
            sizes.keyframe_bytes if self._tier == TIER_SUMMARY_AND_KEYFRAME else 0)
        estimate = estimate_round_trip_ms(link, upload, sizes.response_bytes,
                                          self.remote_compute_ms)
        if self._tier == TIER_SUMMARY_AND_KEYFRAME and estimate > c.enable_fraction * (
                c.planning_deadline_ms):
            # The keyframe is the first thing to go when it no longer fits.
            self._tier = TIER_SUMMARY_ONLY
            estimate = estimate_round_trip_ms(link, sizes.summary_bytes, sizes.response_bytes,
                                              self.remote_compute_ms)
        deadline = c.planning_deadline_ms
        reason = ""
        if not remote_alive:
            reason = "remote not answering heartbeats"
        elif not link.known:
            reason = "link not measured yet"
        elif self._enabled and estimate > c.disable_fraction * deadline:
            reason = (f"expected round trip {estimate:.0f} ms exceeds "
                      f"{c.disable_fraction:.0%} of the {deadline:.0f} ms planning deadline")
        elif not self._enabled and estimate > c.enable_fraction * deadline:
            reason = (f"expected round trip {estimate:.0f} ms exceeds "
                      f"{c.enable_fraction:.0%} of the {deadline:.0f} ms planning deadline")
        elif not self._enabled and now_s - self._disabled_at_s < c.reenable_dwell_s:
            reason = f"waiting {c.reenable_dwell_s:.1f} s after the last stop before resuming"
        enabled = not reason
        if enabled != self._enabled:
            self.switches += 1
            if not enabled:
                self._disabled_at_s = now_s
        self._enabled = enabled
        return OffloadState(enabled, self._tier if enabled else TIER_SUMMARY_ONLY, estimate,
                            reason)
