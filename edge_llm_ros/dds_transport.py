"""Non-blocking DDS sends, so a saturated link can never stall a node's executor.

Fast DDS sends UDP datagrams from the publishing thread on a blocking socket by default.
When the uplink to the remote planner is saturated, its queue (a modem's buffer, a qdisc)
holds the socket's send buffer full and every publish of the process -- scenes, decisions,
heartbeats -- waits for the link to drain: measured in the network-namespace lab, an 8 kbit/s
uplink froze the vehicle's executor for 23 s. With non-blocking sends a datagram that does
not fit is dropped instead: best-effort data is lost as it would be on the link anyway,
reliable data is resent, and the link estimator sees the loss.

``with_non_blocking_sends`` makes that the default through FASTDDS_BUILTIN_TRANSPORTS
(Fast DDS >= 2.14: ``MODE?non_blocking=true``); a value the user set is kept, with
``non_blocking=true`` added unless it already says ``non_blocking``. XML profiles that
define their own transports set ``<non_blocking_send>`` themselves (config/dds/).
Plain Python: no rclpy.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

ENV_VAR = "FASTDDS_BUILTIN_TRANSPORTS"
DEFAULT_MODE = "DEFAULT"  # shared memory on one host, UDPv4 between hosts
OPTION = "non_blocking=true"


def with_non_blocking_sends(value: str | None) -> str:
    """The FASTDDS_BUILTIN_TRANSPORTS value to use instead of `value` (None: unset)."""
    text = (value or "").strip()
    if not text:
        return f"{DEFAULT_MODE}?{OPTION}"
    mode, sep, options = text.partition("?")
    if "non_blocking=" in options:
        return text  # the user chose, either way
    if not sep or not options:
        return f"{mode}?{OPTION}"
    return f"{text}&{OPTION}"


def ensure_non_blocking_sends(env: MutableMapping[str, str] | None = None) -> str:
    """Set FASTDDS_BUILTIN_TRANSPORTS in `env` (default: this process's environment, before
    its first DDS participant) and return the value set."""
    target = os.environ if env is None else env
    value = with_non_blocking_sends(target.get(ENV_VAR))
    target[ENV_VAR] = value
    return value
