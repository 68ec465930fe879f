"""Named link profiles and the token-bucket (tbf) parameters that realise their rate."""

from __future__ import annotations

import math
from dataclasses import dataclass

# The largest frame a 1500-byte MTU veth carries (Ethernet header included): tbf drops any
# packet longer than its burst, so the bucket always holds at least one.
MAX_FRAME_BYTES = 1514
# The largest UDP datagram (65535 B) leaves as 45 IP fragments of at most 1514 B on the wire.
# The queue always holds one whole such datagram: DDS sends 64 KB datagrams in one burst, and
# a queue shorter than that would lose a fragment of every one, so large samples could never
# cross even an idle link; a real link's buffer takes such a burst.
MAX_DATAGRAM_WIRE_BYTES = 45 * MAX_FRAME_BYTES
# Beyond that, the queue holds about this much time at the link's rate, so a saturated link
# drops rather than queues for seconds.
QUEUE_S = 0.1
# tbf must refill at least one burst per timer tick; HZ is 250 on Debian kernels (4 ms).
BURST_S = 0.004


@dataclass(frozen=True)
class LinkProfile:
    """One link condition: rate, round-trip delay and random loss, the same in both directions."""

    name: str
    rate_bps: float | None  # None = unshaped
    rtt_ms: float  # round-trip delay added by the relay (half each way)
    loss: float = 0.0  # random loss probability per packet, each direction, 0..1

    def __post_init__(self) -> None:
        if self.rate_bps is not None and not self.rate_bps >= 8e3:
            raise ValueError(f"{self.name}: rate_bps must be >= 8000 or None, not {self.rate_bps}")
        if not (self.rtt_ms >= 0 and math.isfinite(self.rtt_ms)):
            raise ValueError(f"{self.name}: rtt_ms must be finite and >= 0, not {self.rtt_ms}")
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"{self.name}: loss must be in 0..1, not {self.loss}")

    @property
    def one_way_delay_ms(self) -> float:
        return self.rtt_ms / 2.0


PROFILES: dict[str, LinkProfile] = {
    p.name: p
    for p in (
        LinkProfile("unshaped", None, 0.0),
        LinkProfile("100mbit_20ms", 100e6, 20.0),
        LinkProfile("10mbit_50ms", 10e6, 50.0),
        LinkProfile("1mbit_100ms", 1e6, 100.0),
        LinkProfile("256kbit_300ms_5pct_loss", 256e3, 300.0, 0.05),
    )
}


def tbf_parameters(rate_bps: float) -> dict[str, int]:
    """Bucket size (`burst`) and queue size (`limit`) in bytes for a tbf at `rate_bps`."""
    rate_bytes_s = rate_bps / 8.0
    burst = max(math.ceil(rate_bytes_s * BURST_S), MAX_FRAME_BYTES + 86)
    queue = max(math.ceil(rate_bytes_s * QUEUE_S), MAX_DATAGRAM_WIRE_BYTES)
    return {"rate_bit": round(rate_bps), "burst": burst, "limit": queue + burst}
